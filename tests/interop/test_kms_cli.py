"""The aws CLI (v1, from the venv) against keystead, as the README tells people to use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from keystead_harness import KEY_ID_RE, hermetic_env, unique, wrong_secret


def run_ok(server, *args, **kwargs) -> subprocess.CompletedProcess:
    result = server.cli(*args, **kwargs)
    assert result.returncode == 0, (args, result.returncode, result.stderr.decode())
    return result


def run_json(server, *args, **kwargs) -> dict:
    return json.loads(run_ok(server, *args, "--output", "json", **kwargs).stdout)


def test_create_key_alias_encrypt_decrypt_list_and_describe(server, tmp_path):
    created = run_json(server, "kms", "create-key", "--description", "RDS contact-db")
    md = created["KeyMetadata"]
    key_id = md["KeyId"]
    assert KEY_ID_RE.match(key_id)
    assert md["Arn"] == server.key_arn(key_id)
    assert md["KeyState"] == "Enabled"

    alias = f"alias/{unique('rds-encryption-contact-db')}"
    result = run_ok(server, "kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id)
    assert result.stdout.strip() == b""

    secret = os.urandom(64) + b"contact form secret\n"
    (tmp_path / "plain.bin").write_bytes(secret)
    ciphertext_b64 = run_ok(
        server,
        "kms",
        "encrypt",
        "--key-id",
        alias,
        "--plaintext",
        "fileb://plain.bin",
        "--encryption-context",
        "purpose=cli-test",
        "--output",
        "text",
        "--query",
        "CiphertextBlob",
        cwd=tmp_path,
    ).stdout.strip()
    # The documented recipe: base64 -d the CiphertextBlob into a file, then decrypt it.
    subprocess.run(
        ["bash", "-c", "set -o pipefail; base64 -d > cipher.bin"],
        input=ciphertext_b64,
        cwd=tmp_path,
        check=True,
    )
    decrypt = subprocess.run(
        [
            "bash",
            "-c",
            'set -o pipefail; "$PYTHON" -m awscli kms decrypt --ciphertext-blob fileb://cipher.bin '
            '--encryption-context purpose=cli-test --endpoint-url "$ENDPOINT" '
            "--output text --query Plaintext | base64 -d > decrypted.bin",
        ],
        cwd=tmp_path,
        env=cli_env(server),
        capture_output=True,
    )
    assert decrypt.returncode == 0, decrypt.stderr.decode()
    assert (tmp_path / "decrypted.bin").read_bytes() == secret

    decrypted = run_json(
        server,
        "kms",
        "decrypt",
        "--ciphertext-blob",
        "fileb://cipher.bin",
        "--encryption-context",
        "purpose=cli-test",
        cwd=tmp_path,
    )
    assert decrypted["KeyId"] == md["Arn"]
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"

    aliases = run_json(server, "kms", "list-aliases", "--key-id", key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [alias]
    assert aliases[0]["AliasArn"] == server.alias_arn(alias)
    assert aliases[0]["TargetKeyId"] == key_id
    everything = run_json(server, "kms", "list-aliases")["Aliases"]
    assert alias in {a["AliasName"] for a in everything}

    described = run_json(server, "kms", "describe-key", "--key-id", alias)["KeyMetadata"]
    assert described["KeyId"] == key_id
    assert described["Description"] == "RDS contact-db"
    state = run_ok(
        server,
        "kms",
        "describe-key",
        "--key-id",
        key_id,
        "--output",
        "text",
        "--query",
        "KeyMetadata.KeyState",
    ).stdout.strip()
    assert state == b"Enabled"


def test_list_keys_pages_through_everything_with_a_small_page_size(server):
    mine = {run_json(server, "kms", "create-key")["KeyMetadata"]["KeyId"] for _ in range(3)}
    # The CLI follows NextMarker by itself; --page-size 1 forces a request per key.
    keys = run_json(server, "kms", "list-keys", "--page-size", "1")["Keys"]
    ids = [k["KeyId"] for k in keys]
    assert len(ids) == len(set(ids))
    assert mine <= set(ids)


def test_an_unknown_key_fails_with_exit_code_254_and_the_error_code(server):
    result = server.cli("kms", "describe-key", "--key-id", "alias/" + unique("does-not-exist"))
    assert result.returncode in (254, 255), result.returncode
    stderr = result.stderr.decode()
    assert "NotFoundException" in stderr
    assert "DescribeKey" in stderr
    assert result.stdout == b""


def test_a_bad_signature_fails_with_the_error_code(server):
    result = server.cli(
        "kms", "list-keys", env={"AWS_SECRET_ACCESS_KEY": wrong_secret(server.secret_access_key)}
    )
    assert result.returncode in (254, 255), result.returncode
    assert "InvalidSignatureException" in result.stderr.decode()


def cli_env(server) -> dict:
    """The environment for running the CLI from a shell pipeline."""
    env = hermetic_env()
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key_id,
        AWS_SECRET_ACCESS_KEY=server.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        PYTHON=sys.executable,
        ENDPOINT=server.url,
    )
    return env
