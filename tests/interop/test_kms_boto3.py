"""Every KMS operation keystead serves, round-tripped through boto3, and the modeled error each
wrong input must raise. Expectations come from the AWS KMS API reference and botocore's model,
not from keystead's implementation.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from keystead_harness import KEY_ID_RE, KeysteadServer, key_arn_re, unique

DAY = 86400


# --- helpers ----------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(timezone.utc)


def assert_recent(value: datetime, slack: timedelta = timedelta(minutes=5)) -> None:
    assert value.tzinfo is not None
    assert now() - slack <= value <= now() + slack, value


def create_key(kms, **kwargs) -> dict:
    return kms.create_key(**kwargs)["KeyMetadata"]


def root_policy(account: str, sid: str = "Enable IAM User Permissions") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def error_code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def assert_key_ref(value: str, server: KeysteadServer, key_id: str) -> None:
    """Where the API reference does not say whether a response names the key by id or by ARN."""
    assert value in (key_id, server.key_arn(key_id)), value


# --- keys -------------------------------------------------------------------------------------


def test_create_key_with_description_tags_and_policy_returns_full_metadata(server, kms):
    policy = root_policy(server.account_id, sid=unique("sid"))
    resp = kms.create_key(
        Description="RDS contact-db",
        Tags=[{"TagKey": "app", "TagValue": "contact-form"}, {"TagKey": "env", "TagValue": ""}],
        Policy=policy,
    )
    md = resp["KeyMetadata"]
    assert KEY_ID_RE.match(md["KeyId"])
    assert key_arn_re(server.account_id).match(md["Arn"])
    assert md["Arn"] == server.key_arn(md["KeyId"])
    assert md["AWSAccountId"] == server.account_id
    assert md["Description"] == "RDS contact-db"
    assert md["Enabled"] is True
    assert md["KeyState"] == "Enabled"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md.get("MultiRegion", False) is False
    assert "DeletionDate" not in md
    assert_recent(md["CreationDate"])

    tags = kms.list_resource_tags(KeyId=md["KeyId"])
    assert sorted(tags["Tags"], key=lambda t: t["TagKey"]) == [
        {"TagKey": "app", "TagValue": "contact-form"},
        {"TagKey": "env", "TagValue": ""},
    ]
    assert tags["Truncated"] is False
    got = kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")
    assert json.loads(got["Policy"]) == json.loads(policy)


def test_create_key_without_arguments_has_defaults_and_a_default_policy(server, kms):
    md = create_key(kms)
    assert md["Description"] == ""
    assert md["KeyState"] == "Enabled"
    policy = json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"])
    assert f"arn:aws:iam::{server.account_id}:root" in json.dumps(policy)
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == []


def test_describe_key_accepts_id_arn_alias_name_and_alias_arn(server, kms):
    md = create_key(kms, Description="describe me")
    alias = f"alias/{unique('describe')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    for ref in (md["KeyId"], md["Arn"], alias, server.alias_arn(alias)):
        got = kms.describe_key(KeyId=ref)["KeyMetadata"]
        assert got["KeyId"] == md["KeyId"], ref
        assert got["Arn"] == md["Arn"], ref
        assert got["Description"] == "describe me"
        assert got["CreationDate"] == md["CreationDate"]


def test_list_keys_paginates_with_limit_and_marker(server, kms):
    mine = {create_key(kms)["KeyId"] for _ in range(5)}
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs = {"Limit": 2}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_keys(**kwargs)
        pages += 1
        assert pages < 100
        for entry in page["Keys"]:
            assert entry["KeyArn"] == server.key_arn(entry["KeyId"])
        seen.extend(e["KeyId"] for e in page["Keys"])
        if page["Truncated"]:
            assert len(page["Keys"]) == 2
            marker = page["NextMarker"]
            assert marker
        else:
            assert "NextMarker" not in page
            break
    assert len(seen) == len(set(seen)), "a key was listed twice"
    assert mine <= set(seen)
    assert pages >= 3
    # Without a limit every key is on one page, and boto3's paginator sees the same set.
    everything = kms.list_keys(Limit=1000)
    assert everything["Truncated"] is False
    assert {e["KeyId"] for e in everything["Keys"]} == set(seen)
    paginated = [
        e["KeyId"]
        for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3})
        for e in p["Keys"]
    ]
    assert sorted(paginated) == sorted(seen)


def test_update_key_description_changes_the_description(kms):
    md = create_key(kms, Description="before")
    assert kms.update_key_description(KeyId=md["KeyId"], Description="after")
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == "after"
    kms.update_key_description(KeyId=md["Arn"], Description="")
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == ""


def test_disable_and_enable_key_move_between_states(kms):
    md = create_key(kms)
    kms.disable_key(KeyId=md["KeyId"])
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (got["KeyState"], got["Enabled"]) == ("Disabled", False)
    kms.disable_key(KeyId=md["Arn"])  # idempotent
    kms.enable_key(KeyId=md["Arn"])
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (got["KeyState"], got["Enabled"]) == ("Enabled", True)
    kms.enable_key(KeyId=md["KeyId"])  # idempotent


def test_schedule_and_cancel_key_deletion(server, kms):
    md = create_key(kms)
    before = now()
    resp = kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    assert resp["KeyId"] == md["Arn"]
    assert resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == 7
    assert before + timedelta(days=7) - timedelta(hours=1) <= resp["DeletionDate"]
    assert resp["DeletionDate"] <= now() + timedelta(days=8)
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert got["KeyState"] == "PendingDeletion"
    assert got["Enabled"] is False
    assert got["DeletionDate"] == resp["DeletionDate"]
    assert got.get("PendingDeletionWindowInDays") in (None, 7)

    cancelled = kms.cancel_key_deletion(KeyId=md["Arn"])
    assert cancelled["KeyId"] == md["Arn"]
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    # AWS: a key whose deletion is cancelled is Disabled, not Enabled.
    assert got["KeyState"] == "Disabled"
    assert got["Enabled"] is False
    assert "DeletionDate" not in got


def test_schedule_key_deletion_defaults_to_thirty_days(kms):
    md = create_key(kms)
    resp = kms.schedule_key_deletion(KeyId=md["KeyId"])
    assert resp["PendingWindowInDays"] == 30
    assert resp["DeletionDate"] >= now() + timedelta(days=29)
    kms.cancel_key_deletion(KeyId=md["KeyId"])


# --- cryptographic operations -----------------------------------------------------------------


def test_encrypt_and_decrypt_round_trip_with_and_without_key_id(server, kms):
    md = create_key(kms)
    alias = f"alias/{unique('crypt')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    plaintext = b"contact form row 42 \x00\xff"
    for ref in (md["KeyId"], md["Arn"], alias, server.alias_arn(alias)):
        enc = kms.encrypt(KeyId=ref, Plaintext=plaintext)
        assert enc["KeyId"] == md["Arn"], ref
        assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        assert plaintext not in enc["CiphertextBlob"]
        dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])
        assert dec["Plaintext"] == plaintext
        assert dec["KeyId"] == md["Arn"]
        assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        for key_ref in (md["KeyId"], md["Arn"], alias):
            dec = kms.decrypt(
                CiphertextBlob=enc["CiphertextBlob"],
                KeyId=key_ref,
                EncryptionAlgorithm="SYMMETRIC_DEFAULT",
            )
            assert dec["Plaintext"] == plaintext
    # Two encryptions of the same plaintext differ (random IV).
    a = kms.encrypt(KeyId=md["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    b = kms.encrypt(KeyId=md["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    assert a != b


def test_encrypt_and_decrypt_bind_the_encryption_context(kms):
    md = create_key(kms)
    context = {"aws:rds:db-id": "contact-db", "purpose": "test", "empty": ""}
    enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"secret row", EncryptionContext=context)
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=dict(context))
    assert dec["Plaintext"] == b"secret row"
    # Order of the pairs does not matter.
    reordered = dict(reversed(list(context.items())))
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=reordered)
    assert dec["Plaintext"] == b"secret row"


def test_encrypt_accepts_the_largest_plaintext(kms):
    md = create_key(kms)
    plaintext = os.urandom(4096)
    enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=plaintext)
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == plaintext


def test_re_encrypt_moves_a_ciphertext_to_another_key_and_context(kms):
    a = create_key(kms)
    b = create_key(kms)
    enc = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"move me", EncryptionContext={"k": "a"})
    moved = kms.re_encrypt(
        CiphertextBlob=enc["CiphertextBlob"],
        SourceEncryptionContext={"k": "a"},
        DestinationKeyId=b["KeyId"],
        DestinationEncryptionContext={"k": "b"},
    )
    assert moved["SourceKeyId"] == a["Arn"]
    assert moved["KeyId"] == b["Arn"]
    assert moved["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert moved["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"k": "b"})
    assert dec["Plaintext"] == b"move me"
    assert dec["KeyId"] == b["Arn"]
    # With SourceKeyId given, and back to the first key.
    back = kms.re_encrypt(
        CiphertextBlob=moved["CiphertextBlob"],
        SourceKeyId=b["Arn"],
        SourceEncryptionContext={"k": "b"},
        DestinationKeyId=a["Arn"],
    )
    assert back["SourceKeyId"] == b["Arn"]
    assert back["KeyId"] == a["Arn"]
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"move me"


def test_generate_data_key_with_key_spec_and_number_of_bytes(kms):
    md = create_key(kms)
    for kwargs, size in (
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 64}, 64),
        ({"NumberOfBytes": 1024}, 1024),
    ):
        out = kms.generate_data_key(KeyId=md["KeyId"], EncryptionContext={"f": "x"}, **kwargs)
        assert out["KeyId"] == md["Arn"]
        assert len(out["Plaintext"]) == size, kwargs
        if size >= 16:  # a short key can appear in any blob by chance
            assert out["Plaintext"] not in out["CiphertextBlob"]
        dec = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"f": "x"})
        assert dec["Plaintext"] == out["Plaintext"]
        assert dec["KeyId"] == md["Arn"]
    first = kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")["Plaintext"]
    second = kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert first != second


def test_generate_data_key_without_plaintext_returns_only_the_ciphertext(kms):
    md = create_key(kms)
    out = kms.generate_data_key_without_plaintext(
        KeyId=md["Arn"], KeySpec="AES_256", EncryptionContext={"bucket": "artifacts"}
    )
    assert "Plaintext" not in out
    assert out["KeyId"] == md["Arn"]
    dec = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"bucket": "artifacts"}
    )
    assert len(dec["Plaintext"]) == 32
    out = kms.generate_data_key_without_plaintext(KeyId=md["KeyId"], NumberOfBytes=16)
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 16


def test_generate_random_returns_the_requested_number_of_bytes(kms):
    for n in (1, 32, 1024):
        assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n
    assert (
        kms.generate_random(NumberOfBytes=32)["Plaintext"]
        != kms.generate_random(NumberOfBytes=32)["Plaintext"]
    )


# --- aliases ----------------------------------------------------------------------------------


def aliases_of(kms, key_id: str) -> list[dict]:
    return kms.list_aliases(KeyId=key_id)["Aliases"]


def test_create_update_delete_and_list_aliases(server, kms):
    a = create_key(kms)
    b = create_key(kms)
    name = f"alias/{unique('app')}"
    before = now()
    kms.create_alias(AliasName=name, TargetKeyId=a["Arn"])
    listed = aliases_of(kms, a["KeyId"])
    assert [x["AliasName"] for x in listed] == [name]
    entry = listed[0]
    assert entry["AliasArn"] == server.alias_arn(name)
    assert entry["TargetKeyId"] == a["KeyId"]
    assert_recent(entry["CreationDate"])
    assert entry["CreationDate"] >= before - timedelta(seconds=2)
    assert aliases_of(kms, b["KeyId"]) == []
    # The KeyId filter accepts the key ARN too.
    assert [x["AliasName"] for x in kms.list_aliases(KeyId=a["Arn"])["Aliases"]] == [name]
    all_aliases = kms.list_aliases()["Aliases"]
    assert name in {x["AliasName"] for x in all_aliases}

    kms.update_alias(AliasName=name, TargetKeyId=b["KeyId"])
    assert aliases_of(kms, a["KeyId"]) == []
    moved = aliases_of(kms, b["KeyId"])
    assert [x["AliasName"] for x in moved] == [name]
    assert moved[0]["TargetKeyId"] == b["KeyId"]
    assert moved[0]["LastUpdatedDate"] >= moved[0]["CreationDate"]
    enc = kms.encrypt(KeyId=name, Plaintext=b"x")
    assert enc["KeyId"] == b["Arn"]

    kms.delete_alias(AliasName=name)
    assert aliases_of(kms, b["KeyId"]) == []
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=name)
    # The name is free again.
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    assert [x["AliasName"] for x in aliases_of(kms, a["KeyId"])] == [name]


def test_a_key_can_have_several_aliases(kms):
    md = create_key(kms)
    names = sorted(f"alias/{unique('many')}" for _ in range(3))
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=md["KeyId"])
    assert sorted(x["AliasName"] for x in aliases_of(kms, md["KeyId"])) == names


def test_list_aliases_paginates(kms):
    md = create_key(kms)
    names = {f"alias/{unique('page')}" for _ in range(5)}
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=md["KeyId"])
    for key_filter in ({"KeyId": md["KeyId"]}, {}):
        seen: list[str] = []
        marker = None
        for _ in range(100):
            kwargs = dict(key_filter, Limit=2)
            if marker:
                kwargs["Marker"] = marker
            page = kms.list_aliases(**kwargs)
            assert len(page["Aliases"]) <= 2
            seen.extend(a["AliasName"] for a in page["Aliases"])
            if not page["Truncated"]:
                assert "NextMarker" not in page
                break
            marker = page["NextMarker"]
        assert len(seen) == len(set(seen)), "an alias was listed twice"
        if key_filter:
            assert set(seen) == names
        else:
            assert names <= set(seen)


# --- tags -------------------------------------------------------------------------------------


def test_tag_untag_and_list_resource_tags(kms):
    md = create_key(kms, Tags=[{"TagKey": "owner", "TagValue": "alice"}])
    kms.tag_resource(
        KeyId=md["KeyId"],
        Tags=[{"TagKey": "owner", "TagValue": "bob"}, {"TagKey": "cost", "TagValue": "42"}],
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=md["Arn"])["Tags"]}
    assert tags == {"owner": "bob", "cost": "42"}
    kms.untag_resource(KeyId=md["Arn"], TagKeys=["owner", "not-there"])
    tags = kms.list_resource_tags(KeyId=md["KeyId"])
    assert tags["Tags"] == [{"TagKey": "cost", "TagValue": "42"}]
    assert tags["Truncated"] is False


def test_list_resource_tags_paginates(kms):
    md = create_key(kms, Tags=[{"TagKey": f"k{i}", "TagValue": str(i)} for i in range(5)])
    seen = []
    marker = None
    for _ in range(20):
        kwargs = {"KeyId": md["KeyId"], "Limit": 2}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_resource_tags(**kwargs)
        seen.extend(t["TagKey"] for t in page["Tags"])
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert sorted(seen) == [f"k{i}" for i in range(5)]


# --- rotation ---------------------------------------------------------------------------------


def test_enable_get_and_disable_key_rotation(server, kms):
    md = create_key(kms)
    status = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert_key_ref(status["KeyId"], server, md["KeyId"])

    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=md["Arn"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    nxt = status["NextRotationDate"]
    assert now() + timedelta(days=89) <= nxt <= now() + timedelta(days=91), nxt

    kms.disable_key_rotation(KeyId=md["Arn"])
    status = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status

    # Without a period AWS uses 365 days.
    kms.enable_key_rotation(KeyId=md["KeyId"])
    status = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365


def test_rotate_key_on_demand_keeps_old_ciphertexts_decryptable(server, kms):
    md = create_key(kms)
    assert kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"] == []
    old = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"before rotation")["CiphertextBlob"]
    resp = kms.rotate_key_on_demand(KeyId=md["KeyId"])
    assert_key_ref(resp["KeyId"], server, md["KeyId"])
    new = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
    assert kms.decrypt(CiphertextBlob=old, KeyId=md["Arn"])["KeyId"] == md["Arn"]

    rotations = kms.list_key_rotations(KeyId=md["Arn"])
    assert rotations["Truncated"] is False
    assert len(rotations["Rotations"]) == 1
    entry = rotations["Rotations"][0]
    assert entry["RotationType"] == "ON_DEMAND"
    assert_key_ref(entry["KeyId"], server, md["KeyId"])
    assert_recent(entry["RotationDate"])
    # On-demand rotation does not turn on automatic rotation.
    assert kms.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is False


def test_the_eleventh_on_demand_rotation_exceeds_the_limit(kms):
    md = create_key(kms)
    ciphertexts = []
    for i in range(10):
        ciphertexts.append(kms.encrypt(KeyId=md["KeyId"], Plaintext=b"v%d" % i)["CiphertextBlob"])
        kms.rotate_key_on_demand(KeyId=md["KeyId"])
    with pytest.raises(kms.exceptions.LimitExceededException):
        kms.rotate_key_on_demand(KeyId=md["KeyId"])
    for i, ct in enumerate(ciphertexts):
        assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"v%d" % i
    # All ten rotations are listed, also page by page.
    seen = []
    marker = None
    for _ in range(20):
        kwargs = {"KeyId": md["KeyId"], "Limit": 3}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_key_rotations(**kwargs)
        assert len(page["Rotations"]) <= 3
        seen.extend(page["Rotations"])
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert len(seen) == 10
    assert {r["RotationType"] for r in seen} == {"ON_DEMAND"}


# --- key policies -----------------------------------------------------------------------------


def test_get_put_and_list_key_policies(server, kms):
    md = create_key(kms)
    assert kms.list_key_policies(KeyId=md["KeyId"])["PolicyNames"] == ["default"]
    listed = kms.list_key_policies(KeyId=md["Arn"])
    assert listed["Truncated"] is False

    policy = root_policy(server.account_id, sid=unique("put"))
    kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=policy)
    got = kms.get_key_policy(KeyId=md["Arn"], PolicyName="default")
    assert json.loads(got["Policy"]) == json.loads(policy)
    assert got.get("PolicyName", "default") == "default"
    # PolicyName is optional in the current API and means "default".
    policy2 = root_policy(server.account_id, sid=unique("put2"))
    kms.put_key_policy(KeyId=md["Arn"], Policy=policy2)
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"]) == json.loads(policy2)


def lockout_policy() -> str:
    """A valid policy that gives this account (the caller) no access at all."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def test_a_lockout_policy_is_accepted_with_the_bypass_flag(kms):
    md = kms.create_key(Policy=lockout_policy(), BypassPolicyLockoutSafetyCheck=True)
    assert md["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_policy_that_locks_the_caller_out_is_refused(kms):
    # AWS: "The key policy must allow the calling principal to make a subsequent PutKeyPolicy
    # request on the KMS key" unless BypassPolicyLockoutSafetyCheck is true.
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.create_key(Policy=lockout_policy())
    md = create_key(kms)
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=lockout_policy())


