"""`responseElements` of IAM, STS and Secrets Manager records, as AWS writes them.

CloudTrail's record contents: responseElements holds "the response element for actions that
make changes (create, update, or delete actions). If an action does not change state (for
example, a request to get or list objects), this element is omitted". Each test makes real
calls with boto3, finds their records with LookupEvents by request id, and checks the exact
members (camelCase, dates as AWS prints them: `Aug 10, 2022, 10:38:27 PM`), and that no secret
access key, session token or secret value reaches a record, through LookupEvents or on disk.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from keystead_harness import unique


def aws_date(when: datetime) -> str:
    """A date as AWS prints it in a record's responseElements (UTC, whole seconds)."""
    d = when.astimezone(timezone.utc)
    hour = d.hour % 12 or 12
    period = "AM" if d.hour < 12 else "PM"
    return f"{d:%b} {d.day}, {d.year}, {hour}:{d:%M}:{d:%S} {period}"


def record_of(server, event_name: str, response: dict) -> dict:
    """The record of the call that returned `response`."""
    request_id = response["ResponseMetadata"]["RequestId"]
    ct = server.client("cloudtrail")
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
        MaxResults=50,
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    matching = [r for r in records if r["requestID"] == request_id]
    assert len(matching) == 1, (event_name, request_id, records)
    return matching[0]


