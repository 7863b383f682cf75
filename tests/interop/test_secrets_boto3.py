"""Secrets Manager through boto3's `secretsmanager` client: every operation keystead supports,
error classes for bad input, envelope encryption under customer and AWS-managed keys, and
replication to another region."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from keystead_harness import unique

SECRET_ARN_RE = r"^arn:aws:secretsmanager:{region}:{account}:secret:{name}-[A-Za-z0-9]{{6}}$"


@pytest.fixture(scope="module")
def sm(server):
    return server.client("secretsmanager")


@pytest.fixture(scope="module")
def sm_west(server):
    return server.client("secretsmanager", region="us-west-2")


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_create_get_describe_and_list(server, sm):
    name = unique("app/db")
    created = sm.create_secret(Name=name, SecretString='{"password":"p1"}', Description="d1")
    assert re.match(
        SECRET_ARN_RE.format(region="us-east-1", account=server.account_id, name=re.escape(name)),
        created["ARN"],
    )
    assert created["Name"] == name
    version = created["VersionId"]

    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == '{"password":"p1"}'
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["VersionId"] == version
    assert got["ARN"] == created["ARN"]
    # By full ARN and by partial ARN (without the suffix) too.
    assert sm.get_secret_value(SecretId=created["ARN"])["VersionId"] == version
    partial = f"arn:aws:secretsmanager:us-east-1:{server.account_id}:secret:{name}"
    assert sm.get_secret_value(SecretId=partial)["VersionId"] == version

    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "d1"
    assert described["VersionIdsToStages"] == {version: ["AWSCURRENT"]}
    assert "KmsKeyId" not in described
    assert described["RotationEnabled"] is False

    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert [s["Name"] for s in listed] == [name]
    assert listed[0]["SecretVersionsToStages"] == {version: ["AWSCURRENT"]}


def test_binary_secrets_round_trip(sm):
    name = unique("bin")
    sm.create_secret(Name=name, SecretBinary=b"\x00\x01binary\xff")
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == b"\x00\x01binary\xff"
    assert "SecretString" not in got


def test_put_secret_value_moves_labels_and_is_idempotent_by_token(sm):
    name = unique("rotating")
    first = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    token = str(uuid.uuid4())
    put = sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)
    assert put["VersionId"] == token
    assert put["VersionStages"] == ["AWSCURRENT"]
    # Same token and value: success, nothing new.
    again = sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)
    assert again["VersionId"] == token
    # Same token, other value: ResourceExistsException.
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId=name, SecretString="three", ClientRequestToken=token)
    assert code(e) == "ResourceExistsException"

    assert sm.get_secret_value(SecretId=name)["SecretString"] == "two"
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "one" and previous["VersionId"] == first
    assert sm.get_secret_value(SecretId=name, VersionId=first)["SecretString"] == "one"

    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {first: ["AWSPREVIOUS"], token: ["AWSCURRENT"]}

    # A pending version with a custom label, then moved to current by UpdateSecretVersionStage.
    pending = sm.put_secret_value(
        SecretId=name, SecretString="three", VersionStages=["AWSPENDING", "custom"]
    )["VersionId"]
    assert sm.get_secret_value(SecretId=name, VersionStage="custom")["SecretString"] == "three"
    with pytest.raises(ClientError) as e:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending
        )
    assert code(e) == "InvalidParameterException"
    sm.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending,
        RemoveFromVersionId=token,
    )
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "three"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["VersionId"] == token
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="custom", RemoveFromVersionId=pending
    )
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    by_id = {v["VersionId"]: v.get("VersionStages", []) for v in versions}
    assert by_id[first] == []
    assert sorted(by_id[pending]) == ["AWSCURRENT", "AWSPENDING"]
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert first not in {v["VersionId"] for v in listed}


def test_update_secret_changes_description_key_and_value(server, sm):
    kms = server.client()
    name = unique("upd")
    sm.create_secret(Name=name, SecretString="v1")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    out = sm.update_secret(SecretId=name, Description="new", KmsKeyId=key)
    assert "VersionId" not in out
    out = sm.update_secret(SecretId=name, SecretString="v2")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    d = sm.describe_secret(SecretId=name)
    assert d["Description"] == "new" and d["KmsKeyId"] == key
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    keys = {v["VersionId"]: v["KmsKeyIds"][0] for v in versions}
    assert keys[out["VersionId"]].endswith(key)
    # The old version, under aws/secretsmanager, stays readable.
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    aliases = kms.list_aliases()["Aliases"]
    assert any(a["AliasName"] == "alias/aws/secretsmanager" for a in aliases)


def test_disabled_key_fails_reads_and_enabling_restores_them(server, sm):
    kms = server.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    name = unique("guarded")
    sm.create_secret(Name=name, SecretString="v", KmsKeyId=key)
    kms.disable_key(KeyId=key)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert code(e) == "DecryptionFailure"
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId=name, SecretString="w")
    assert code(e) == "EncryptionFailure"
    kms.enable_key(KeyId=key)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_delete_restore_and_force_delete(sm):
    name = unique("del")
    sm.create_secret(Name=name, SecretString="v")
    for bad in (6, 31):
        with pytest.raises(ClientError) as e:
            sm.delete_secret(SecretId=name, RecoveryWindowInDays=bad)
        assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert code(e) == "InvalidParameterException"

    out = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert "DeletionDate" in out
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert code(e) == "InvalidRequestException"
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    names = [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert name not in names
    names = [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    assert name in names
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="again")
    assert code(e) == "InvalidRequestException"

    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as e:
        sm.describe_secret(SecretId=name)
    assert code(e) == "ResourceNotFoundException"


def test_bad_input_gets_aws_error_classes(sm):
    name = unique("bad")
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=unique("missing"))
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="s", SecretBinary=b"b")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="x" * 65537)
    assert code(e) in ("InvalidParameterException", "ValidationException")
    sm.create_secret(Name=name, SecretString="ok")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="ok")
    assert code(e) == "ResourceExistsException"
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name, VersionStage="NOPE")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name, VersionId=str(uuid.uuid4()))
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=unique("k"), SecretString="v", KmsKeyId="alias/does-not-exist")
    assert code(e) in ("InvalidParameterException", "EncryptionFailure")
    with pytest.raises(ClientError) as e:
        sm.list_secrets(NextToken="garbage")
    assert code(e) == "InvalidNextTokenException"


def test_list_secrets_filters_sorts_and_paginates(sm):
    prefix = unique("list")
    for i in range(5):
        sm.create_secret(
            Name=f"{prefix}/{i}",
            SecretString="v",
            Tags=[{"Key": "team", "Value": "blue" if i % 2 else "red"}],
        )
    f = [{"Key": "name", "Values": [prefix]}]
    asc = [s["Name"] for s in sm.list_secrets(Filters=f, SortOrder="asc")["SecretList"]]
    assert asc == [f"{prefix}/{i}" for i in range(5)]
    desc = [s["Name"] for s in sm.list_secrets(Filters=f, SortOrder="desc")["SecretList"]]
    assert desc == list(reversed(asc))
    page = sm.list_secrets(Filters=f, MaxResults=2)
    assert len(page["SecretList"]) == 2 and "NextToken" in page
    seen = [s["Name"] for s in page["SecretList"]]
    while "NextToken" in page:
        page = sm.list_secrets(Filters=f, MaxResults=2, NextToken=page["NextToken"])
        seen += [s["Name"] for s in page["SecretList"]]
    assert seen == asc
    blue = sm.list_secrets(Filters=f + [{"Key": "tag-value", "Values": ["blue"]}])["SecretList"]
    assert sorted(s["Name"] for s in blue) == [f"{prefix}/1", f"{prefix}/3"]
    not_blue = sm.list_secrets(Filters=f + [{"Key": "tag-value", "Values": ["!blue"]}])
    assert len(not_blue["SecretList"]) == 3


def test_batch_get_secret_value(sm):
    a, b = unique("ba"), unique("bb")
    sm.create_secret(Name=a, SecretString="A")
    sm.create_secret(Name=b, SecretString="B")
    out = sm.batch_get_secret_value(SecretIdList=[a, b, unique("missing")])
    assert sorted(v["SecretString"] for v in out["SecretValues"]) == ["A", "B"]
    assert [e["ErrorCode"] for e in out["Errors"]] == ["ResourceNotFoundException"]


def test_tags(sm):
    name = unique("tags")
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "a", "Value": "1"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {"a": "3", "b": "2"}
    sm.untag_resource(SecretId=name, TagKeys=["a"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_resource_policies(server, sm):
    name = unique("pol")
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                }
            ],
        }
    )
    ok = sm.validate_resource_policy(ResourcePolicy=policy)
    assert ok["PolicyValidationPassed"] is True
    bad = sm.validate_resource_policy(ResourcePolicy='{"Statement": 7}')
    assert bad["PolicyValidationPassed"] is False and bad["ValidationErrors"]
    with pytest.raises(ClientError) as e:
        sm.put_resource_policy(SecretId=name, ResourcePolicy="not json")
    assert code(e) == "MalformedPolicyDocumentException"
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy)
    got = sm.get_resource_policy(SecretId=name)
    assert got["ARN"] == arn and json.loads(got["ResourcePolicy"]) == json.loads(policy)
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)

    # A resource policy that denies the root user reading is enforced.
    deny = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "*",
                }
            ],
        }
    )
    sm.put_resource_policy(SecretId=name, ResourcePolicy=deny)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert code(e) == "AccessDeniedException"
    sm.delete_resource_policy(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_get_random_password(sm):
    p = sm.get_random_password(PasswordLength=40, ExcludePunctuation=True)["RandomPassword"]
    assert len(p) == 40 and p.isalnum()
    p = sm.get_random_password(ExcludeCharacters="abcdefghijklmnopqrstuvwxyz")["RandomPassword"]
    assert len(p) == 32 and not any(c.islower() for c in p)
    with pytest.raises(ClientError) as e:
        sm.get_random_password(PasswordLength=5000)
    assert code(e) in ("InvalidParameterException", "ValidationException")


def test_rotation_settings_are_stored(sm):
    name = unique("rot")
    sm.create_secret(Name=name, SecretString="v")
    sm.rotate_secret(
        SecretId=name,
        RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:rotator",
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    d = sm.describe_secret(SecretId=name)
    assert d["RotationEnabled"] is True
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert d["RotationLambdaARN"].endswith(":rotator")
    sm.cancel_rotate_secret(SecretId=name)
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False


def test_seed_secret_is_replicated_to_us_west_2(server, sm, sm_west):
    kms = server.client()
    key = kms.create_key(Description="secrets")["KeyMetadata"]["KeyId"]
    alias = f"alias/{unique('secrets-manager-encryption')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    name = unique("rds/contact-db/credentials")
    creds = json.dumps({"engine": "postgres", "username": "app", "password": "p1"})
    created = sm.create_secret(
        Name=name,
        SecretString=creds,
        KmsKeyId=alias,
        AddReplicaRegions=[{"Region": "us-west-2"}],
    )
    assert created["ReplicationStatus"][0]["Region"] == "us-west-2"
    assert created["ReplicationStatus"][0]["Status"] == "InSync"

    got = sm_west.get_secret_value(SecretId=name)
    assert got["SecretString"] == creds
    assert got["ARN"] == created["ARN"].replace(":us-east-1:", ":us-west-2:")
    replica = sm_west.describe_secret(SecretId=name)
    assert replica["PrimaryRegion"] == "us-east-1"

    # The replica follows new versions and label moves, and refuses writes.
    sm.put_secret_value(SecretId=name, SecretString="p2")
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "p2"
    assert sm_west.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == creds
    with pytest.raises(ClientError) as e:
        sm_west.put_secret_value(SecretId=name, SecretString="nope")
    assert code(e) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        sm_west.delete_secret(SecretId=name)
    assert code(e) == "InvalidRequestException"

    # A primary with replicas cannot be deleted; remove the region first.
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name)
    assert code(e) == "InvalidRequestException"
    out = sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["us-west-2"])
    assert "ReplicationStatus" not in out or out["ReplicationStatus"] == []
    with pytest.raises(ClientError) as e:
        sm_west.get_secret_value(SecretId=name)
    assert code(e) == "ResourceNotFoundException"


def test_replicate_later_failed_replica_recovers_and_stop_replication(server, sm, sm_west):
    kms_west = server.client(region="us-west-2")
    west_key = kms_west.create_key()["KeyMetadata"]["KeyId"]
    name = unique("repl")
    sm.create_secret(Name=name, SecretString="v1")
    out = sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": "us-west-2", "KmsKeyId": west_key}]
    )
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert out["ReplicationStatus"][0]["KmsKeyId"] == west_key
    versions = sm_west.list_secret_version_ids(SecretId=name)["Versions"]
    assert versions[0]["KmsKeyIds"][0].endswith(west_key)

    # The replica's key is disabled: the primary still takes writes, the replica reports Failed.
    kms_west.disable_key(KeyId=west_key)
    sm.put_secret_value(SecretId=name, SecretString="v2")
    status = sm.describe_secret(SecretId=name)["ReplicationStatus"][0]
    assert status["Status"] == "Failed" and status["StatusMessage"]
    # Enabled again, the next write brings it back in sync.
    kms_west.enable_key(KeyId=west_key)
    sm.put_secret_value(SecretId=name, SecretString="v3")
    assert sm.describe_secret(SecretId=name)["ReplicationStatus"][0]["Status"] == "InSync"
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "v3"

    promoted = sm_west.stop_replication_to_replica(SecretId=name)
    assert ":us-west-2:" in promoted["ARN"]
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)
    sm_west.put_secret_value(SecretId=name, SecretString="standalone")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"


DAY = 86400


def test_secrets_survive_a_restart(own_server):
    sm = own_server.client("secretsmanager")
    name = unique("durable")
    sm.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": "us-west-2"}])
    sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSCURRENT", "x"])
    before = sm.describe_secret(SecretId=name)
    own_server.restart()
    sm = own_server.client("secretsmanager")
    after = sm.describe_secret(SecretId=name)
    for field in ("ARN", "VersionIdsToStages", "ReplicationStatus"):
        assert after[field] == before[field], field
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    west = own_server.client("secretsmanager", region="us-west-2")
    assert west.get_secret_value(SecretId=name, VersionStage="x")["SecretString"] == "v2"


def test_the_worker_purges_a_secret_after_its_recovery_window(own_server):
    sm = own_server.client("secretsmanager")
    name = unique("purge")
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    own_server.set_clock(6 * DAY)
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    own_server.set_clock(8 * DAY)
    with pytest.raises(ClientError) as e:
        sm.describe_secret(SecretId=name)
    assert code(e) == "ResourceNotFoundException"
    # The name is free again.
    sm.create_secret(Name=name, SecretString="new")


def test_the_worker_retries_a_failed_replica_once_its_key_is_enabled(own_server):
    sm = own_server.client("secretsmanager")
    kms_west = own_server.client(region="us-west-2")
    west_key = kms_west.create_key()["KeyMetadata"]["KeyId"]
    kms_west.disable_key(KeyId=west_key)
    name = unique("retry")
    created = sm.create_secret(
        Name=name,
        SecretString="v1",
        AddReplicaRegions=[{"Region": "us-west-2", "KmsKeyId": west_key}],
    )
    assert created["ReplicationStatus"][0]["Status"] == "Failed"
    kms_west.enable_key(KeyId=west_key)
    own_server.set_clock(60)
    assert sm.describe_secret(SecretId=name)["ReplicationStatus"][0]["Status"] == "InSync"
    west = own_server.client("secretsmanager", region="us-west-2")
    assert west.get_secret_value(SecretId=name)["SecretString"] == "v1"


def _allow(action, resource="*", effect="Allow"):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
        }
    )


def test_iam_users_need_secretsmanager_and_kms_permissions_as_in_aws(server, sm):
    iam = server.client("iam")
    kms = server.client()
    name = unique("smuser")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    user_sm = server.client("secretsmanager", **creds)
    user_kms = server.client("kms", **creds)

    default_secret = unique("default-key")
    sm.create_secret(Name=default_secret, SecretString="d")
    cmk = kms.create_key()["KeyMetadata"]["Arn"]
    cmk_secret = unique("cmk")
    sm.create_secret(Name=cmk_secret, SecretString="c", KmsKeyId=cmk)

    with pytest.raises(ClientError) as e:
        user_sm.get_secret_value(SecretId=default_secret)
    assert code(e) == "AccessDeniedException"

    iam.put_user_policy(
        UserName=name, PolicyName="sm", PolicyDocument=_allow("secretsmanager:GetSecretValue")
    )
    # The AWS-managed key lets every principal of the account use it through Secrets Manager.
    assert user_sm.get_secret_value(SecretId=default_secret)["SecretString"] == "d"
    # ... but not directly.
    with pytest.raises(ClientError) as e:
        user_kms.describe_key(KeyId="alias/aws/secretsmanager")
    assert code(e) == "AccessDeniedException"
    # A customer key also needs kms:Decrypt in the user's own policies.
    with pytest.raises(ClientError) as e:
        user_sm.get_secret_value(SecretId=cmk_secret)
    assert code(e) == "AccessDeniedException"
    iam.put_user_policy(UserName=name, PolicyName="kms", PolicyDocument=_allow("kms:Decrypt", cmk))
    assert user_sm.get_secret_value(SecretId=cmk_secret)["SecretString"] == "c"
    # An explicit deny on the secret wins.
    iam.put_user_policy(
        UserName=name,
        PolicyName="deny",
        PolicyDocument=_allow("secretsmanager:GetSecretValue", "*", "Deny"),
    )
    with pytest.raises(ClientError) as e:
        user_sm.get_secret_value(SecretId=cmk_secret)
    assert code(e) == "AccessDeniedException"


def test_list_secrets_sorts_by_name(sm):
    prefix = unique("sortby")
    for n in ("b", "c", "a"):
        sm.create_secret(Name=f"{prefix}/{n}", SecretString="v")
    f = [{"Key": "name", "Values": [prefix]}]
    names = [s["Name"] for s in sm.list_secrets(Filters=f, SortBy="name")["SecretList"]]
    assert names == [f"{prefix}/a", f"{prefix}/b", f"{prefix}/c"]
    names = [
        s["Name"]
        for s in sm.list_secrets(Filters=f, SortBy="name", SortOrder="desc")["SecretList"]
    ]
    assert names == [f"{prefix}/c", f"{prefix}/b", f"{prefix}/a"]


def test_a_replica_region_with_a_secret_of_that_name_needs_force_overwrite(sm, sm_west):
    name = unique("clash")
    sm_west.create_secret(Name=name, SecretString="west original")
    out = sm.create_secret(Name=name, SecretString="p", AddReplicaRegions=[{"Region": "us-west-2"}])
    status = out["ReplicationStatus"][0]
    assert status["Status"] == "Failed" and "already exists" in status["StatusMessage"]
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "west original"
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=["us-west-2"])
    out = sm.replicate_secret_to_regions(
        SecretId=name,
        AddReplicaRegions=[{"Region": "us-west-2"}],
        ForceOverwriteReplicaSecret=True,
    )
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    assert sm_west.get_secret_value(SecretId=name)["SecretString"] == "p"
    assert sm_west.describe_secret(SecretId=name)["PrimaryRegion"] == "us-east-1"