# --- regions ----------------------------------------------------------------------------------


def test_keys_live_per_region(server, kms):
    east = create_key(kms, Description="east")
    alias = f"alias/{unique('region')}"
    kms.create_alias(AliasName=alias, TargetKeyId=east["KeyId"])
    west = server.client(region="us-west-2")
    with pytest.raises(west.exceptions.NotFoundException):
        west.describe_key(KeyId=east["KeyId"])
    with pytest.raises(west.exceptions.NotFoundException):
        west.describe_key(KeyId=alias)
    with pytest.raises(west.exceptions.NotFoundException):
        west.encrypt(KeyId=east["KeyId"], Plaintext=b"x")
    assert east["KeyId"] not in {k["KeyId"] for k in west.list_keys()["Keys"]}

    w = west.create_key(Description="west")["KeyMetadata"]
    assert w["Arn"] == server.key_arn(w["KeyId"], region="us-west-2")
    # The same alias name is free in another region.
    west.create_alias(AliasName=alias, TargetKeyId=w["KeyId"])
    assert west.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == w["KeyId"]
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == east["KeyId"]
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=w["KeyId"])
    ct = west.encrypt(KeyId=w["KeyId"], Plaintext=b"west data")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=ct)["Plaintext"] == b"west data"


# --- errors: not found ------------------------------------------------------------------------


