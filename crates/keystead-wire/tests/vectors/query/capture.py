"""Regenerates the Query request fixtures in this directory from botocore's own serializer.

Each case calls a real boto3 client; a `before-send` hook records the exact body botocore
would put on the wire and aborts the call, so nothing leaves the machine. The bodies are
written as `<service>-<operation>.txt` (no trailing newline), with the `Content-Type` checked.

Run from the repository root:  .venv/bin/python crates/keystead-wire/tests/vectors/query/capture.py
"""

import os
import sys

import boto3
import botocore

HERE = os.path.dirname(os.path.abspath(__file__))

# A policy document with every character class that needs percent-encoding in a form body:
# quotes, braces, spaces, `*`, `/`, `:`, `+`, `&`, `=`, `%`, a newline and non-ASCII text
# (Latin-1 only: IAM's and STS's policy patterns allow nothing above U+00FF).
POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Sid": "A+B & C=D 100%",\n'
    ' "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],'
    ' "Resource": "arn:aws:kms:*:111122223333:key/*",'
    ' "Condition": {"StringEquals": {"aws:PrincipalTag/team": "caf\u00e9 \u00ff"}}}]}'
)

CASES = [
    ("sts", "GetCallerIdentity", "get_caller_identity", {}),
    (
        "sts",
        "AssumeRole",
        "assume_role",
        {
            "RoleArn": "arn:aws:iam::111122223333:role/demo",
            "RoleSessionName": "botocore-session",
            "PolicyArns": [
                {"arn": "arn:aws:iam::111122223333:policy/ReadOnly"},
                {"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"},
            ],
            "Policy": POLICY,
            "DurationSeconds": 3600,
            "Tags": [
                {"Key": "Project", "Value": "Unicorn"},
                {"Key": "Cost-Center", "Value": "12345 / ops & dev"},
            ],
            "TransitiveTagKeys": ["Project", "Cost-Center"],
            "ExternalId": "external+id=1",
            "SerialNumber": "arn:aws:iam::111122223333:mfa/alice",
            "TokenCode": "123456",
            "SourceIdentity": "alice@example.com",
        },
    ),
    (
        "sts",
        "AssumeRole",
        "assume_role",
        {
            "RoleArn": "arn:aws:iam::111122223333:role/demo",
            "RoleSessionName": "empty-lists",
            "PolicyArns": [],
            "Tags": [],
        },
        "sts-AssumeRole-empty-lists",
    ),
    (
        "sts",
        "GetSessionToken",
        "get_session_token",
        {
            "DurationSeconds": 43200,
            "SerialNumber": "arn:aws:iam::111122223333:mfa/alice",
            "TokenCode": "654321",
        },
    ),
    (
        "iam",
        "CreateUser",
        "create_user",
        {
            "UserName": "alice",
            "Path": "/engineering/",
            "PermissionsBoundary": "arn:aws:iam::111122223333:policy/Boundary",
            "Tags": [
                {"Key": "team", "Value": "platform"},
                {"Key": "email", "Value": "alice+iam@example.com"},
            ],
        },
    ),
    (
        "iam",
        "PutUserPolicy",
        "put_user_policy",
        {"UserName": "alice", "PolicyName": "kms-use", "PolicyDocument": POLICY},
    ),
    ("iam", "CreateAccessKey", "create_access_key", {"UserName": "alice"}),
    (
        "iam",
        "ListUsers",
        "list_users",
        {"PathPrefix": "/engineering/", "Marker": "AAE/marker+page==", "MaxItems": 25},
    ),
    (
        "iam",
        "CreateVirtualMFADevice",
        "create_virtual_mfa_device",
        {
            "VirtualMFADeviceName": "alice-phone",
            "Path": "/",
            "Tags": [{"Key": "device", "Value": "phone"}],
        },
    ),
    (
        "iam",
        "EnableMFADevice",
        "enable_mfa_device",
        {
            "UserName": "alice",
            "SerialNumber": "arn:aws:iam::111122223333:mfa/alice-phone",
            "AuthenticationCode1": "123456",
            "AuthenticationCode2": "789012",
        },
    ),
    (
        "iam",
        "CreatePolicyVersion",
        "create_policy_version",
        {
            "PolicyArn": "arn:aws:iam::111122223333:policy/kms-use",
            "PolicyDocument": POLICY,
            "SetAsDefault": True,
        },
    ),
    (
        "iam",
        "AcquireRole",
        "acquire_role",
        {
            "TemplateArn": "arn:aws:iam::aws:role-template/Example",
            "TemplateMinorVersion": 2,
            "ReplacementValues": {
                "BucketName": {"Values": ["logs", "audit"]},
                "Region": {"Values": ["eu-west-1"]},
            },
        },
    ),
]


class Captured(Exception):
    def __init__(self, request):
        self.request = request


def capture(service, method, params):
    client = boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        endpoint_url="http://127.0.0.1:1",
    )

    def stop(request, **_):
        raise Captured(request)

    client.meta.events.register("before-send", stop)
    try:
        getattr(client, method)(**params)
    except Captured as captured:
        return captured.request
    raise RuntimeError(f"{service}.{method} was not sent")


def capture_presigned_get_caller_identity():
    """The query string of a presigned `GET /?Action=GetCallerIdentity&…` URL, as tools such as
    Vault and EKS authenticators send it: the SigV4 parameters ride along with Action/Version."""
    client = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        endpoint_url="http://127.0.0.1:1",
    )
    url = client.generate_presigned_url("get_caller_identity", ExpiresIn=60)
    query = url.split("?", 1)[1].encode("ascii")
    with open(os.path.join(HERE, "sts-GetCallerIdentity-presigned-query.txt"), "wb") as f:
        f.write(query)
    print(f"sts-GetCallerIdentity-presigned-query.txt ({len(query)} bytes)")


def main():
    capture_presigned_get_caller_identity()
    for case in CASES:
        service, operation, method, params = case[:4]
        name = case[4] if len(case) > 4 else f"{service}-{operation}"
        request = capture(service, method, params)
        content_type = request.headers["Content-Type"]
        if isinstance(content_type, bytes):
            content_type = content_type.decode("ascii")
        if content_type != "application/x-www-form-urlencoded; charset=utf-8":
            sys.exit(f"{name}: unexpected Content-Type {content_type!r}")
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        with open(os.path.join(HERE, f"{name}.txt"), "wb") as f:
            f.write(body)
        print(f"{name}.txt ({len(body)} bytes, botocore {botocore.__version__})")


if __name__ == "__main__":
    main()
