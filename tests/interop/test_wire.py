"""Raw AWS JSON 1.1 requests, signed by botocore's SigV4 signer, for what botocore itself would
refuse to send: malformed bodies, wrong types, out-of-range values, and broken signatures.

Every error must be an AWS-shaped JSON body (`__type` and `message`) with a 4xx status: SDKs
branch on `__type`, and a 500 or a text/plain page breaks them.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keystead_harness import JSON_1_1, KeysteadServer, RawResponse, wrong_secret

AWS_AUTH_CODES = {
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "UnrecognizedClientException",
    "AccessDeniedException",
}


def assert_aws_error(resp: RawResponse, code: str | set, status: int | set = 400) -> dict:
    """The response is an AWS JSON error with this code and status; returns the body."""
    statuses = {status} if isinstance(status, int) else status
    codes = {code} if isinstance(code, str) else code
    assert resp.status in statuses, (resp.status, resp.body[:500])
    ctype = resp.headers.get("content-type", "")
    assert ctype.startswith(JSON_1_1), (ctype, resp.body[:500])
    body = json.loads(resp.body)
    assert isinstance(body, dict), body
    # AWS sometimes prefixes a namespace ("com.amazonaws.kms#NotFoundException").
    got = body.get("__type", "").split("#")[-1]
    assert got in codes, body
    messages = [v for k, v in body.items() if k.lower() == "message"]
    assert len(messages) == 1 and isinstance(messages[0], str) and messages[0], body
    return body


def message_of(body: dict) -> str:
    return next(v for k, v in body.items() if k.lower() == "message")


@pytest.fixture(scope="module")
def key_id(kms) -> str:
    return kms.create_key(Description="wire")["KeyMetadata"]["KeyId"]


# --- a well-formed raw request works ----------------------------------------------------------


def test_a_signed_raw_request_succeeds(server, key_id):
    resp = server.call("DescribeKey", {"KeyId": key_id})
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"].startswith(JSON_1_1)
    assert resp.headers.get("x-amzn-requestid")
    body = resp.json()
    assert body["KeyMetadata"]["KeyId"] == key_id
    assert body["KeyMetadata"]["Arn"] == server.key_arn(key_id)
    # Timestamps are epoch seconds on the wire (JSON 1.1), not strings.
    assert isinstance(body["KeyMetadata"]["CreationDate"], (int, float))


def test_a_raw_encrypt_decrypt_round_trip_uses_base64_blobs(server, key_id):
    enc = server.call("Encrypt", {"KeyId": key_id, "Plaintext": base64.b64encode(b"raw").decode()})
    assert enc.status == 200, enc.body
    blob = enc.json()["CiphertextBlob"]
    assert isinstance(blob, str)
    dec = server.call("Decrypt", {"CiphertextBlob": blob})
    assert dec.status == 200, dec.body
    assert base64.b64decode(dec.json()["Plaintext"]) == b"raw"


# --- bodies botocore would not send -----------------------------------------------------------


def test_malformed_json_is_a_serialization_exception(server):
    for body in (b'{"KeyId": ', b"{'KeyId': 'x'}", b"\xff\xfe", b"{} trailing"):
        assert_aws_error(server.call("DescribeKey", body), "SerializationException")


def test_a_wrong_json_type_is_a_serialization_exception(server, key_id):
    for target, payload in (
        ("ListKeys", {"Limit": "ten"}),
        ("ListKeys", {"Limit": 1.5}),
        ("DescribeKey", {"KeyId": 42}),
        ("CreateKey", {"Tags": {"TagKey": "a"}}),
        (
            "Encrypt",
            {
                "KeyId": key_id,
                "Plaintext": base64.b64encode(b"x").decode(),
                "EncryptionContext": ["a"],
            },
        ),
        ("ListKeys", []),
        ("ListKeys", "null"),
    ):
        assert_aws_error(server.call(target, payload), "SerializationException")


def test_an_unknown_member_is_a_serialization_exception(server, key_id):
    assert_aws_error(
        server.call("DescribeKey", {"KeyId": key_id, "Bogus": 1}), "SerializationException"
    )


def test_a_missing_required_member_is_a_validation_exception_with_aws_message(server):
    for payload in ({}, {"KeyId": None}):
        body = assert_aws_error(server.call("DescribeKey", payload), "ValidationException")
        assert message_of(body) == (
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
            "Member must not be null"
        )


def test_two_missing_members_are_counted(server):
    body = assert_aws_error(server.call("CreateAlias", {}), "ValidationException")
    message = message_of(body)
    assert message.startswith("2 validation errors detected: "), message
    assert "'aliasName'" in message and "'targetKeyId'" in message


def test_a_too_long_description_is_a_validation_exception(server, key_id):
    body = assert_aws_error(
        server.call("UpdateKeyDescription", {"KeyId": key_id, "Description": "d" * 8193}),
        "ValidationException",
    )
    assert "'description'" in message_of(body)
    assert "8192" in message_of(body)
    assert_aws_error(server.call("CreateKey", {"Description": "d" * 8193}), "ValidationException")


def test_an_out_of_range_limit_is_a_validation_exception(server):
    for limit in (0, 1001, -1):
        body = assert_aws_error(server.call("ListKeys", {"Limit": limit}), "ValidationException")
        assert "'limit'" in message_of(body)


def test_an_empty_key_id_is_a_validation_exception(server):
    body = assert_aws_error(server.call("DescribeKey", {"KeyId": ""}), "ValidationException")
    assert "'keyId'" in message_of(body)


def test_bad_base64_is_a_serialization_exception(server, key_id):
    for bad in ("!!!not base64!!!", "abc", "YQ=x"):
        assert_aws_error(server.call("Decrypt", {"CiphertextBlob": bad}), "SerializationException")
        assert_aws_error(
            server.call("Encrypt", {"KeyId": key_id, "Plaintext": bad}), "SerializationException"
        )


def test_an_unknown_target_is_an_unknown_operation(server):
    for target in ("TrentService.Frobnicate", "TrentService.", "NoSuchService.DescribeKey"):
        req = server.signed_request("DescribeKey", {}, headers={"X-Amz-Target": target})
        assert_aws_error(server.send(req), "UnknownOperationException")


def test_a_missing_target_is_an_aws_error(server):
    req = server.signed_request("DescribeKey", {})
    del req.headers["X-Amz-Target"]
    assert_aws_error(server.send(req), {"UnknownOperationException", "InvalidSignatureException"})


def test_an_oversize_body_is_413(server, key_id):
    big = base64.b64encode(b"p" * (200 * 1024)).decode()  # ~267 KiB of JSON
    payload = json.dumps({"KeyId": key_id, "Plaintext": big}).encode()
    assert len(payload) > 256 * 1024
    resp = server.call("Encrypt", payload)
    assert resp.status == 413, (resp.status, resp.body[:300])
    assert_aws_error(
        resp,
        {"RequestEntityTooLargeException", "SerializationException", "ValidationException"},
        413,
    )
    # A body just under the limit is read (and then refused for its content, not its size).
    under = json.dumps({"KeyId": key_id, "Description": "x" * (255 * 1024)}).encode()
    assert len(under) < 256 * 1024
    resp = server.call("UpdateKeyDescription", under)
    assert_aws_error(resp, "ValidationException")


def test_odd_inputs_never_produce_a_500_or_text(server, key_id):
    deep = b"[" * 5000 + b"]" * 5000
    cases = [
        ("DescribeKey", b""),
        ("DescribeKey", b"null"),
        ("DescribeKey", b'"a string"'),
        ("DescribeKey", deep),
        ("DescribeKey", {"KeyId": "x" * 2049}),
        ("DescribeKey", {"KeyId": "alias/"}),
        ("DescribeKey", {"KeyId": "arn:aws:kms:us-east-1:000000000000:key/not-a-uuid"}),
        ("DescribeKey", {"KeyId": "\u0000\u202e"}),
        ("Encrypt", {"KeyId": key_id, "Plaintext": ""}),
        ("Encrypt", {"KeyId": key_id}),
        ("Decrypt", {"CiphertextBlob": ""}),
        ("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_512"}),
        ("GenerateDataKey", {"KeyId": key_id, "NumberOfBytes": 2**40}),
        ("CreateKey", {"KeyUsage": "NOPE"}),
        ("CreateKey", {"Policy": "{" * 1000}),
        ("ListKeys", {"Marker": "\u00ff" * 10}),
        ("ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 10**12}),
        ("TagResource", {"KeyId": key_id, "Tags": [{"TagKey": "", "TagValue": "x"}]}),
        ("CreateAlias", {"AliasName": "alias/aws/reserved", "TargetKeyId": key_id}),
    ]
    for target, payload in cases:
        resp = server.call(target, payload)
        assert 400 <= resp.status < 500, (target, payload, resp.status, resp.body[:300])
        assert_aws_error(resp, _any_code(resp), resp.status)
    # Paths and methods other than POST / are JSON errors too.
    for method, path in (("GET", "/"), ("POST", "/nope"), ("PUT", "/")):
        resp = server.raw(path, b"", {}, method=method)
        assert 400 <= resp.status < 500, (method, path, resp.status)
        assert_aws_error(resp, _any_code(resp), resp.status)


def _any_code(resp: RawResponse) -> str:
    try:
        return json.loads(resp.body).get("__type", "<none>").split("#")[-1]
    except ValueError:
        return "<not json>"


# --- SigV4 ------------------------------------------------------------------------------------


def test_a_wrong_secret_is_an_invalid_signature(server, key_id):
    wrong = Credentials(server.access_key_id, wrong_secret(server.secret_access_key))
    body = assert_aws_error(
        server.call("DescribeKey", {"KeyId": key_id}, credentials=wrong),
        "InvalidSignatureException",
    )
    assert server.secret_access_key not in json.dumps(body)


def test_a_body_altered_after_signing_is_an_invalid_signature(server, key_id):
    req = server.signed_request("DescribeKey", {"KeyId": key_id})
    req.data = json.dumps({"KeyId": key_id + " "}).encode()
    assert_aws_error(server.send(req), "InvalidSignatureException")
    req = server.signed_request("DescribeKey", {"KeyId": key_id})
    req.data = json.dumps({"KeyId": key_id}, indent=1).encode()  # same JSON, other bytes
    assert_aws_error(server.send(req), "InvalidSignatureException")


def test_a_signed_header_altered_after_signing_is_an_invalid_signature(server, key_id):
    req = server.signed_request("DescribeKey", {"KeyId": key_id})
    req.headers.replace_header("X-Amz-Target", "TrentService.ListKeys")
    assert_aws_error(server.send(req), "InvalidSignatureException")
    req = server.signed_request("DescribeKey", {"KeyId": key_id})
    req.headers.replace_header("Content-Type", "application/x-amz-json-1.0")
    assert_aws_error(server.send(req), "InvalidSignatureException")


@pytest.mark.parametrize("header", ["Content-Type", "X-Amz-Date"])
def test_a_signed_header_removed_after_signing_is_refused(server, key_id, header):
    req = server.signed_request("DescribeKey", {"KeyId": key_id})
    assert header.lower() in req.headers["Authorization"].lower()
    del req.headers[header]
    assert_aws_error(
        server.send(req), {"IncompleteSignatureException", "InvalidSignatureException"}
    )


def test_a_stale_date_is_an_expired_signature(server, key_id):
    stale = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20)
    body = assert_aws_error(
        server.call("DescribeKey", {"KeyId": key_id}, when=stale), "InvalidSignatureException"
    )
    assert "Signature expired" in message_of(body)


def test_a_future_date_is_an_invalid_signature(server, key_id):
    future = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=20)
    body = assert_aws_error(
        server.call("DescribeKey", {"KeyId": key_id}, when=future), "InvalidSignatureException"
    )
    assert "Signature not yet current" in message_of(body)


def test_a_date_within_five_minutes_is_accepted(server, key_id):
    skewed = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=4)
    resp = server.call("DescribeKey", {"KeyId": key_id}, when=skewed)
    assert resp.status == 200, resp.body


def test_a_scope_for_another_service_is_an_invalid_signature(server, key_id):
    assert_aws_error(
        server.call("DescribeKey", {"KeyId": key_id}, service="s3"), "InvalidSignatureException"
    )


def test_an_unknown_access_key_is_unrecognized(server, key_id):
    stranger = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert_aws_error(
        server.call("DescribeKey", {"KeyId": key_id}, credentials=stranger),
        "UnrecognizedClientException",
    )


def test_no_authorization_is_a_missing_authentication_token(server, key_id):
    resp = server.raw(
        "/",
        json.dumps({"KeyId": key_id}).encode(),
        {"Content-Type": JSON_1_1, "X-Amz-Target": "TrentService.DescribeKey"},
    )
    assert_aws_error(resp, "MissingAuthenticationTokenException", {400, 403})


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/kms/aws4_request",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=zz",
        "Bearer abc",
    ],
)
def test_a_malformed_authorization_header_is_an_aws_auth_error(server, key_id, authorization):
    req = server.signed_request("DescribeKey", {"KeyId": key_id})
    req.headers.replace_header("Authorization", authorization)
    body = assert_aws_error(server.send(req), AWS_AUTH_CODES, {400, 403})
    assert body["__type"] != "AccessDeniedException"


class JsonSigV4QueryAuth(botocore.auth.SigV4QueryAuth):
    """botocore's presigner moves a request body into the query string (right for the Query
    protocol, wrong for JSON): keep the body, sign the rest as SigV4QueryAuth does."""

    def _modify_request_before_signing(self, request):
        data = request.data
        request.data = ""
        super()._modify_request_before_signing(request)
        request.data = data


def presigned(server: KeysteadServer, target: str, payload: dict, **kwargs) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": JSON_1_1, "X-Amz-Target": f"TrentService.{target}"},
    )
    creds = kwargs.pop("credentials", None) or server.credentials()
    JsonSigV4QueryAuth(creds, "kms", "us-east-1", **kwargs).add_auth(request)
    assert "Authorization" not in request.headers
    assert "X-Amz-Signature=" in request.url
    return request


def test_a_presigned_query_request_succeeds(server, key_id):
    resp = server.send(presigned(server, "DescribeKey", {"KeyId": key_id}, expires=300))
    assert resp.status == 200, resp.body
    assert resp.json()["KeyMetadata"]["KeyId"] == key_id


def test_a_presigned_query_request_with_a_bad_signature_is_refused(server, key_id):
    req = presigned(server, "DescribeKey", {"KeyId": key_id})
    req.url = req.url[:-4] + ("0000" if not req.url.endswith("0000") else "1111")
    assert_aws_error(server.send(req), "InvalidSignatureException")
    wrong = Credentials(server.access_key_id, wrong_secret(server.secret_access_key))
    req = presigned(server, "DescribeKey", {"KeyId": key_id}, credentials=wrong)
    assert_aws_error(server.send(req), "InvalidSignatureException")


# --- --dev mode and the test clock ------------------------------------------------------------


def test_dev_mode_accepts_any_access_key_and_a_12_digit_one_names_the_account(server_factory):
    dev = server_factory(dev=True)
    alice = dev.client(access_key_id="111122223333", secret_access_key="anything")
    bob = dev.client(access_key_id="444455556666", secret_access_key="whatever")
    key = alice.create_key()["KeyMetadata"]
    assert key["AWSAccountId"] == "111122223333"
    assert key["Arn"].startswith("arn:aws:kms:us-east-1:111122223333:key/")
    assert alice.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    with pytest.raises(bob.exceptions.NotFoundException):
        bob.describe_key(KeyId=key["KeyId"])
    anyone = dev.client(access_key_id="not-an-account", secret_access_key="x")
    other = anyone.create_key()["KeyMetadata"]
    assert other["AWSAccountId"] == "000000000000"
    # The deployment's real credentials keep naming their own account.
    real = dev.client().create_key()["KeyMetadata"]
    assert real["AWSAccountId"] == dev.account_id


def test_a_dev_account_never_created_gets_root_access_keys_that_work(server_factory):
    dev = server_factory(dev=True)
    iam = dev.client("iam", access_key_id="777788889999", secret_access_key="anything")
    created = iam.create_access_key()["AccessKey"]
    assert created["AccessKeyId"].startswith("AKIA")
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [created["AccessKeyId"]]
    # A second key goes to the account the first one created.
    second = iam.create_access_key()["AccessKey"]
    assert second["AccessKeyId"] != created["AccessKeyId"]
    sts = dev.client("sts", access_key_id=created["AccessKeyId"], secret_access_key=created["SecretAccessKey"])
    assert sts.get_caller_identity()["Account"] == "777788889999"
    dev.restart()
    kms = dev.client(access_key_id=created["AccessKeyId"], secret_access_key=created["SecretAccessKey"])
    assert kms.create_key()["KeyMetadata"]["AWSAccountId"] == "777788889999"


def test_the_test_clock_is_off_without_the_danger_flag(server_factory):
    plain = server_factory(test_clock=False)
    resp = plain.raw(
        "/_keystead/test/clock",
        json.dumps({"offset_seconds": 86400}).encode(),
        {"Content-Type": "application/json"},
    )
    assert resp.status == 404, (resp.status, resp.body)
    assert_aws_error(resp, _any_code(resp), 404)
    # And nothing moved: a new key's creation date is now.
    md = plain.client().create_key()["KeyMetadata"]
    created = md["CreationDate"]
    assert abs((created - datetime.now(timezone.utc)).total_seconds()) < 300
