"""The aws CLI (v1, from the venv) against keystead's Secrets Manager, as the README tells people
to use it: the seed's secret under alias/secrets-manager-encryption, replicated to us-west-2."""

from __future__ import annotations

import json

from keystead_harness import unique


def run_ok(server, *args, **kwargs):
    result = server.cli(*args, **kwargs)
    assert result.returncode == 0, (args, result.returncode, result.stderr.decode())
    return result


def run_json(server, *args, **kwargs) -> dict:
    return json.loads(run_ok(server, *args, "--output", "json", **kwargs).stdout)


def run_error(server, *args, **kwargs) -> str:
    result = server.cli(*args, **kwargs)
    assert result.returncode != 0, args
    return result.stderr.decode()


def test_seed_secret_end_to_end_with_the_cli(server):
    key = run_json(server, "kms", "create-key", "--description", "Secrets Manager")
    key_id = key["KeyMetadata"]["KeyId"]
    alias = f"alias/{unique('secrets-manager-encryption')}"
    run_ok(server, "kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id)

    name = unique("rds/contact-db/credentials")
    creds = json.dumps({"engine": "postgres", "host": "db", "username": "app", "password": "p1"})
    created = run_json(
        server,
        "secretsmanager",
        "create-secret",
        "--name",
        name,
        "--secret-string",
        creds,
        "--kms-key-id",
        alias,
        "--add-replica-regions",
        "Region=us-west-2",
    )
    assert created["Name"] == name
    assert created["ReplicationStatus"][0]["Status"] == "InSync"

    got = run_json(server, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert json.loads(got["SecretString"]) == json.loads(creds)
    west = run_json(
        server, "secretsmanager", "get-secret-value", "--secret-id", name, region="us-west-2"
    )
    assert west["SecretString"] == creds
    assert ":us-west-2:" in west["ARN"]

    # Disabling the key makes reads fail; enabling it restores them.
    run_ok(server, "kms", "disable-key", "--key-id", key_id)
    err = run_error(server, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert "DecryptionFailure" in err
    run_ok(server, "kms", "enable-key", "--key-id", key_id)
    run_json(server, "secretsmanager", "get-secret-value", "--secret-id", name)

    described = run_json(server, "secretsmanager", "describe-secret", "--secret-id", name)
    assert described["KmsKeyId"] == alias
    assert described["ReplicationStatus"][0]["Region"] == "us-west-2"


def test_cli_covers_the_everyday_operations(server):
    name = unique("cli")
    run_json(server, "secretsmanager", "create-secret", "--name", name, "--secret-string", "a")
    put = run_json(
        server, "secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "b"
    )
    assert put["VersionStages"] == ["AWSCURRENT"]
    run_ok(
        server,
        "secretsmanager",
        "update-secret",
        "--secret-id",
        name,
        "--description",
        "from the cli",
    )
    versions = run_json(server, "secretsmanager", "list-secret-version-ids", "--secret-id", name)
    assert len(versions["Versions"]) == 2
    listed = run_json(server, "secretsmanager", "list-secrets", "--filters", f"Key=name,Values={name}")
    assert [s["Name"] for s in listed["SecretList"]] == [name]
    run_ok(server, "secretsmanager", "tag-resource", "--secret-id", name, "--tags", "Key=env,Value=prod")
    password = run_json(server, "secretsmanager", "get-random-password", "--password-length", "24")
    assert len(password["RandomPassword"]) == 24

    err = run_error(
        server, "secretsmanager", "delete-secret", "--secret-id", name, "--recovery-window-in-days", "3"
    )
    assert "InvalidParameterException" in err
    deleted = run_json(server, "secretsmanager", "delete-secret", "--secret-id", name)
    assert "DeletionDate" in deleted
    err = run_error(server, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert "InvalidRequestException" in err
    run_json(server, "secretsmanager", "restore-secret", "--secret-id", name)
    got = run_json(server, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert got["SecretString"] == "b"
    run_json(
        server,
        "secretsmanager",
        "delete-secret",
        "--secret-id",
        name,
        "--force-delete-without-recovery",
    )
    err = run_error(server, "secretsmanager", "describe-secret", "--secret-id", name)
    assert "ResourceNotFoundException" in err