UNKNOWN_KEY = "00000000-1111-4222-8333-444444444444"


def test_unknown_key_id_is_not_found(server, kms):
    NotFound = kms.exceptions.NotFoundException
    for call in (
        lambda: kms.describe_key(KeyId=UNKNOWN_KEY),
        lambda: kms.describe_key(KeyId=server.key_arn(UNKNOWN_KEY)),
        lambda: kms.encrypt(KeyId=UNKNOWN_KEY, Plaintext=b"x"),
        lambda: kms.generate_data_key(KeyId=UNKNOWN_KEY, KeySpec="AES_256"),
        lambda: kms.enable_key(KeyId=UNKNOWN_KEY),
        lambda: kms.disable_key(KeyId=UNKNOWN_KEY),
        lambda: kms.schedule_key_deletion(KeyId=UNKNOWN_KEY),
        lambda: kms.update_key_description(KeyId=UNKNOWN_KEY, Description="x"),
        lambda: kms.list_resource_tags(KeyId=UNKNOWN_KEY),
        lambda: kms.tag_resource(KeyId=UNKNOWN_KEY, Tags=[{"TagKey": "a", "TagValue": "b"}]),
        lambda: kms.get_key_rotation_status(KeyId=UNKNOWN_KEY),
        lambda: kms.rotate_key_on_demand(KeyId=UNKNOWN_KEY),
        lambda: kms.get_key_policy(KeyId=UNKNOWN_KEY, PolicyName="default"),
        lambda: kms.list_aliases(KeyId=UNKNOWN_KEY),
        lambda: kms.create_alias(AliasName=f"alias/{unique('nf')}", TargetKeyId=UNKNOWN_KEY),
    ):
        with pytest.raises(NotFound) as exc:
            call()
        assert exc.value.response["Error"]["Message"]
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_alias_is_not_found(server, kms):
    NotFound = kms.exceptions.NotFoundException
    missing = f"alias/{unique('missing')}"
    for call in (
        lambda: kms.describe_key(KeyId=missing),
        lambda: kms.describe_key(KeyId=server.alias_arn(missing)),
        lambda: kms.encrypt(KeyId=missing, Plaintext=b"x"),
        lambda: kms.delete_alias(AliasName=missing),
        lambda: kms.update_alias(AliasName=missing, TargetKeyId=create_key(kms)["KeyId"]),
    ):
        with pytest.raises(NotFound):
            call()


