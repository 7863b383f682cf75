"""IAM users, access keys and inline user policies over the Query protocol with boto3, and what
they change for KMS: a user's requests are authorized by its inline policies (identity-based
policies) together with the key policy, and key changes take effect at once."""

import json
import time

import botocore.exceptions
import pytest

from keystead_harness import unique


def user_clients(server, key):
    creds = {
        "access_key_id": key["AccessKeyId"],
        "secret_access_key": key["SecretAccessKey"],
    }
    return server.client("kms", **creds), server.client("sts", **creds), server.client("iam", **creds)


def allow(action, resource="*", effect="Allow"):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
        }
    )


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def test_users_round_trip(server):
    iam = server.client("iam")
    name = unique("user")
    created = iam.create_user(
        UserName=name, Path="/team/", Tags=[{"Key": "team", "Value": "blue"}]
    )["User"]
    assert created["UserName"] == name
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:user/team/{name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 20
    assert created["Path"] == "/team/"
    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == created["UserId"]
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]
    root = iam.get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{server.account_id}:root"
    names = [u["UserName"] for u in iam.list_users()["Users"]]
    assert name in names
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=name)
    iam.delete_user(UserName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_user(UserName=name)


def test_list_users_pages(server):
    iam = server.client("iam")
    prefix = f"/{unique('p')}/"
    for i in range(3):
        iam.create_user(UserName=unique(f"pg{i}"), Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert len(first["Users"]) == 2 and first["IsTruncated"]
    second = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert len(second["Users"]) == 1 and not second["IsTruncated"]
    paginated = iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 1})
    assert sum(len(p["Users"]) for p in paginated) == 3


def test_access_keys_and_policies_round_trip_and_delete_conflicts(server):
    iam = server.client("iam")
    name = unique("keys")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active" and key["UserName"] == name
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"

    document = allow("kms:Encrypt")
    iam.put_user_policy(UserName=name, PolicyName="enc", PolicyDocument=document)
    got = iam.get_user_policy(UserName=name, PolicyName="enc")
    # botocore URL-decodes and parses the document.
    assert got["PolicyDocument"] == json.loads(document)
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["enc"]
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument="{not json")
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.put_user_policy(
            UserName=name, PolicyName="big", PolicyDocument=allow("kms:Encrypt", "arn:" + "a" * 3000)
        )
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user_policy(UserName=name, PolicyName="missing")

    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=name)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=name)
    iam.delete_user_policy(UserName=name, PolicyName="enc")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []
    iam.delete_user(UserName=name)


def test_a_user_is_denied_then_allowed_then_denied_by_a_deny(server, kms):
    iam = server.client("iam")
    name = unique("kmsuser")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_kms, user_sts, user_iam = user_clients(server, key)

    identity = user_sts.get_caller_identity()
    assert identity["Arn"] == user["Arn"]
    assert identity["UserId"] == user["UserId"]
    assert identity["Account"] == server.account_id

    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    message = e.value.response["Error"]["Message"]
    assert user["Arn"] in message and "no identity-based policy allows" in message

    iam.put_user_policy(UserName=name, PolicyName="allow", PolicyDocument=allow("kms:Encrypt", key_arn))
    assert user_kms.encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"] == key_arn
    # Only Encrypt is allowed.
    assert error_code(lambda: user_kms.describe_key(KeyId=key_arn)) == "AccessDeniedException"

    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=allow("kms:*", "*", "Deny"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "explicit deny" in e.value.response["Error"]["Message"]

    # The user may call IAM only as its policies allow.
    assert error_code(lambda: user_iam.list_users()) == "AccessDenied"
    iam.put_user_policy(UserName=name, PolicyName="iam", PolicyDocument=allow("iam:GetUser"))
    assert user_iam.get_user()["User"]["UserName"] == name


def test_deactivated_and_deleted_keys_are_refused_at_once(server):
    iam = server.client("iam")
    name = unique("revoke")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_kms, user_sts, _ = user_clients(server, key)
    user_sts.get_caller_identity()  # works, and warms the signing-key cache
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_code(user_sts.get_caller_identity) == "InvalidClientTokenId"
    assert error_code(user_kms.list_keys) == "UnrecognizedClientException"
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    user_sts.get_caller_identity()
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_code(user_sts.get_caller_identity) == "InvalidClientTokenId"
    assert error_code(user_kms.list_keys) == "UnrecognizedClientException"


def test_users_keys_and_policies_survive_a_restart(server_factory):
    s = server_factory()
    iam = s.client("iam")
    name = unique("durable")
    user = iam.create_user(UserName=name, Path="/d/")["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    key_arn = s.client().create_key()["KeyMetadata"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="enc", PolicyDocument=allow("kms:Encrypt", key_arn))

    s.restart()
    iam = s.client("iam")
    assert iam.get_user(UserName=name)["User"] == user
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["enc"]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]] == [
        key["AccessKeyId"]
    ]
    user_kms, user_sts, _ = user_clients(s, key)
    assert user_sts.get_caller_identity()["Arn"] == user["Arn"]
    assert user_kms.encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"] == key_arn