def trust(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def calls(server) -> dict:
    """IAM, STS and Secrets Manager calls, and the secrets their responses carried."""
    iam = server.client("iam")
    sts = server.client("sts")
    sm = server.client("secretsmanager")
    out: dict = {"secrets": {}}

    user_name = unique("audited")
    out["CreateUser"] = iam.create_user(UserName=user_name, Path="/audit/")
    out["CreateAccessKey"] = iam.create_access_key(UserName=user_name)
    out["secrets"]["iam secret access key"] = out["CreateAccessKey"]["AccessKey"][
        "SecretAccessKey"
    ]
    out["GetUser"] = iam.get_user(UserName=user_name)
    out["ListUsers"] = iam.list_users()
    out["CreateRole"] = iam.create_role(
        RoleName=unique("audited-role"), AssumeRolePolicyDocument=trust(server.account_id)
    )
    out["DeleteAccessKey"] = iam.delete_access_key(
        UserName=user_name, AccessKeyId=out["CreateAccessKey"]["AccessKey"]["AccessKeyId"]
    )

    out["AssumeRole"] = sts.assume_role(
        RoleArn=out["CreateRole"]["Role"]["Arn"], RoleSessionName="audit-session"
    )
    out["GetSessionToken"] = sts.get_session_token()
    out["GetCallerIdentity"] = sts.get_caller_identity()
    for call in ("AssumeRole", "GetSessionToken"):
        creds = out[call]["Credentials"]
        out["secrets"][f"{call} secret access key"] = creds["SecretAccessKey"]
        out["secrets"][f"{call} session token"] = creds["SessionToken"]

    first = f"first-secret-value-{unique()}"
    second = f"second-secret-value-{unique()}"
    out["secrets"]["first secret value"] = first
    out["secrets"]["second secret value"] = second
    binary = f"binary-secret-value-{unique()}".encode()
    out["secrets"]["binary secret value"] = binary.decode()
    name = unique("audited-secret")
    out["CreateSecret"] = sm.create_secret(Name=name, SecretString=first)
    out["PutSecretValue"] = sm.put_secret_value(SecretId=name, SecretString=second)
    out["UpdateSecret"] = sm.update_secret(SecretId=name, SecretBinary=binary)
    out["GetSecretValue"] = sm.get_secret_value(SecretId=name)
    out["DescribeSecret"] = sm.describe_secret(SecretId=name)
    out["DeleteSecret"] = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    out["RestoreSecret"] = sm.restore_secret(SecretId=name)
    return out


def test_create_user_records_the_user(server, calls):
    user = calls["CreateUser"]["User"]
    record = record_of(server, "CreateUser", calls["CreateUser"])
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["responseElements"] == {
        "user": {
            "path": "/audit/",
            "userName": user["UserName"],
            "userId": user["UserId"],
            "arn": user["Arn"],
            "createDate": aws_date(user["CreateDate"]),
        }
    }


def test_create_access_key_records_the_key_without_its_secret(server, calls):
    key = calls["CreateAccessKey"]["AccessKey"]
    record = record_of(server, "CreateAccessKey", calls["CreateAccessKey"])
    assert record["responseElements"] == {
        "accessKey": {
            "accessKeyId": key["AccessKeyId"],
            "status": "Active",
            "userName": key["UserName"],
            "createDate": aws_date(key["CreateDate"]),
        }
    }


def test_create_role_records_the_role(server, calls):
    role = calls["CreateRole"]["Role"]
    elements = record_of(server, "CreateRole", calls["CreateRole"])["responseElements"]
    assert set(elements) == {"role"}
    recorded = elements["role"]
    assert {k: recorded[k] for k in ("path", "roleName", "roleId", "arn", "createDate")} == {
        "path": "/",
        "roleName": role["RoleName"],
        "roleId": role["RoleId"],
        "arn": role["Arn"],
        "createDate": aws_date(role["CreateDate"]),
    }
    # URL-encoded, as the response and AWS's records carry it.
    assert "%22sts%3AAssumeRole%22" in recorded["assumeRolePolicyDocument"]


def test_assume_role_records_the_session_without_its_secrets(server, calls):
    response = calls["AssumeRole"]
    record = record_of(server, "AssumeRole", response)
    assert record["eventSource"] == "sts.amazonaws.com"
    assert record["responseElements"] == {
        "credentials": {
            "accessKeyId": response["Credentials"]["AccessKeyId"],
            "expiration": aws_date(response["Credentials"]["Expiration"]),
        },
        "assumedRoleUser": {
            "assumedRoleId": response["AssumedRoleUser"]["AssumedRoleId"],
            "arn": response["AssumedRoleUser"]["Arn"],
        },
    }


def test_get_session_token_records_the_credentials_without_their_secrets(server, calls):
    response = calls["GetSessionToken"]
    record = record_of(server, "GetSessionToken", response)
    assert record["responseElements"] == {
        "credentials": {
            "accessKeyId": response["Credentials"]["AccessKeyId"],
            "expiration": aws_date(response["Credentials"]["Expiration"]),
        }
    }


def test_create_secret_records_its_arn_name_and_version(server, calls):
    response = calls["CreateSecret"]
    record = record_of(server, "CreateSecret", response)
    assert record["eventSource"] == "secretsmanager.amazonaws.com"
    assert record["responseElements"] == {
        "arn": response["ARN"],
        "name": response["Name"],
        "versionId": response["VersionId"],
    }


def test_put_secret_value_records_the_new_version(server, calls):
    response = calls["PutSecretValue"]
    record = record_of(server, "PutSecretValue", response)
    assert record["responseElements"] == {
        "arn": response["ARN"],
        "name": response["Name"],
        "versionId": response["VersionId"],
        "versionStages": response["VersionStages"],
    }


def test_update_and_restore_secret_record_their_response(server, calls):
    update = calls["UpdateSecret"]
    elements = record_of(server, "UpdateSecret", update)["responseElements"]
    assert elements == {
        "arn": update["ARN"],
        "name": update["Name"],
        **({"versionId": update["VersionId"]} if "VersionId" in update else {}),
    }
    restore = calls["RestoreSecret"]
    elements = record_of(server, "RestoreSecret", restore)["responseElements"]
    assert elements == {"arn": restore["ARN"], "name": restore["Name"]}


def test_delete_secret_records_the_deletion_date(server, calls):
    response = calls["DeleteSecret"]
    record = record_of(server, "DeleteSecret", response)
    assert record["responseElements"] == {
        "arn": response["ARN"],
        "name": response["Name"],
        "deletionDate": aws_date(response["DeletionDate"]),
    }


@pytest.mark.parametrize(
    "event_name",
    [
        "GetSecretValue",
        "DescribeSecret",
        "GetUser",
        "ListUsers",
        "GetCallerIdentity",
        # Changes state, but returns nothing: AWS writes null too.
        "DeleteAccessKey",
    ],
)
def test_calls_that_read_or_return_nothing_record_null(server, calls, event_name):
    record = record_of(server, event_name, calls[event_name])
    assert "errorCode" not in record, record
    assert record["responseElements"] is None


def _needles(secrets: dict) -> dict[str, bytes]:
    out = {}
    for name, value in secrets.items():
        raw = value.encode()
        out[name] = raw
        out[f"{name} (base64)"] = base64.b64encode(raw)
    return out


def test_no_secret_any_response_carried_is_in_a_record(server, calls):
    ct = server.client("cloudtrail")
    pages = ct.get_paginator("lookup_events").paginate()
    everything = json.dumps([e["CloudTrailEvent"] for page in pages for e in page["Events"]])
    assert "CreateAccessKey" in everything and "AssumeRole" in everything
    for name, needle in _needles(calls["secrets"]).items():
        assert needle.decode() not in everything, f"LookupEvents returns the {name}"
    audit = Path(server.data_dir) / "audit"
    files = [p for p in audit.rglob("*") if p.is_file()]
    assert files, f"no audit files under {audit}"
    for path in files:
        content = path.read_bytes()
        for name, needle in _needles(calls["secrets"]).items():
            assert needle not in content, f"{path} holds the {name}"