def test_an_alias_where_only_a_key_id_is_allowed_is_not_found(kms):
    md = create_key(kms)
    alias = f"alias/{unique('only-key')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    NotFound = kms.exceptions.NotFoundException
    for call in (
        lambda: kms.enable_key(KeyId=alias),
        lambda: kms.disable_key(KeyId=alias),
        lambda: kms.schedule_key_deletion(KeyId=alias),
        lambda: kms.tag_resource(KeyId=alias, Tags=[{"TagKey": "a", "TagValue": "b"}]),
        lambda: kms.enable_key_rotation(KeyId=alias),
        lambda: kms.get_key_policy(KeyId=alias, PolicyName="default"),
    ):
        with pytest.raises(NotFound):
            call()
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_an_alias_cannot_target_another_alias(kms):
    md = create_key(kms)
    first = f"alias/{unique('first')}"
    kms.create_alias(AliasName=first, TargetKeyId=md["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=f"alias/{unique('second')}", TargetKeyId=first)
    assert error_code(exc) in ("NotFoundException", "ValidationException")


# --- errors: key states -----------------------------------------------------------------------


def test_a_disabled_key_cannot_be_used(kms):
    md = create_key(kms)
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=md["KeyId"])
    Disabled = kms.exceptions.DisabledException
    for call in (
        lambda: kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=ct),
        lambda: kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256"),
        lambda: kms.generate_data_key_without_plaintext(KeyId=md["KeyId"], KeySpec="AES_256"),
        lambda: kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=create_key(kms)["KeyId"]),
    ):
        with pytest.raises(Disabled):
            call()
    kms.enable_key(KeyId=md["KeyId"])
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"x"


