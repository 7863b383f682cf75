"""CloudTrail LookupEvents against keystead's audit trail, with the aws CLI and boto3.

Every request keystead serves is recorded as a CloudTrail record; `aws cloudtrail lookup-events`
and boto3's `lookup_events` read them back by every lookup attribute, page through them, and
get CloudTrail's own errors for invalid queries. Only the root user and principals whose
policies allow `cloudtrail:LookupEvents` may look.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from keystead_harness import unique


@pytest.fixture(scope="module")
def trail(server):
    """A few KMS requests whose records the tests look up."""
    kms = server.client()
    key = kms.create_key(Description="audit")["KeyMetadata"]
    enc = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"audit-me", EncryptionContext={"Department": "IT"}
    )
    kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"Department": "IT"})
    kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="alias/" + unique("missing"))
    return {
        "key": key,
        "encrypt_request_id": enc["ResponseMetadata"]["RequestId"],
    }


def lookup(server, **kwargs) -> list[dict]:
    ct = server.client("cloudtrail")
    return ct.lookup_events(**kwargs)["Events"]


def attribute(key: str, value: str) -> dict:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


def the_encrypt_event(server, trail) -> dict:
    events = lookup(server, **attribute("EventName", "Encrypt"))
    assert len(events) == 1, events
    return events[0]


def test_the_cli_looks_up_encrypt_events(server, trail):
    r = server.cli(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=Encrypt",
    )
    assert r.returncode == 0, r.stderr.decode()
    events = json.loads(r.stdout)["Events"]
    assert [e["EventName"] for e in events] == ["Encrypt"]
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["requestID"] == trail["encrypt_request_id"]
    assert record["requestParameters"] == {
        "keyId": trail["key"]["KeyId"],
        "encryptionContext": {"Department": "IT"},
    }
    assert record["responseElements"] is None
    assert "audit-me" not in events[0]["CloudTrailEvent"]


def test_every_lookup_attribute_finds_the_encrypt_event(server, trail):
    event = the_encrypt_event(server, trail)
    key = trail["key"]
    assert event["EventSource"] == "kms.amazonaws.com"
    assert event["ReadOnly"] == "true"
    assert event["AccessKeyId"] == server.access_key_id
    assert {"ResourceType": "AWS::KMS::Key", "ResourceName": key["Arn"]} in event["Resources"]
    assert isinstance(event["EventTime"], datetime)
    cases = [
        ("EventId", event["EventId"]),
        ("EventName", "Encrypt"),
        ("ReadOnly", "true"),
        ("Username", event["Username"]),
        ("ResourceType", "AWS::KMS::Key"),
        ("ResourceName", key["Arn"]),
        ("ResourceName", key["KeyId"]),
        ("EventSource", "kms.amazonaws.com"),
        ("AccessKeyId", server.access_key_id),
    ]
    for name, value in cases:
        found = lookup(server, MaxResults=50, **attribute(name, value))
        assert event["EventId"] in [e["EventId"] for e in found], (name, value, found)
        for e in found:
            record = json.loads(e["CloudTrailEvent"])
            if name == "EventName":
                assert record["eventName"] == value
            if name == "ReadOnly":
                assert record["readOnly"] is True
            if name == "EventSource":
                assert record["eventSource"] == value
    assert lookup(server, **attribute("EventId", event["EventId"]))[0]["EventId"] == event["EventId"]
    writes = lookup(server, MaxResults=50, **attribute("ReadOnly", "false"))
    assert "CreateKey" in [e["EventName"] for e in writes]
    assert "Encrypt" not in [e["EventName"] for e in writes]


def test_failed_requests_are_recorded_with_their_error(server, trail):
    events = lookup(server, **attribute("EventName", "DescribeKey"))
    assert events, "no DescribeKey record"
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["errorCode"] == "NotFoundException"
    assert record["errorMessage"]


def test_results_are_paged_newest_first(server, trail):
    ct = server.client("cloudtrail")
    seen = []
    token = None
    for _ in range(100):
        kwargs = {"MaxResults": 1, **attribute("EventSource", "kms.amazonaws.com")}
        if token:
            kwargs["NextToken"] = token
        page = ct.lookup_events(**kwargs)
        assert len(page["Events"]) <= 1
        seen.extend(page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    names = [e["EventName"] for e in seen]
    assert {"CreateKey", "Encrypt", "Decrypt", "GenerateDataKey"} <= set(names), names
    times = [e["EventTime"] for e in seen]
    assert times == sorted(times, reverse=True)
    paginator = ct.get_paginator("lookup_events")
    pages = paginator.paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        PaginationConfig={"PageSize": 2},
    )
    assert [e["EventId"] for p in pages for e in p["Events"]] == [e["EventId"] for e in seen]


def test_a_time_range_narrows_the_results(server, trail):
    now = datetime.now(timezone.utc)
    assert lookup(server, StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1))
    assert lookup(server, StartTime=now - timedelta(days=3), EndTime=now - timedelta(days=2)) == []


@pytest.mark.parametrize(
    "kwargs, code",
    [
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "Encrypt"},
                    {"AttributeKey": "ReadOnly", "AttributeValue": "true"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        (attribute("ReadOnly", "maybe"), "InvalidLookupAttributesException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        (
            {
                "StartTime": datetime(2025, 1, 2, tzinfo=timezone.utc),
                "EndTime": datetime(2025, 1, 1, tzinfo=timezone.utc),
            },
            "InvalidTimeRangeException",
        ),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ],
)
def test_invalid_queries_get_cloudtrails_errors(server, trail, kwargs, code):
    with pytest.raises(ClientError) as e:
        lookup(server, **kwargs)
    assert e.value.response["Error"]["Code"] == code


def test_lookup_itself_is_recorded(server, trail):
    lookup(server, MaxResults=1)
    time.sleep(0.1)
    events = lookup(server, **attribute("EventSource", "cloudtrail.amazonaws.com"))
    assert events and events[0]["EventName"] == "LookupEvents"


def test_only_principals_allowed_cloudtrail_lookup_events_may_look(server, trail):
    iam = server.client("iam")
    name = unique("auditor")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    ct = server.client(
        "cloudtrail",
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
    )
    with pytest.raises(ClientError) as e:
        ct.lookup_events(MaxResults=1)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    iam.put_user_policy(
        UserName=name,
        PolicyName="lookup",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}
                ],
            }
        ),
    )
    events = ct.lookup_events(**attribute("AccessKeyId", key["AccessKeyId"]))["Events"]
    record = json.loads(events[-1]["CloudTrailEvent"])
    assert record["errorCode"] == "AccessDeniedException"
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["userName"] == name
    assert key["SecretAccessKey"] not in events[-1]["CloudTrailEvent"]
    # The IAM calls that made the user are recorded too, without the secret.
    created = lookup(server, **attribute("EventName", "CreateAccessKey"))
    assert created
    assert key["SecretAccessKey"] not in created[0]["CloudTrailEvent"]
    assert json.loads(created[0]["CloudTrailEvent"])["eventSource"] == "iam.amazonaws.com"


def test_a_request_too_large_for_a_record_is_recorded_without_its_parameters(server, trail):
    key_id = trail["key"]["KeyId"]
    resp = server.call("UpdateKeyDescription", {"KeyId": key_id, "Description": "x" * (255 * 1024)})
    assert resp.status == 400, resp.body[:300]
    request_id = resp.headers["x-amzn-requestid"]
    events = lookup(server, MaxResults=50, **attribute("EventName", "UpdateKeyDescription"))
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    record = next(r for r in records if r["requestID"] == request_id)
    assert record["errorCode"] == "ValidationException"
    assert record["requestParameters"] is None
    assert "requestParametersOmitted" in record["additionalEventData"]


def test_a_session_record_carries_when_the_session_was_created(server, trail):
    sts = server.client("sts")
    creds = sts.get_session_token()["Credentials"]
    issued = datetime.now(timezone.utc)
    time.sleep(1.5)  # the request comes visibly later than the session was made
    session_kms = server.client(
        "kms",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    session_kms.describe_key(KeyId=trail["key"]["KeyId"])
    events = lookup(server, **attribute("AccessKeyId", creds["AccessKeyId"]))
    assert [e["EventName"] for e in events] == ["DescribeKey"], events
    record = json.loads(events[0]["CloudTrailEvent"])
    attributes = record["userIdentity"]["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == "false"
    created = datetime.strptime(attributes["creationDate"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )
    event_time = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )
    assert abs(created - issued) <= timedelta(seconds=1), (created, issued)
    assert event_time - created >= timedelta(seconds=1), (event_time, created)


def test_a_failed_signature_is_recorded_with_the_keys_account(server, trail):
    # A key made while the server runs (not one it loaded at start), used with a wrong secret.
    iam = server.client("iam")
    user = unique("auditfail")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    secret = key["SecretAccessKey"]
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    forged = server.client("kms", access_key_id=key["AccessKeyId"], secret_access_key=wrong)
    with pytest.raises(ClientError) as e:
        forged.list_keys()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    events = lookup(server, **attribute("AccessKeyId", key["AccessKeyId"]))
    assert len(events) == 1, events
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["errorCode"] == "InvalidSignatureException"
    assert record["userIdentity"]["accountId"] == server.account_id
    assert record["recipientAccountId"] == server.account_id


def test_management_records_name_the_key_in_their_response_elements(server, trail):
    # As AWS has recorded since December 2022: the key's ARN as responseElements.keyId, the
    # grant's id (never its token) for CreateGrant, and null for cryptographic operations.
    kms = server.client()
    key = kms.create_key(Description="response elements")["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=f"arn:aws:iam::{server.account_id}:root",
        Operations=["Encrypt"],
    )
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    records = {}
    for event in lookup(server, **attribute("ResourceName", key["Arn"])):
        records.setdefault(event["EventName"], json.loads(event["CloudTrailEvent"]))
    assert records["DisableKey"]["responseElements"] == {"keyId": key["Arn"]}
    assert records["EnableKey"]["responseElements"] == {"keyId": key["Arn"]}
    assert records["CreateGrant"]["responseElements"] == {
        "grantId": grant["GrantId"],
        "keyId": key["Arn"],
    }
    assert grant["GrantToken"] not in json.dumps(records)
    assert records["Encrypt"]["responseElements"] is None
    assert records["CreateKey"]["responseElements"]["keyMetadata"]["keyId"] == key["KeyId"]
