"""IAM roles over the Query protocol with boto3: trust policies, inline role policies, and STS
sessions (AssumeRole, GetSessionToken) whose temporary credentials sign KMS and STS requests."""

import json
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from keystead_harness import DEFAULT_REGION, unique


def trust(account, condition=None, principal=None):
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": principal or f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def allow(action, resource="*"):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def session_client(server, service, creds, token=None):
    """A boto3 client signing with temporary credentials; `token` overrides the session token
    (`""` sends none)."""
    session_token = creds["SessionToken"] if token is None else (token or None)
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=session_token,
        region_name=DEFAULT_REGION,
    )
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return session.client(service, endpoint_url=server.url, config=config)


def test_roles_round_trip(server):
    iam = server.client("iam")
    name = unique("role")
    document = trust(server.account_id)
    created = iam.create_role(
        RoleName=name,
        Path="/svc/",
        AssumeRolePolicyDocument=document,
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "blue"}],
    )["Role"]
    assert created["RoleName"] == name
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:role/svc/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 20
    assert created["MaxSessionDuration"] == 7200
    assert created["AssumeRolePolicyDocument"] == json.loads(document)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["RoleId"] == created["RoleId"]
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/svc/")["Roles"]]
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)

    updated = trust(server.account_id, {"StringEquals": {"sts:ExternalId": "x"}})
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=updated)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(updated)

    iam.put_role_policy(RoleName=name, PolicyName="enc", PolicyDocument=allow("kms:Encrypt"))
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["enc"]
    assert iam.get_role_policy(RoleName=name, PolicyName="enc")["PolicyDocument"] == json.loads(
        allow("kms:Encrypt")
    )
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="enc")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_role_policy(RoleName=name, PolicyName="enc")
    iam.delete_role(RoleName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_role(RoleName=name)


def test_role_validation_errors(server):
    iam = server.client("iam")
    name = unique("bad")
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{not json")
    # A trust policy must name a principal.
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=allow("sts:AssumeRole"))
    assert (
        error_code(
            lambda: iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=trust(server.account_id),
                MaxSessionDuration=43201,
            )
        )
        == "ValidationError"
    )
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument="[]")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.put_role_policy(RoleName=unique("none"), PolicyName="p", PolicyDocument=allow("kms:*"))


def make_role(server, document=None, **kwargs):
    iam = server.client("iam")
    name = unique("role")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=document or trust(server.account_id),
        **kwargs,
    )["Role"]
    return iam, role


def test_an_assumed_role_is_denied_then_allowed_by_its_role_policy(server):
    iam, role = make_role(server)
    key_arn = server.client().create_key()["KeyMetadata"]["Arn"]
    sts = server.client("sts")
    before = time.time()
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build@1", DurationSeconds=900)
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert creds["SessionToken"]
    assert abs(creds["Expiration"].timestamp() - (before + 900)) < 30
    user = assumed["AssumedRoleUser"]
    arn = f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/build@1"
    assert user["Arn"] == arn
    assert user["AssumedRoleId"] == f"{role['RoleId']}:build@1"

    identity = session_client(server, "sts", creds).get_caller_identity()
    assert identity["Arn"] == arn
    assert identity["UserId"] == f"{role['RoleId']}:build@1"
    assert identity["Account"] == server.account_id

    kms = session_client(server, "kms", creds)
    assert error_code(lambda: kms.encrypt(KeyId=key_arn, Plaintext=b"x")) == "AccessDeniedException"
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="enc", PolicyDocument=allow("kms:Encrypt", key_arn))
    assert kms.encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"] == key_arn
    assert error_code(lambda: kms.decrypt(CiphertextBlob=b"\0" * 64)) in (
        "AccessDeniedException",
        "InvalidCiphertextException",
    )
    # IAM calls are decided by the role's policies too.
    assert error_code(lambda: session_client(server, "iam", creds).list_roles()) == "AccessDenied"


def test_session_tokens_are_required_and_checked(server):
    _, role = make_role(server)
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    for token in ["", creds["SessionToken"][:-1] + ("A" if creds["SessionToken"][-1] != "A" else "B")]:
        assert error_code(session_client(server, "sts", creds, token=token).get_caller_identity) == (
            "InvalidClientTokenId"
        )
        assert error_code(session_client(server, "kms", creds, token=token).list_keys) == (
            "UnrecognizedClientException"
        )
    # A permanent key presented with a session token is refused too.
    root = {**server_keys(server), "SessionToken": creds["SessionToken"]}
    assert error_code(session_client(server, "sts", root).get_caller_identity) == "InvalidClientTokenId"


def server_keys(server):
    return {"AccessKeyId": server.access_key_id, "SecretAccessKey": server.secret_access_key}


def test_external_id_is_enforced_by_the_trust_policy(server):
    document = trust(server.account_id, {"StringEquals": {"sts:ExternalId": "magic-123"}})
    _, role = make_role(server, document)
    sts = server.client("sts")
    assert error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0")) == "AccessDenied"
    assert (
        error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0", ExternalId="wrong-1"))
        == "AccessDenied"
    )
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0", ExternalId="magic-123")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")