def test_a_key_pending_deletion_is_in_an_invalid_state(kms):
    md = create_key(kms)
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    Invalid = kms.exceptions.KMSInvalidStateException
    for call in (
        lambda: kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=ct),
        lambda: kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256"),
        lambda: kms.enable_key(KeyId=md["KeyId"]),
        lambda: kms.disable_key(KeyId=md["KeyId"]),
        lambda: kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7),
        lambda: kms.rotate_key_on_demand(KeyId=md["KeyId"]),
        lambda: kms.enable_key_rotation(KeyId=md["KeyId"]),
        lambda: kms.update_key_description(KeyId=md["KeyId"], Description="x"),
        lambda: kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "a", "TagValue": "b"}]),
        lambda: kms.untag_resource(KeyId=md["KeyId"], TagKeys=["a"]),
        lambda: kms.create_alias(AliasName=f"alias/{unique('pending')}", TargetKeyId=md["KeyId"]),
    ):
        with pytest.raises(Invalid):
            call()
    # Still readable and cancellable.
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == []
    assert kms.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is False
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"])
    assert kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"] == []
    kms.cancel_key_deletion(KeyId=md["KeyId"])


def test_cancel_key_deletion_of_an_enabled_key_is_an_invalid_state(kms):
    md = create_key(kms)
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.cancel_key_deletion(KeyId=md["KeyId"])


