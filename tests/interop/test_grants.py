"""KMS grants through boto3: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
RevokeGrant round-trip, grants authorize another account's use of a key, and each wrong input
raises the modeled error. Expectations come from the AWS KMS API reference ("Grants in AWS KMS").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from keystead_harness import KeysteadServer

OWNER = "111122223333"
OTHER = "444455556666"
RETIRER = "777788889999"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
RETIRER_ROOT = f"arn:aws:iam::{RETIRER}:root"
GRANT_ID_RE = re.compile(r"^[0-9a-f]{64}$")
UNKNOWN_GRANT_ID = "0" * 64


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """A --dev server: a 12-digit access key id names the caller's account."""
    base = tmp_path_factory.mktemp("keystead-grants")
    s = KeysteadServer(base / "data", base / "logs", dev=True).start()
    yield s
    code = s.stop()
    assert code == 0, f"keystead exited with {code}\n{s.stderr()[-4000:]}"
    assert "panicked" not in s.stderr(), s.stderr()[-4000:]


@pytest.fixture(scope="module")
def owner(dev):
    return dev.client(access_key_id=OWNER, secret_access_key="x")


@pytest.fixture(scope="module")
def other(dev):
    return dev.client(access_key_id=OTHER, secret_access_key="x")


@pytest.fixture(scope="module")
def retirer(dev):
    return dev.client(access_key_id=RETIRER, secret_access_key="x")


def denied():
    """AccessDeniedException is not in KMS's model, so boto3 raises a plain ClientError."""
    return pytest.raises(ClientError, match="AccessDeniedException")


def new_key(kms) -> dict:
    return kms.create_key()["KeyMetadata"]


def test_create_list_retire_and_revoke_round_trip(owner):
    key = new_key(owner)
    created = owner.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=OTHER_ROOT,
        RetiringPrincipal=RETIRER_ROOT,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"tenant": "a"}},
        Name="app-grant",
    )
    assert GRANT_ID_RE.match(created["GrantId"]), created
    assert created["GrantToken"]

    grants = owner.list_grants(KeyId=key["Arn"])
    assert grants["Truncated"] is False
    [entry] = grants["Grants"]
    assert entry["KeyId"] == key["Arn"]
    assert entry["GrantId"] == created["GrantId"]
    assert entry["Name"] == "app-grant"
    assert entry["GranteePrincipal"] == OTHER_ROOT
    assert entry["RetiringPrincipal"] == RETIRER_ROOT
    assert entry["IssuingAccount"] == f"arn:aws:iam::{OWNER}:root"
    assert sorted(entry["Operations"]) == ["Decrypt", "Encrypt"]
    assert entry["Constraints"] == {"EncryptionContextSubset": {"tenant": "a"}}
    now = datetime.now(timezone.utc)
    assert now - timedelta(minutes=5) <= entry["CreationDate"] <= now + timedelta(minutes=5)

    retirable = owner.list_retirable_grants(RetiringPrincipal=RETIRER_ROOT)["Grants"]
    assert [g["GrantId"] for g in retirable] == [created["GrantId"]]

    owner.retire_grant(GrantToken=created["GrantToken"])
    assert owner.list_grants(KeyId=key["KeyId"])["Grants"] == []

    second = owner.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=OTHER_ROOT, Operations=["DescribeKey"]
    )
    only = owner.list_grants(KeyId=key["KeyId"], GrantId=second["GrantId"])["Grants"]
    assert [g["GrantId"] for g in only] == [second["GrantId"]]
    assert "Constraints" not in only[0]
    owner.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    assert owner.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_list_grants_pages_with_markers(owner):
    key = new_key(owner)
    ids = {
        owner.create_grant(KeyId=key["KeyId"], GranteePrincipal=OTHER_ROOT, Operations=["Encrypt"])[
            "GrantId"
        ]
        for _ in range(3)
    }
    first = owner.list_grants(KeyId=key["KeyId"], Limit=2)
    assert first["Truncated"] is True and len(first["Grants"]) == 2
    rest = owner.list_grants(KeyId=key["KeyId"], Limit=2, Marker=first["NextMarker"])
    assert rest["Truncated"] is False and len(rest["Grants"]) == 1
    assert {g["GrantId"] for g in first["Grants"] + rest["Grants"]} == ids
    by_grantee = owner.list_grants(KeyId=key["KeyId"], GranteePrincipal=RETIRER_ROOT)
    assert by_grantee["Grants"] == []