def test_a_trust_policy_that_does_not_allow_the_caller_is_access_denied(server):
    other = "999988887777" if server.account_id != "999988887777" else "111122223333"
    _, role = make_role(server, trust(other))
    sts = server.client("sts")
    assert error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0")) == "AccessDenied"
    missing = role["Arn"] + "-missing"
    assert error_code(lambda: sts.assume_role(RoleArn=missing, RoleSessionName="s0")) == "AccessDenied"
    assert (
        error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0", DurationSeconds=7200))
        == "ValidationError"
    )
    assert error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad name!")) == (
        "ValidationError"
    )


def test_a_user_needs_an_identity_policy_when_the_trust_policy_names_the_account(server):
    iam, role = make_role(server)
    user = unique("assumer")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    user_sts = session_client(server, "sts", {**key, "SessionToken": None}, token="")
    assert error_code(lambda: user_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="u0")) == "AccessDenied"
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=allow("sts:AssumeRole", role["Arn"]))
    assumed = user_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="u0")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{role['RoleName']}/u0")


def test_get_session_token_acts_as_the_same_principal(server):
    iam = server.client("iam")
    name = unique("gst")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    key_arn = server.client().create_key()["KeyMetadata"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="enc", PolicyDocument=allow("kms:Encrypt", key_arn))
    user_sts = session_client(server, "sts", {**key, "SessionToken": None}, token="")
    before = time.time()
    creds = user_sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert abs(creds["Expiration"].timestamp() - (before + 900)) < 30
    temp_sts = session_client(server, "sts", creds)
    assert temp_sts.get_caller_identity()["Arn"] == user["Arn"]
    kms = session_client(server, "kms", creds)
    assert kms.encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"] == key_arn
    assert error_code(lambda: kms.describe_key(KeyId=key_arn)) == "AccessDeniedException"
    assert error_code(lambda: temp_sts.get_session_token()) == "AccessDenied"
    # Root sessions last at most an hour.
    root_sts = server.client("sts")
    assert error_code(lambda: root_sts.get_session_token(DurationSeconds=7200)) == "ValidationError"
    root_creds = root_sts.get_session_token()["Credentials"]
    assert abs(root_creds["Expiration"].timestamp() - (time.time() + 3600)) < 30
    root_identity = session_client(server, "sts", root_creds).get_caller_identity()
    assert root_identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"


def test_roles_and_sessions_survive_a_restart(server_factory):
    s = server_factory()
    iam, role = make_role(s, Path="/d/", MaxSessionDuration=7200)
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=allow("kms:ListKeys"))
    creds = s.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="keep")["Credentials"]
    s.restart()
    iam = s.client("iam")
    assert iam.get_role(RoleName=role["RoleName"])["Role"] == role
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == ["p"]
    identity = session_client(s, "sts", creds).get_caller_identity()
    assert identity["Arn"].endswith(f"assumed-role/{role['RoleName']}/keep")
    session_client(s, "kms", creds).list_keys()


def test_cross_account_assume_role_needs_the_trust_policy_and_the_callers_account(server_factory):
    from test_accounts import create_account

    s = server_factory()
    s.stop()
    other = create_account(s.data_dir)
    s.start()  # on a new port: make clients afterwards
    other_creds = {"AccessKeyId": other["access_key_id"], "SecretAccessKey": other["secret_access_key"]}
    other_sts = session_client(s, "sts", other_creds, token="")
    other_iam = session_client(s, "iam", other_creds, token="")

    _, own_only = make_role(s)
    assert error_code(lambda: other_sts.assume_role(RoleArn=own_only["Arn"], RoleSessionName="x1")) == (
        "AccessDenied"
    )
    _, shared = make_role(s, trust(other["account"]))
    # The other account's root user may assume it ...
    assumed = other_sts.assume_role(RoleArn=shared["Arn"], RoleSessionName="x1")
    identity = session_client(s, "sts", assumed["Credentials"]).get_caller_identity()
    assert identity["Account"] == s.account_id
    assert identity["Arn"] == f"arn:aws:sts::{s.account_id}:assumed-role/{shared['RoleName']}/x1"
    # ... and its users once their own policies allow it.
    name = unique("xuser")
    other_iam.create_user(UserName=name)
    key = other_iam.create_access_key(UserName=name)["AccessKey"]
    user_sts = session_client(s, "sts", {**key, "SessionToken": None}, token="")
    assert error_code(lambda: user_sts.assume_role(RoleArn=shared["Arn"], RoleSessionName="x2")) == (
        "AccessDenied"
    )
    other_iam.put_user_policy(UserName=name, PolicyName="a", PolicyDocument=allow("sts:AssumeRole"))
    user_sts.assume_role(RoleArn=shared["Arn"], RoleSessionName="x2")


def test_expired_session_credentials_are_refused(own_server):
    """Expiry is decided by the server's clock (which a test may move), while SigV4's own
    timestamp check keeps using real time, so requests stay validly signed."""
    _, role = make_role(own_server)
    creds = own_server.client("sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=900
    )["Credentials"]
    kms = session_client(own_server, "kms", creds)
    sts = session_client(own_server, "sts", creds)
    sts.get_caller_identity()
    own_server.set_clock(901)
    assert error_code(kms.list_keys) == "ExpiredTokenException"
    assert error_code(sts.get_caller_identity) == "ExpiredToken"
    own_server.set_clock(0)
    sts.get_caller_identity()