# --- errors: ciphertexts ----------------------------------------------------------------------


def test_a_tampered_ciphertext_is_invalid(kms):
    md = create_key(kms)
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"tamper me")["CiphertextBlob"]
    Invalid = kms.exceptions.InvalidCiphertextException
    messages = set()
    for index in (0, 1, len(ct) // 2, len(ct) - 1):
        tampered = bytearray(ct)
        tampered[index] ^= 0x01
        with pytest.raises(Invalid) as exc:
            kms.decrypt(CiphertextBlob=bytes(tampered))
        messages.add(exc.value.response["Error"]["Message"])
    for blob in (ct[:-1], ct + b"\x00", ct[: len(ct) // 2]):
        with pytest.raises(Invalid) as exc:
            kms.decrypt(CiphertextBlob=blob)
        messages.add(exc.value.response["Error"]["Message"])
    # One message for every failure: nothing tells an attacker which check failed.
    assert len(messages) == 1, messages


def test_a_wrong_or_missing_encryption_context_is_invalid_ciphertext(kms):
    md = create_key(kms)
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"ctx", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    plain_ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"no ctx")["CiphertextBlob"]
    Invalid = kms.exceptions.InvalidCiphertextException
    for kwargs in (
        {"CiphertextBlob": ct, "EncryptionContext": {"a": "2"}},
        {"CiphertextBlob": ct, "EncryptionContext": {"b": "1"}},
        {"CiphertextBlob": ct, "EncryptionContext": {"a": "1", "b": "2"}},
        {"CiphertextBlob": ct},
        {"CiphertextBlob": plain_ct, "EncryptionContext": {"a": "1"}},
    ):
        with pytest.raises(Invalid):
            kms.decrypt(**kwargs)


def test_random_bytes_are_invalid_ciphertext(kms):
    for blob in (os.urandom(1), os.urandom(100), os.urandom(6144)):
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=blob)


def test_decrypt_with_another_key_id_is_incorrect_key(kms):
    a = create_key(kms)
    b = create_key(kms)
    ct = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(CiphertextBlob=ct, KeyId=b["KeyId"])
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(CiphertextBlob=ct, KeyId=b["Arn"])
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.re_encrypt(CiphertextBlob=ct, SourceKeyId=b["KeyId"], DestinationKeyId=a["KeyId"])


# --- errors: other modeled exceptions ---------------------------------------------------------


def test_a_duplicate_alias_already_exists(kms):
    a = create_key(kms)
    b = create_key(kms)
    name = f"alias/{unique('dup')}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    with pytest.raises(kms.exceptions.AlreadyExistsException):
        kms.create_alias(AliasName=name, TargetKeyId=b["KeyId"])
    with pytest.raises(kms.exceptions.AlreadyExistsException):
        kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    assert [x["AliasName"] for x in aliases_of(kms, a["KeyId"])] == [name]


def test_an_alias_name_without_the_alias_prefix_is_rejected(kms):
    md = create_key(kms)
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=unique("noprefix"), TargetKeyId=md["KeyId"])
    assert error_code(exc) in ("ValidationException", "InvalidAliasNameException")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    "policy",
    [
        "{not json",
        "[]",
        '{"Version": "2012-10-17"}',
        '{"Version": "2012-10-17", "Statement": "nope"}',
    ],
)
def test_a_malformed_policy_document_is_rejected(kms, policy):
    md = create_key(kms)
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=policy)
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.create_key(Policy=policy)