def test_the_same_name_and_parameters_return_the_same_grant(owner):
    key = new_key(owner)
    args = dict(KeyId=key["KeyId"], GranteePrincipal=OTHER_ROOT, Operations=["Encrypt"], Name="n")
    a = owner.create_grant(**args)
    b = owner.create_grant(**args)
    assert a["GrantId"] == b["GrantId"]
    c = owner.create_grant(**{**args, "Operations": ["Encrypt", "Decrypt"]})
    assert c["GrantId"] != a["GrantId"]
    assert len(owner.list_grants(KeyId=key["KeyId"])["Grants"]) == 2


def test_a_grant_lets_another_account_use_the_key_within_its_constraint(owner, other):
    key = new_key(owner)
    good = {"tenant": "a"}
    with denied():
        other.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=good)
    grant = owner.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=OTHER_ROOT,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextEquals": good},
    )
    blob = other.encrypt(KeyId=key["Arn"], Plaintext=b"shared", EncryptionContext=good)
    assert blob["KeyId"] == key["Arn"]
    plain = other.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=good)
    assert plain["Plaintext"] == b"shared"
    for wrong in [{}, {"tenant": "b"}, {"tenant": "a", "extra": "1"}]:
        with denied():
            other.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=wrong)
    with denied():
        other.describe_key(KeyId=key["Arn"])
    owner.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    with denied():
        other.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=good)


def test_the_retiring_principal_may_retire_and_others_may_not(owner, other, retirer):
    key = new_key(owner)
    grant = owner.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=OTHER_ROOT,
        RetiringPrincipal=RETIRER_ROOT,
        Operations=["Encrypt"],
    )
    with denied():
        other.retire_grant(KeyId=key["Arn"], GrantId=grant["GrantId"])
    retirer.retire_grant(GrantToken=grant["GrantToken"])
    assert owner.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_modeled_errors(owner):
    key = new_key(owner)
    with pytest.raises(owner.exceptions.NotFoundException):
        owner.revoke_grant(KeyId=key["KeyId"], GrantId=UNKNOWN_GRANT_ID)
    with pytest.raises(owner.exceptions.InvalidGrantIdException):
        owner.revoke_grant(KeyId=key["KeyId"], GrantId="not-a-grant-id")
    with pytest.raises(owner.exceptions.NotFoundException):
        owner.retire_grant(KeyId=key["KeyId"], GrantId=UNKNOWN_GRANT_ID)
    with pytest.raises(owner.exceptions.InvalidGrantTokenException):
        owner.retire_grant(GrantToken="not-a-grant-token")
    with pytest.raises(owner.exceptions.NotFoundException):
        owner.create_grant(
            KeyId="1234abcd-12ab-34cd-56ef-1234567890ab",
            GranteePrincipal=OTHER_ROOT,
            Operations=["Encrypt"],
        )
    with pytest.raises(owner.exceptions.NotFoundException):
        owner.list_grants(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(ClientError) as err:
        owner.create_grant(
            KeyId=key["KeyId"],
            GranteePrincipal=OTHER_ROOT,
            Operations=["Decrypt", "DescribeKey"],
            Constraints={"EncryptionContextEquals": {"a": "b"}},
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(owner.exceptions.DryRunOperationException):
        owner.create_grant(
            KeyId=key["KeyId"], GranteePrincipal=OTHER_ROOT, Operations=["Encrypt"], DryRun=True
        )
    assert owner.list_grants(KeyId=key["KeyId"])["Grants"] == []
    owner.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(owner.exceptions.KMSInvalidStateException):
        owner.create_grant(KeyId=key["KeyId"], GranteePrincipal=OTHER_ROOT, Operations=["Encrypt"])


def test_grants_survive_a_restart(server_factory):
    s = server_factory(dev=True)
    owner = s.client(access_key_id=OWNER, secret_access_key="x")
    key = new_key(owner)
    grant = owner.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=OTHER_ROOT, Operations=["Encrypt"]
    )
    s.restart()
    owner = s.client(access_key_id=OWNER, secret_access_key="x")
    other = s.client(access_key_id=OTHER, secret_access_key="x")
    [entry] = owner.list_grants(KeyId=key["KeyId"])["Grants"]
    assert entry["GrantId"] == grant["GrantId"]
    other.encrypt(KeyId=key["Arn"], Plaintext=b"x")
