"""`keystead account create`: a second account with its own root credentials, so that
cross-account use can be set up and tested with real signed requests (no --dev)."""

import configparser
import json
import re
import subprocess

import botocore.exceptions
import pytest

from keystead_harness import hermetic_env, keystead_bin


def create_account(data_dir) -> dict:
    result = subprocess.run(
        [str(keystead_bin()), "account", "create", "--data-dir", str(data_dir)],
        capture_output=True,
        env=hermetic_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    account = re.search(r"^account id:\s+(\d{12})\s*$", out, re.M).group(1)
    ini = configparser.ConfigParser()
    ini.read(data_dir / "credentials")
    profile = ini[f"keystead-{account}"]
    assert profile["aws_access_key_id"] in out, "the new key is announced once"
    return {
        "account": account,
        "access_key_id": profile["aws_access_key_id"],
        "secret_access_key": profile["aws_secret_access_key"],
    }


def test_account_create_needs_an_initialized_data_dir(tmp_path):
    result = subprocess.run(
        [str(keystead_bin()), "account", "create", "--data-dir", str(tmp_path / "nothing")],
        capture_output=True,
        env=hermetic_env(),
        timeout=60,
    )
    assert result.returncode != 0
    assert b"keystead init" in result.stderr


def test_a_created_account_signs_in_after_a_restart_and_is_isolated_until_shared(server_factory):
    server = server_factory()
    key = server.client("kms").create_key()["KeyMetadata"]
    server.stop()
    other = create_account(server.data_dir)
    server.start()  # on a new port: make clients afterwards
    owner = server.client("kms")

    sts = server.client(
        "sts", access_key_id=other["access_key_id"], secret_access_key=other["secret_access_key"]
    )
    assert sts.get_caller_identity()["Account"] == other["account"]
    kms_b = server.client(
        "kms", access_key_id=other["access_key_id"], secret_access_key=other["secret_access_key"]
    )
    assert kms_b.list_keys()["Keys"] == [], "the new account starts empty"

    # The owner's default key policy names only the owner's account.
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        kms_b.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert other["account"] in denied.value.response["Error"]["Message"]

    # Once the key policy also allows the other account, it can use the key by ARN.
    policy = json.loads(owner.get_key_policy(KeyId=key["KeyId"])["Policy"])
    policy["Statement"].append(
        {
            "Sid": "Share",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other['account']}:root"},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
        }
    )
    owner.put_key_policy(KeyId=key["KeyId"], Policy=json.dumps(policy))
    blob = kms_b.encrypt(KeyId=key["Arn"], Plaintext=b"shared")["CiphertextBlob"]
    assert owner.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    with pytest.raises(botocore.exceptions.ClientError) as still_denied:
        kms_b.disable_key(KeyId=key["Arn"])
    assert still_denied.value.response["Error"]["Code"] == "AccessDeniedException"