def test_an_aws_prefixed_tag_key_is_a_tag_exception(kms):
    md = create_key(kms)
    with pytest.raises(kms.exceptions.TagException):
        kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "aws:owner", "TagValue": "x"}])
    with pytest.raises(kms.exceptions.TagException):
        kms.create_key(Tags=[{"TagKey": "aws:owner", "TagValue": "x"}])
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == []


def test_a_bogus_marker_is_an_invalid_marker(kms):
    md = create_key(kms)
    Invalid = kms.exceptions.InvalidMarkerException
    for call in (
        lambda: kms.list_keys(Marker="bogus-marker"),
        lambda: kms.list_aliases(Marker="bogus-marker"),
        lambda: kms.list_resource_tags(KeyId=md["KeyId"], Marker="bogus-marker"),
        lambda: kms.list_key_rotations(KeyId=md["KeyId"], Marker="bogus-marker"),
    ):
        with pytest.raises(Invalid):
            call()


# --- errors: validation -----------------------------------------------------------------------


def test_botocore_refuses_invalid_parameters_before_sending(kms):
    for call in (
        lambda: kms.describe_key(),
        lambda: kms.describe_key(KeyId=""),
        lambda: kms.generate_random(NumberOfBytes=0),
        lambda: kms.enable_key_rotation(KeyId=UNKNOWN_KEY, RotationPeriodInDays=89),
        lambda: kms.list_keys(Limit=0),
        lambda: kms.encrypt(KeyId=UNKNOWN_KEY, Plaintext=5),
    ):
        with pytest.raises(ParamValidationError):
            call()


