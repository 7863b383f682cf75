"""STS and IAM over the AWS Query protocol: GetCallerIdentity (IAM users: test_iam.py), how
unsupported actions and bad credentials are reported (XML errors botocore parses), and that the
KMS JSON protocol on the same endpoint is unaffected."""

import json

import botocore.exceptions
import pytest

from keystead_harness import wrong_secret


def test_get_caller_identity_names_the_account_root(server):
    identity = server.client("sts").get_caller_identity()
    assert identity["Account"] == server.account_id
    assert identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"
    assert identity["UserId"] == server.account_id


def test_get_caller_identity_works_from_the_aws_cli(server):
    result = server.cli("sts", "get-caller-identity", "--output", "json")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["Account"] == server.account_id


def test_get_caller_identity_in_another_region_is_the_same_account(server):
    identity = server.client("sts", region="eu-west-1").get_caller_identity()
    assert identity["Account"] == server.account_id


def test_an_unknown_access_key_is_invalid_client_token_id(server):
    sts = server.client("sts", access_key_id="AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_wrong_secret_is_signature_does_not_match(server):
    sts = server.client("sts", secret_access_key=wrong_secret(server.secret_access_key))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    "service, call",
    [
        ("sts", lambda c: c.get_federation_token(Name="federated")),
        ("sts", lambda c: c.decode_authorization_message(EncodedMessage="x")),
        ("iam", lambda c: c.list_groups()),
        ("iam", lambda c: c.create_group(GroupName="admins")),
    ],
)
def test_actions_not_served_yet_are_invalid_action_naming_them(server, service, call):
    client = server.client(service)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(client)
    error = e.value.response["Error"]
    assert error["Code"] == "InvalidAction"
    assert e.value.operation_name in error["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_form_post_without_action_is_missing_action(server):
    resp = server.raw(
        "/",
        b"Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert resp.status == 400
    assert b"<Code>MissingAction</Code>" in resp.body
    assert resp.headers.get("content-type", "").startswith("text/xml")


def test_kms_still_answers_json_on_the_same_endpoint(kms):
    assert "Keys" in kms.list_keys()
