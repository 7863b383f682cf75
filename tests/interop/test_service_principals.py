"""Service principals: `keystead service-credentials create` makes access keys whose requests
act as a service principal ({"Service": "s3.amazonaws.com"}), so the seed's service statements
are exercised through real signed requests (no --dev).

The S3 website key carries the seed's S3 key policy verbatim: S3 may encrypt and decrypt,
CloudFront may only decrypt, and nobody else (not even the account's root user: the policy has
no account statement) may use the key.
"""

import configparser
import json
import re
import subprocess

import botocore.exceptions
import pytest

from keystead_harness import KeysteadServer, hermetic_env, keystead_bin

S3_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Allow S3 Service",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Allow CloudFront Service",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        },
    ],
}


def rds_policy(account: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Allow RDS Service",
                "Effect": "Allow",
                "Principal": {"Service": "rds.amazonaws.com"},
                "Action": [
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
            },
        ],
    }


def service_credentials(data_dir, account: str, service: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(keystead_bin()),
            "service-credentials",
            "create",
            "--data-dir",
            str(data_dir),
            "--account",
            account,
            "--service",
            service,
        ],
        capture_output=True,
        env=hermetic_env(),
        timeout=60,
    )


def create_service_credentials(data_dir, account: str, service: str) -> dict:
    result = service_credentials(data_dir, account, service)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    profile_name = re.search(r"Saved as profile (\S+) in", out).group(1)
    ini = configparser.ConfigParser()
    ini.read(data_dir / "credentials")
    profile = ini[profile_name]
    assert profile["aws_access_key_id"] in out, "the new key is announced once"
    return {
        "access_key_id": profile["aws_access_key_id"],
        "secret_access_key": profile["aws_secret_access_key"],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("keystead-services")
    server = KeysteadServer(base / "data", base / "logs").start()
    server.stop()
    creds = {
        name: create_service_credentials(server.data_dir, server.account_id, f"{name}.amazonaws.com")
        for name in ["s3", "cloudfront", "rds"]
    }
    server.start()  # a running server learns of new credentials when restarted
    root = server.client("kms")
    s3_key = root.create_key(
        Description="S3 Website Encryption Key",
        Policy=json.dumps(S3_POLICY),
        # The seed's S3 policy gives the account nothing, so the lockout check must be skipped.
        BypassPolicyLockoutSafetyCheck=True,
    )["KeyMetadata"]
    # Not even an alias: the seed's S3 policy does not allow the account kms:CreateAlias.
    rds_key = root.create_key(
        Description="RDS Encryption Key", Policy=json.dumps(rds_policy(server.account_id))
    )["KeyMetadata"]
    clients = {
        name: server.client("kms", access_key_id=c["access_key_id"], secret_access_key=c["secret_access_key"])
        for name, c in creds.items()
    }
    yield {
        "server": server,
        "root": root,
        "s3_key": s3_key,
        "rds_key": rds_key,
        "creds": creds,
        **clients,
    }
    code = server.stop()
    assert code == 0, f"keystead exited with {code}\n{server.stderr()[-4000:]}"
    assert "panicked" not in server.stderr(), server.stderr()[-4000:]


def denied(client, call, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(client, call)(**kwargs)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException", e.value.response
    return e.value.response["Error"]["Message"]


def test_s3_credentials_encrypt_and_decrypt_with_the_s3_key(world):
    s3 = world["s3"]
    blob = s3.encrypt(KeyId=world["s3_key"]["Arn"], Plaintext=b"index.html")["CiphertextBlob"]
    out = s3.decrypt(CiphertextBlob=blob)
    assert out["Plaintext"] == b"index.html"
    assert out["KeyId"] == world["s3_key"]["Arn"]
    data_key = s3.generate_data_key(KeyId=world["s3_key"]["KeyId"], KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert s3.describe_key(KeyId=world["s3_key"]["KeyId"])["KeyMetadata"]["KeyId"] == world["s3_key"]["KeyId"]


def test_cloudfront_can_decrypt_but_not_encrypt_with_the_s3_key(world):
    blob = world["s3"].encrypt(KeyId=world["s3_key"]["Arn"], Plaintext=b"asset")["CiphertextBlob"]
    assert world["cloudfront"].decrypt(CiphertextBlob=blob)["Plaintext"] == b"asset"
    message = denied(world["cloudfront"], "encrypt", KeyId=world["s3_key"]["Arn"], Plaintext=b"x")
    assert message.startswith("User: cloudfront.amazonaws.com is not authorized to perform: kms:Encrypt"), message
    assert world["s3_key"]["Arn"] in message
    denied(world["cloudfront"], "generate_data_key", KeyId=world["s3_key"]["Arn"], KeySpec="AES_256")


def test_rds_credentials_are_denied_on_the_s3_key_and_use_their_own(world):
    blob = world["s3"].encrypt(KeyId=world["s3_key"]["Arn"], Plaintext=b"asset")["CiphertextBlob"]
    denied(world["rds"], "encrypt", KeyId=world["s3_key"]["Arn"], Plaintext=b"x")
    denied(world["rds"], "decrypt", CiphertextBlob=blob)
    denied(world["rds"], "describe_key", KeyId=world["s3_key"]["KeyId"])
    own = world["rds"].encrypt(KeyId=world["rds_key"]["Arn"], Plaintext=b"row")["CiphertextBlob"]
    assert world["rds"].decrypt(CiphertextBlob=own)["Plaintext"] == b"row"
    # The S3 service has no statement in the RDS key's policy.
    denied(world["s3"], "decrypt", CiphertextBlob=own)


def test_the_seed_s3_policy_gives_the_account_root_nothing(world):
    message = denied(world["root"], "describe_key", KeyId=world["s3_key"]["KeyId"])
    assert f"arn:aws:iam::{world['server'].account_id}:root" in message
    assert "no resource-based policy allows" in message


def test_service_credentials_are_no_iam_identity(world):
    c = world["creds"]["rds"]
    server = world["server"]
    for service, call in [("iam", "list_users"), ("sts", "get_session_token")]:
        client = server.client(service, access_key_id=c["access_key_id"], secret_access_key=c["secret_access_key"])
        with pytest.raises(botocore.exceptions.ClientError) as e:
            getattr(client, call)()
        assert e.value.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}, e.value.response
    # Nor may they create keys: CreateKey is an identity-based permission.
    denied(world["rds"], "create_key")


def test_service_credentials_need_a_service_name_and_a_known_account(world):
    data_dir = world["server"].data_dir
    bad_service = service_credentials(data_dir, world["server"].account_id, "rds")
    assert bad_service.returncode != 0
    assert b"service principal name" in bad_service.stderr
    unknown = service_credentials(data_dir, "999999999999", "rds.amazonaws.com")
    assert unknown.returncode != 0
    assert b"does not exist" in unknown.stderr
