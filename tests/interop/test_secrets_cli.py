"""The aws CLI (v1, from the venv) against keystead's Secrets Manager, as the README tells people
to use it: the seed's secret under alias/secrets-manager-encryption, replicated to us-west-2, then
every operation keystead serves, with its returned fields and at least one AWS error class for bad
input per family (the CLI's exit code and the error code it prints)."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

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
    listed = run_json(
        server, "secretsmanager", "list-secrets", "--filters", f"Key=name,Values={name}"
    )
    assert [s["Name"] for s in listed["SecretList"]] == [name]
    run_ok(
        server,
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        name,
        "--tags",
        "Key=env,Value=prod",
    )
    password = run_json(server, "secretsmanager", "get-random-password", "--password-length", "24")
    assert len(password["RandomPassword"]) == 24

    err = run_error(
        server,
        "secretsmanager",
        "delete-secret",
        "--secret-id",
        name,
        "--recovery-window-in-days",
        "3",
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


# --- every operation, one family at a time ------------------------------------------------------
#
# The CLI (v1) exits 255 when the service answers with an error and prints
# "An error occurred (CODE) when calling the OPERATION operation: MESSAGE" on stderr.

CLI_ERROR_EXIT = 255


def run_aws_error(server, code: str, *args, **kwargs) -> str:
    """Runs a command that the service must refuse with `code`; returns the message."""
    result = server.cli(*args, **kwargs)
    stderr = result.stderr.decode()
    assert result.returncode == CLI_ERROR_EXIT, (args, result.returncode, stderr)
    assert f"An error occurred ({code}) when calling the " in stderr, (args, stderr)
    return stderr


def sm(server, command: str, *args, **kwargs) -> dict:
    """`aws secretsmanager COMMAND ARGS --output json`, parsed."""
    out = run_ok(server, "secretsmanager", command, *args, "--output", "json", **kwargs).stdout
    return json.loads(out) if out.strip() else {}


def secret_arn_re(server, name: str, region: str = "us-east-1") -> str:
    prefix = f"arn:aws:secretsmanager:{region}:{server.account_id}:secret:"
    return rf"^{re.escape(prefix + name)}-[A-Za-z0-9]{{6}}$"


def test_create_describe_and_get_secret_value_with_the_cli(server, tmp_path):
    name = unique("cli/create")
    created = sm(
        server,
        "create-secret",
        "--name",
        name,
        "--description",
        "made by the cli",
        "--secret-string",
        '{"password":"p1"}',
        "--tags",
        "Key=team,Value=blue",
        "Key=env,Value=prod",
    )
    assert re.match(secret_arn_re(server, name), created["ARN"]), created
    assert created["Name"] == name
    version = created["VersionId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", version)

    described = sm(server, "describe-secret", "--secret-id", name)
    assert described["ARN"] == created["ARN"]
    assert described["Description"] == "made by the cli"
    assert described["VersionIdsToStages"] == {version: ["AWSCURRENT"]}
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"team": "blue", "env": "prod"}
    assert described["RotationEnabled"] is False
    assert described["PrimaryRegion"] == "us-east-1"
    assert "KmsKeyId" not in described
    assert described["CreatedDate"] > 1.7e9

    got = sm(server, "get-secret-value", "--secret-id", name)
    assert got["SecretString"] == '{"password":"p1"}'
    assert got["VersionId"] == version and got["VersionStages"] == ["AWSCURRENT"]
    assert got["ARN"] == created["ARN"] and got["Name"] == name
    # By full ARN, by version id and by stage.
    assert sm(server, "get-secret-value", "--secret-id", created["ARN"])["VersionId"] == version
    by_id = sm(server, "get-secret-value", "--secret-id", name, "--version-id", version)
    assert by_id["SecretString"] == '{"password":"p1"}'
    by_stage = sm(server, "get-secret-value", "--secret-id", name, "--version-stage", "AWSCURRENT")
    assert by_stage["VersionId"] == version

    # A binary secret from a file (fileb://) comes back base64 in the CLI's JSON.
    blob = b"\x00\x01binary\xff"
    (tmp_path / "secret.bin").write_bytes(blob)
    binary = unique("cli/binary")
    sm(
        server,
        "create-secret",
        "--name",
        binary,
        "--secret-binary",
        "fileb://secret.bin",
        cwd=tmp_path,
    )
    got = sm(server, "get-secret-value", "--secret-id", binary)
    assert base64.b64decode(got["SecretBinary"]) == blob
    assert "SecretString" not in got

    # Bad input.
    run_aws_error(
        server,
        "ResourceExistsException",
        "secretsmanager",
        "create-secret",
        "--name",
        name,
        "--secret-string",
        "again",
    )
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "create-secret",
        "--name",
        unique("cli/both"),
        "--secret-string",
        "s",
        "--secret-binary",
        "fileb://secret.bin",
        cwd=tmp_path,
    )
    # A space is not one of the characters a name may hold.
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "create-secret",
        "--name",
        "bad name",
        "--secret-string",
        "v",
    )
    message = run_aws_error(
        server,
        "ValidationException",
        "secretsmanager",
        "create-secret",
        "--name",
        "n" * 513,
        "--secret-string",
        "v",
    )
    assert "512" in message
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        unique("cli/missing"),
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        unique("cli/missing"),
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        name,
        "--version-stage",
        "NOPE",
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        name,
        "--version-id",
        str(uuid.uuid4()),
    )


def test_batch_get_secret_value_with_the_cli(server):
    prefix = unique("cli/batch")
    a, b = f"{prefix}/a", f"{prefix}/b"
    sm(server, "create-secret", "--name", a, "--secret-string", "A")
    sm(server, "create-secret", "--name", b, "--secret-string", "B")
    missing = unique("cli/missing")
    out = sm(server, "batch-get-secret-value", "--secret-id-list", a, b, missing)
    assert sorted((v["Name"], v["SecretString"]) for v in out["SecretValues"]) == [
        (a, "A"),
        (b, "B"),
    ]
    assert all(v["VersionStages"] == ["AWSCURRENT"] for v in out["SecretValues"])
    assert [(e["SecretId"], e["ErrorCode"]) for e in out["Errors"]] == [
        (missing, "ResourceNotFoundException")
    ]
    # By filter instead of a list.
    out = sm(server, "batch-get-secret-value", "--filters", f"Key=name,Values={prefix}")
    assert sorted(v["SecretString"] for v in out["SecretValues"]) == ["A", "B"]
    # Both a list and filters: AWS refuses.
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "batch-get-secret-value",
        "--secret-id-list",
        a,
        "--filters",
        f"Key=name,Values={prefix}",
    )


def test_put_secret_value_update_secret_version_stage_and_version_ids_with_the_cli(server):
    name = unique("cli/versions")
    created = sm(server, "create-secret", "--name", name, "--secret-string", "one")
    first = created["VersionId"]
    token = str(uuid.uuid4())
    put = sm(
        server,
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "two",
        "--client-request-token",
        token,
    )
    assert put["VersionId"] == token and put["VersionStages"] == ["AWSCURRENT"]
    assert put["Name"] == name
    # The same token and value again: the same version, nothing new.
    again = sm(
        server,
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "two",
        "--client-request-token",
        token,
    )
    assert again["VersionId"] == token
    # The same token with another value: ResourceExistsException.
    run_aws_error(
        server,
        "ResourceExistsException",
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "three",
        "--client-request-token",
        token,
    )
    previous = sm(server, "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS")
    assert previous["VersionId"] == first and previous["SecretString"] == "one"

    pending = sm(
        server,
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "three",
        "--version-stages",
        "AWSPENDING",
        "custom",
    )
    assert sorted(pending["VersionStages"]) == ["AWSPENDING", "custom"]
    pending_id = pending["VersionId"]
    assert (
        sm(server, "get-secret-value", "--secret-id", name, "--version-stage", "custom")[
            "SecretString"
        ]
        == "three"
    )

    # Moving AWSCURRENT needs RemoveFromVersionId naming the version that has it.
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "update-secret-version-stage",
        "--secret-id",
        name,
        "--version-stage",
        "AWSCURRENT",
        "--move-to-version-id",
        pending_id,
    )
    moved = sm(
        server,
        "update-secret-version-stage",
        "--secret-id",
        name,
        "--version-stage",
        "AWSCURRENT",
        "--move-to-version-id",
        pending_id,
        "--remove-from-version-id",
        token,
    )
    assert moved == {"ARN": created["ARN"], "Name": name}
    assert sm(server, "get-secret-value", "--secret-id", name)["SecretString"] == "three"
    assert (
        sm(server, "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS")[
            "VersionId"
        ]
        == token
    )
    sm(
        server,
        "update-secret-version-stage",
        "--secret-id",
        name,
        "--version-stage",
        "custom",
        "--remove-from-version-id",
        pending_id,
    )
    stages = sm(server, "describe-secret", "--secret-id", name)["VersionIdsToStages"]
    assert sorted(stages[pending_id]) == ["AWSCURRENT", "AWSPENDING"]
    assert stages[token] == ["AWSPREVIOUS"]
    assert first not in stages

    listed = sm(server, "list-secret-version-ids", "--secret-id", name)
    assert listed["Name"] == name
    assert {v["VersionId"] for v in listed["Versions"]} == {pending_id, token}
    everything = sm(server, "list-secret-version-ids", "--secret-id", name, "--include-deprecated")
    by_id = {v["VersionId"]: v.get("VersionStages", []) for v in everything["Versions"]}
    assert by_id[first] == []
    assert all("CreatedDate" in v for v in everything["Versions"])
    # One version a page, following NextToken (no CLI paginator for this one): the same versions.
    seen: list[str] = []
    page = {"NextToken": None}
    while "NextToken" in page:
        token_args = ["--next-token", page["NextToken"]] if page["NextToken"] else []
        page = sm(
            server,
            "list-secret-version-ids",
            "--secret-id",
            name,
            "--include-deprecated",
            "--max-results",
            "1",
            *token_args,
        )
        assert len(page["Versions"]) == 1
        seen += [v["VersionId"] for v in page["Versions"]]
    assert sorted(seen) == sorted(by_id)

    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "list-secret-version-ids",
        "--secret-id",
        unique("cli/missing"),
    )
    # A version id the secret does not have is a bad parameter (as AWS and moto answer).
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "update-secret-version-stage",
        "--secret-id",
        name,
        "--version-stage",
        "custom",
        "--move-to-version-id",
        str(uuid.uuid4()),
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        unique("cli/missing"),
        "--secret-string",
        "v",
    )


def test_update_secret_with_the_cli(server):
    name = unique("cli/update")
    sm(server, "create-secret", "--name", name, "--secret-string", "v1")
    key = run_json(server, "kms", "create-key")["KeyMetadata"]["KeyId"]
    out = sm(
        server, "update-secret", "--secret-id", name, "--description", "new", "--kms-key-id", key
    )
    assert out["Name"] == name and "VersionId" not in out
    out = sm(server, "update-secret", "--secret-id", name, "--secret-string", "v2")
    new_version = out["VersionId"]
    got = sm(server, "get-secret-value", "--secret-id", name)
    assert got["SecretString"] == "v2" and got["VersionId"] == new_version
    described = sm(server, "describe-secret", "--secret-id", name)
    assert described["Description"] == "new" and described["KmsKeyId"] == key
    versions = sm(server, "list-secret-version-ids", "--secret-id", name)["Versions"]
    keys = {v["VersionId"]: v["KmsKeyIds"][0] for v in versions}
    assert keys[new_version].endswith(key)
    previous = sm(server, "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS")
    assert previous["SecretString"] == "v1"

    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "update-secret",
        "--secret-id",
        unique("cli/missing"),
        "--description",
        "x",
    )
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "update-secret",
        "--secret-id",
        name,
        "--secret-string",
        "s",
        "--secret-binary",
        "aGk=",
    )


def test_list_secrets_filters_and_sort_order_with_the_cli(server):
    prefix = unique("cli/list")
    for i in range(4):
        sm(
            server,
            "create-secret",
            "--name",
            f"{prefix}/{i}",
            "--secret-string",
            "v",
            "--description",
            f"number {i}",
            "--tags",
            f"Key=team,Value={'blue' if i % 2 else 'red'}",
        )
    names = [f"{prefix}/{i}" for i in range(4)]

    def listed(*args) -> list[str]:
        return [s["Name"] for s in sm(server, "list-secrets", *args)["SecretList"]]

    by_name = f"Key=name,Values={prefix}"
    assert listed("--filters", by_name, "--sort-order", "asc") == names
    assert listed("--filters", by_name, "--sort-order", "desc") == list(reversed(names))
    # The CLI follows NextToken when the page is smaller than the result.
    assert listed("--filters", by_name, "--sort-order", "asc", "--page-size", "1") == names
    assert listed("--filters", by_name, "Key=tag-value,Values=blue") == [names[1], names[3]]
    assert listed("--filters", by_name, "Key=tag-key,Values=team") == names
    assert len(listed("--filters", by_name, "Key=tag-value,Values=!blue")) == 2
    assert listed("--filters", by_name, "Key=description,Values=number 2") == [names[2]]
    assert listed("--filters", f"Key=all,Values={prefix}", "--sort-by", "name") == names
    assert listed("--filters", by_name, "--sort-by", "name", "--sort-order", "desc") == list(
        reversed(names)
    )
    entry = sm(server, "list-secrets", "--filters", f"Key=name,Values={names[0]}")["SecretList"][0]
    assert entry["Description"] == "number 0"
    assert entry["Tags"] == [{"Key": "team", "Value": "red"}]
    assert list(entry["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]

    # A deleted secret is listed only with --include-planned-deletion.
    sm(server, "delete-secret", "--secret-id", names[0])
    assert listed("--filters", by_name) == names[1:]
    assert listed("--filters", by_name, "--include-planned-deletion") == names

    # Bad input: an unknown filter key (the model's enum) and a forged NextToken.
    run_aws_error(
        server,
        "ValidationException",
        "secretsmanager",
        "list-secrets",
        "--filters",
        "Key=colour,Values=x",
    )
    run_aws_error(
        server,
        "InvalidNextTokenException",
        "secretsmanager",
        "list-secrets",
        "--starting-token",
        "garbage",
        "--max-items",
        "1",
    )


def test_delete_secret_recovery_window_restore_and_force_delete_with_the_cli(server):
    name = unique("cli/delete")
    created = sm(server, "create-secret", "--name", name, "--secret-string", "v")
    for bad in ("6", "31"):
        run_aws_error(
            server,
            "InvalidParameterException",
            "secretsmanager",
            "delete-secret",
            "--secret-id",
            name,
            "--recovery-window-in-days",
            bad,
        )
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "delete-secret",
        "--secret-id",
        name,
        "--recovery-window-in-days",
        "7",
        "--force-delete-without-recovery",
    )
    before = time.time()
    deleted = sm(server, "delete-secret", "--secret-id", name, "--recovery-window-in-days", "7")
    assert deleted["ARN"] == created["ARN"] and deleted["Name"] == name
    assert abs(deleted["DeletionDate"] - (before + 7 * 86400)) < 120, deleted
    assert "DeletedDate" in sm(server, "describe-secret", "--secret-id", name)
    # A secret scheduled for deletion can be neither read, changed nor created again.
    run_aws_error(
        server, "InvalidRequestException", "secretsmanager", "get-secret-value", "--secret-id", name
    )
    run_aws_error(
        server,
        "InvalidRequestException",
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "w",
    )
    run_aws_error(
        server,
        "InvalidRequestException",
        "secretsmanager",
        "create-secret",
        "--name",
        name,
        "--secret-string",
        "w",
    )

    restored = sm(server, "restore-secret", "--secret-id", name)
    assert restored == {"ARN": created["ARN"], "Name": name}
    assert "DeletedDate" not in sm(server, "describe-secret", "--secret-id", name)
    assert sm(server, "get-secret-value", "--secret-id", name)["SecretString"] == "v"

    forced = sm(server, "delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    assert forced["Name"] == name and "DeletionDate" in forced
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        name,
    )
    run_aws_error(
        server, "ResourceNotFoundException", "secretsmanager", "restore-secret", "--secret-id", name
    )
    run_aws_error(
        server, "ResourceNotFoundException", "secretsmanager", "delete-secret", "--secret-id", name
    )
    # The name is free at once.
    sm(server, "create-secret", "--name", name, "--secret-string", "again")


def test_rotate_secret_and_cancel_rotate_secret_with_the_cli(server):
    # A database secret needs no RotationLambdaARN: the built-in PostgreSQL rotator takes it
    # ("postgresql" as well as "postgres"). Not rotated now, so no database is needed.
    name = unique("cli/rds")
    creds = {"engine": "postgresql", "host": "db.invalid", "username": "app", "password": "p1"}
    created = sm(server, "create-secret", "--name", name, "--secret-string", json.dumps(creds))
    out = sm(
        server,
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-rules",
        '{"AutomaticallyAfterDays": 30}',
        "--no-rotate-immediately",
    )
    assert out["ARN"] == created["ARN"] and out["Name"] == name
    assert "VersionId" not in out, "nothing rotates until the schedule says so"
    described = sm(server, "describe-secret", "--secret-id", name)
    assert described["RotationEnabled"] is True
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert time.time() + 28 * 86400 < described["NextRotationDate"] < time.time() + 31 * 86400
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}

    # A schedule expression with a window, and a Lambda ARN kept for the record.
    lambda_arn = f"arn:aws:lambda:us-east-1:{server.account_id}:function:rotator"
    out = sm(
        server,
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-lambda-arn",
        lambda_arn,
        "--rotation-rules",
        '{"ScheduleExpression": "cron(0 4 ? * SUN *)", "Duration": "3h"}',
        "--no-rotate-immediately",
    )
    assert out["Name"] == name
    described = sm(server, "describe-secret", "--secret-id", name)
    assert described["RotationLambdaARN"] == lambda_arn
    assert described["RotationRules"]["ScheduleExpression"] == "cron(0 4 ? * SUN *)"
    assert described["RotationRules"]["Duration"] == "3h"

    cancelled = sm(server, "cancel-rotate-secret", "--secret-id", name)
    assert cancelled["ARN"] == created["ARN"] and cancelled["Name"] == name
    described = sm(server, "describe-secret", "--secret-id", name)
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described

    # Bad input.
    plain = unique("cli/plain")
    sm(server, "create-secret", "--name", plain, "--secret-string", "not a database secret")
    run_aws_error(
        server, "InvalidRequestException", "secretsmanager", "rotate-secret", "--secret-id", plain
    )
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        plain,
        "--rotation-lambda-arn",
        "not-a-lambda-arn",
    )
    run_aws_error(
        server,
        "ValidationException",
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-rules",
        '{"AutomaticallyAfterDays": 5000}',
        "--no-rotate-immediately",
    )
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-rules",
        '{"ScheduleExpression": "rate(2 years)"}',
        "--no-rotate-immediately",
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        unique("cli/missing"),
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "cancel-rotate-secret",
        "--secret-id",
        unique("cli/missing"),
    )


def test_get_random_password_with_the_cli(server):
    p = sm(server, "get-random-password", "--password-length", "40", "--exclude-punctuation")[
        "RandomPassword"
    ]
    assert len(p) == 40 and p.isalnum()
    p = sm(server, "get-random-password", "--exclude-characters", "abcdefghijklmnopqrstuvwxyz")[
        "RandomPassword"
    ]
    assert len(p) == 32 and not any(c.islower() for c in p)
    p = sm(
        server,
        "get-random-password",
        "--password-length",
        "12",
        "--exclude-numbers",
        "--exclude-punctuation",
        "--include-space",
        "--require-each-included-type",
    )["RandomPassword"]
    assert len(p) == 12 and not any(c.isdigit() for c in p)
    # RequireEachIncludedType means letters of both cases here (space is not one of the types).
    assert any(c.islower() for c in p) and any(c.isupper() for c in p)
    assert all(c.isalpha() or c == " " for c in p)
    p = sm(
        server,
        "get-random-password",
        "--exclude-uppercase",
        "--exclude-lowercase",
        "--exclude-punctuation",
    )
    assert p["RandomPassword"].isdigit()
    # Above the model's 4096: the wire layer's ValidationException.
    run_aws_error(
        server,
        "ValidationException",
        "secretsmanager",
        "get-random-password",
        "--password-length",
        "5000",
    )
    # Everything excluded: nothing to draw from.
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "get-random-password",
        "--exclude-uppercase",
        "--exclude-lowercase",
        "--exclude-numbers",
        "--exclude-punctuation",
    )


def test_tag_resource_and_untag_resource_with_the_cli(server):
    name = unique("cli/tags")
    sm(server, "create-secret", "--name", name, "--secret-string", "v", "--tags", "Key=a,Value=1")
    out = run_ok(
        server,
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        name,
        "--tags",
        "Key=b,Value=2",
        "Key=a,Value=3",
    )
    assert out.stdout.strip() == b""
    tags = {
        t["Key"]: t["Value"] for t in sm(server, "describe-secret", "--secret-id", name)["Tags"]
    }
    assert tags == {"a": "3", "b": "2"}
    out = run_ok(
        server,
        "secretsmanager",
        "untag-resource",
        "--secret-id",
        name,
        "--tag-keys",
        "a",
        "missing",
    )
    assert out.stdout.strip() == b""
    assert sm(server, "describe-secret", "--secret-id", name)["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]

    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        unique("cli/missing"),
        "--tags",
        "Key=a,Value=1",
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "untag-resource",
        "--secret-id",
        unique("cli/missing"),
        "--tag-keys",
        "a",
    )
    # AWS reserves the aws: prefix.
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        name,
        "--tags",
        "Key=aws:owner,Value=1",
    )
    # A key longer than the model's 128 characters.
    run_aws_error(
        server,
        "ValidationException",
        "secretsmanager",
        "tag-resource",
        "--secret-id",
        name,
        "--tags",
        f"Key={'k' * 129},Value=1",
    )


def test_resource_policies_with_the_cli(server, tmp_path):
    name = unique("cli/policy")
    arn = sm(server, "create-secret", "--name", name, "--secret-string", "v")["ARN"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    ok = sm(
        server, "validate-resource-policy", "--resource-policy", "file://policy.json", cwd=tmp_path
    )
    assert ok["PolicyValidationPassed"] is True
    assert ok.get("ValidationErrors", []) == []
    ok = sm(
        server,
        "validate-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://policy.json",
        cwd=tmp_path,
    )
    assert ok["PolicyValidationPassed"] is True
    bad = sm(server, "validate-resource-policy", "--resource-policy", '{"Statement": 7}')
    assert bad["PolicyValidationPassed"] is False
    assert bad["ValidationErrors"] and bad["ValidationErrors"][0]["ErrorMessage"]

    put = sm(
        server,
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://policy.json",
        cwd=tmp_path,
    )
    assert put == {"ARN": arn, "Name": name}
    got = sm(server, "get-resource-policy", "--secret-id", name)
    assert got["ARN"] == arn and got["Name"] == name
    assert json.loads(got["ResourcePolicy"]) == policy
    deleted = sm(server, "delete-resource-policy", "--secret-id", name)
    assert deleted == {"ARN": arn, "Name": name}
    assert "ResourcePolicy" not in sm(server, "get-resource-policy", "--secret-id", name)

    # --block-public-policy refuses a wildcard principal and keeps the policy in place.
    put = sm(
        server,
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://policy.json",
        "--block-public-policy",
        cwd=tmp_path,
    )
    assert put == {"ARN": arn, "Name": name}
    public = dict(policy, Statement=[dict(policy["Statement"][0], Principal="*")])
    (tmp_path / "public.json").write_text(json.dumps(public))
    run_aws_error(
        server,
        "PublicPolicyException",
        "secretsmanager",
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "file://public.json",
        "--block-public-policy",
        cwd=tmp_path,
    )
    got = sm(server, "get-resource-policy", "--secret-id", name)
    assert json.loads(got["ResourcePolicy"]) == policy
    sm(server, "delete-resource-policy", "--secret-id", name)

    run_aws_error(
        server,
        "MalformedPolicyDocumentException",
        "secretsmanager",
        "put-resource-policy",
        "--secret-id",
        name,
        "--resource-policy",
        "not json",
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "put-resource-policy",
        "--secret-id",
        unique("cli/missing"),
        "--resource-policy",
        "file://policy.json",
        cwd=tmp_path,
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "get-resource-policy",
        "--secret-id",
        unique("cli/missing"),
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "delete-resource-policy",
        "--secret-id",
        unique("cli/missing"),
    )


def test_replication_operations_with_the_cli(server):
    west_key = run_json(server, "kms", "create-key", region="us-west-2")["KeyMetadata"]["KeyId"]
    name = unique("cli/replicated")
    created = sm(server, "create-secret", "--name", name, "--secret-string", "v1")
    out = sm(
        server,
        "replicate-secret-to-regions",
        "--secret-id",
        name,
        "--add-replica-regions",
        f"Region=us-west-2,KmsKeyId={west_key}",
    )
    assert out["ARN"] == created["ARN"]
    [status] = out["ReplicationStatus"]
    assert (status["Region"], status["KmsKeyId"], status["Status"]) == (
        "us-west-2",
        west_key,
        "InSync",
    )

    west = sm(server, "get-secret-value", "--secret-id", name, region="us-west-2")
    assert west["SecretString"] == "v1"
    assert west["ARN"] == created["ARN"].replace(":us-east-1:", ":us-west-2:")
    replica = sm(server, "describe-secret", "--secret-id", name, region="us-west-2")
    assert replica["PrimaryRegion"] == "us-east-1"
    sm(server, "put-secret-value", "--secret-id", name, "--secret-string", "v2")
    assert (
        sm(server, "get-secret-value", "--secret-id", name, region="us-west-2")["SecretString"]
        == "v2"
    )
    # The replica is read-only.
    run_aws_error(
        server,
        "InvalidRequestException",
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "nope",
        region="us-west-2",
    )

    removed = sm(
        server,
        "remove-regions-from-replication",
        "--secret-id",
        name,
        "--remove-replica-regions",
        "us-west-2",
    )
    assert removed["ARN"] == created["ARN"]
    assert removed.get("ReplicationStatus", []) == []
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        name,
        region="us-west-2",
    )

    # Replicated again (default key), then promoted to a standalone secret in us-west-2.
    out = sm(
        server,
        "replicate-secret-to-regions",
        "--secret-id",
        name,
        "--add-replica-regions",
        "Region=us-west-2",
    )
    assert out["ReplicationStatus"][0]["Status"] == "InSync"
    # A primary is not a replica: nothing to stop.
    run_aws_error(
        server,
        "InvalidRequestException",
        "secretsmanager",
        "stop-replication-to-replica",
        "--secret-id",
        name,
    )
    promoted = sm(server, "stop-replication-to-replica", "--secret-id", name, region="us-west-2")
    assert promoted["ARN"] == created["ARN"].replace(":us-east-1:", ":us-west-2:")
    assert "ReplicationStatus" not in sm(server, "describe-secret", "--secret-id", name)
    sm(
        server,
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        "standalone",
        region="us-west-2",
    )
    assert sm(server, "get-secret-value", "--secret-id", name)["SecretString"] == "v2"

    # Bad input: the primary's own region, and a malformed one (the model's pattern).
    other = unique("cli/replicated")
    sm(server, "create-secret", "--name", other, "--secret-string", "v")
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "replicate-secret-to-regions",
        "--secret-id",
        other,
        "--add-replica-regions",
        "Region=us-east-1",
    )
    run_aws_error(
        server,
        "ValidationException",
        "secretsmanager",
        "replicate-secret-to-regions",
        "--secret-id",
        other,
        "--add-replica-regions",
        "Region=not a region",
    )
    run_aws_error(
        server,
        "InvalidParameterException",
        "secretsmanager",
        "remove-regions-from-replication",
        "--secret-id",
        other,
        "--remove-replica-regions",
        "eu-west-1",
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "remove-regions-from-replication",
        "--secret-id",
        unique("cli/missing"),
        "--remove-replica-regions",
        "us-west-2",
    )
    run_aws_error(
        server,
        "ResourceNotFoundException",
        "secretsmanager",
        "stop-replication-to-replica",
        "--secret-id",
        unique("cli/missing"),
        region="us-west-2",
    )