def test_the_server_validates_what_botocore_does_not(kms):
    md = create_key(kms)
    key = md["KeyId"]
    for name, call in (
        (
            "description too long",
            lambda: kms.update_key_description(KeyId=key, Description="d" * 8193),
        ),
        ("create description too long", lambda: kms.create_key(Description="d" * 8193)),
        ("limit above 1000", lambda: kms.list_keys(Limit=1001)),
        ("random above 1024", lambda: kms.generate_random(NumberOfBytes=1025)),
        ("data key above 1024", lambda: kms.generate_data_key(KeyId=key, NumberOfBytes=1025)),
        ("plaintext above 4096", lambda: kms.encrypt(KeyId=key, Plaintext=b"p" * 4097)),
        (
            "both key spec and number of bytes",
            lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256", NumberOfBytes=32),
        ),
        ("neither key spec nor number of bytes", lambda: kms.generate_data_key(KeyId=key)),
        (
            "rotation period above 2560",
            lambda: kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=2561),
        ),
        (
            "pending window below 7",
            lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=6),
        ),
        (
            "pending window above 30",
            lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=31),
        ),
        (
            "alias name too long",
            lambda: kms.create_alias(AliasName="alias/" + "a" * 251, TargetKeyId=key),
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "ValidationException", name
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, name
    # Nothing was changed by the refused calls.
    got = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert got["KeyState"] == "Enabled"
    assert got["Description"] == ""


# --- the clock: automatic rotation and scheduled deletion ------------------------------------


def test_automatic_rotation_happens_after_the_rotation_period(own_server):
    kms = own_server.client()
    md = create_key(kms)
    old = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"year one")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)

    # Not yet due.
    assert own_server.set_clock(30 * DAY)["rotated"] == 0
    assert kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"] == []

    moved = own_server.set_clock(91 * DAY)
    assert moved["rotated"] == 1
    rotations = kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    rotated_at = rotations[0]["RotationDate"]
    assert now() + timedelta(days=89) <= rotated_at <= now() + timedelta(days=92), rotated_at

    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"year one"
    new = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"year two")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"year two"
    status = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is True
    # The next rotation is about one period after this one, in the (moved) server time; a
    # schedule that stays anchored to the first due date (here a day earlier) is fine too.
    nxt = status["NextRotationDate"]
    assert rotated_at + timedelta(days=85) <= nxt <= rotated_at + timedelta(days=91), nxt

    # Running the workers again at the same time rotates nothing more.
    assert own_server.set_clock(91 * DAY)["rotated"] == 0
    assert len(kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"]) == 1


def test_scheduled_deletion_deletes_the_key_and_its_aliases_after_the_window(own_server):
    kms = own_server.client()
    doomed = create_key(kms)
    kept = create_key(kms)
    alias = f"alias/{unique('doomed')}"
    kms.create_alias(AliasName=alias, TargetKeyId=doomed["KeyId"])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)

    assert own_server.set_clock(6 * DAY)["deleted"] == 0
    assert kms.describe_key(KeyId=doomed["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"

    moved = own_server.set_clock(8 * DAY)
    assert moved["deleted"] == 1
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=doomed["KeyId"])
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=alias)
    assert alias not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert doomed["KeyId"] not in {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert kms.describe_key(KeyId=kept["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    # The alias name can be reused.
    kms.create_alias(AliasName=alias, TargetKeyId=kept["KeyId"])


# --- restart ----------------------------------------------------------------------------------


def test_everything_survives_a_restart(own_server):
    kms = own_server.client()
    policy = root_policy(own_server.account_id, sid=unique("restart"))
    md = create_key(
        kms,
        Description="survivor",
        Tags=[{"TagKey": "team", "TagValue": "infra"}],
        Policy=policy,
    )
    alias = f"alias/{unique('survivor')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=180)
    before_rotation = kms.encrypt(KeyId=alias, Plaintext=b"v1", EncryptionContext={"c": "1"})
    kms.rotate_key_on_demand(KeyId=md["KeyId"])
    after_rotation = kms.encrypt(KeyId=alias, Plaintext=b"v2")
    disabled = create_key(kms)
    kms.disable_key(KeyId=disabled["KeyId"])
    pending = create_key(kms)
    scheduled = kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=10)

    own_server.restart()
    kms = own_server.client()

    got = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert got["KeyId"] == md["KeyId"]
    assert got["Arn"] == md["Arn"]
    assert got["Description"] == "survivor"
    assert got["CreationDate"] == md["CreationDate"]
    assert got["KeyState"] == "Enabled"
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == [
        {"TagKey": "team", "TagValue": "infra"}
    ]
    status = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 180)
    assert [r["RotationType"] for r in kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"]] == [
        "ON_DEMAND"
    ]
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"]) == json.loads(policy)
    dec = kms.decrypt(
        CiphertextBlob=before_rotation["CiphertextBlob"], EncryptionContext={"c": "1"}
    )
    assert dec["Plaintext"] == b"v1"
    assert kms.decrypt(CiphertextBlob=after_rotation["CiphertextBlob"])["Plaintext"] == b"v2"
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=md["KeyId"])["Aliases"]] == [alias]
    assert kms.describe_key(KeyId=disabled["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    p = kms.describe_key(KeyId=pending["KeyId"])["KeyMetadata"]
    assert p["KeyState"] == "PendingDeletion"
    assert p["DeletionDate"] == scheduled["DeletionDate"]
    # New work after the restart.
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"v3")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"v3"
