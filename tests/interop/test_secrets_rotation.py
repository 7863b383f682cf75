"""Secrets Manager rotation end to end, with boto3 against a real keystead and a real
PostgreSQL (admin/pg; $KEYSTEAD_TEST_PG_URL): the seed's database secret rotated with the
built-in single-user rotator and read back from its us-west-2 replica, alternating users, an
HTTP hook rotator that verifies keystead's signature and does the steps through the API as a
rotation Lambda would, a crash between steps followed by a restart, a failed rotation, and a
scheduled rotation run by the worker when the test clock moves."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

import keystead_harness
from keystead_harness import REPO, unique

WAIT = 60.0
HOOK_CONTEXT = b"keystead-rotation-hook-v1"
PUBLIC_KEY_FILE = "rotation-hook-signing.pub.pem"


# --- PostgreSQL --------------------------------------------------------------------------------


def pg_url() -> str | None:
    if os.environ.get("KEYSTEAD_TEST_PG_URL"):
        return os.environ["KEYSTEAD_TEST_PG_URL"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    state = Path(os.environ.get("KEYSTEAD_PG_STATE", target / "pg"))
    url_file = state / "url"
    return url_file.read_text().strip() if url_file.exists() else None


@pytest.fixture(scope="module")
def pg():
    url = pg_url()
    if not url:
        message = "no PostgreSQL: run ./admin/pg start (admin/test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    parts = urlsplit(url)
    return {"url": url, "host": parts.hostname, "port": parts.port or 5432}


def superuser(pg):
    return psycopg.connect(pg["url"], autocommit=True, connect_timeout=10)


def create_role(pg, *, createrole: bool = False) -> tuple[str, str]:
    """A new login role with a random password; returns (name, password)."""
    name = "ks_" + uuid.uuid4().hex[:12]
    password = "P" + uuid.uuid4().hex
    with superuser(pg) as conn:
        extra = " CREATEROLE" if createrole else ""
        conn.execute(f"CREATE ROLE {name} LOGIN{extra} PASSWORD '{password}'")
    return name, password


def can_login(pg, username: str, password: str) -> bool:
    try:
        with psycopg.connect(
            host=pg["host"],
            port=pg["port"],
            user=username,
            password=password,
            dbname="postgres",
            connect_timeout=10,
        ) as conn:
            return conn.execute("SELECT current_user").fetchone()[0] == username
    except psycopg.OperationalError:
        return False


def db_secret(pg, username: str, password: str, **extra) -> str:
    return json.dumps(
        {
            "engine": "postgres",
            "host": pg["host"],
            "port": pg["port"],
            "username": username,
            "password": password,
            "dbname": "postgres",
            **extra,
        }
    )


# --- servers -------------------------------------------------------------------------------------


@pytest.fixture
def extra_env(monkeypatch):
    """Environment added to the servers this test starts (the harness strips KEYSTEAD_*)."""
    env: dict = {}
    original = keystead_harness.hermetic_env

    def patched() -> dict:
        out = original()
        out.update(env)
        return out

    monkeypatch.setattr(keystead_harness, "hermetic_env", patched)
    return env


def wait_for(what: str, predicate, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def current_version(sm, secret_id: str) -> str:
    stages = sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if "AWSCURRENT" in labels)


def wait_rotated(sm, secret_id: str, old_version: str, server=None) -> str:
    def moved():
        if server is not None and server.proc.poll() is not None:
            raise AssertionError(f"keystead exited\n{server.stderr()[-4000:]}")
        v = current_version(sm, secret_id)
        return v if v != old_version else None

    return wait_for("AWSCURRENT to move", moved)


def value(sm, secret_id: str, **kwargs) -> dict:
    return json.loads(sm.get_secret_value(SecretId=secret_id, **kwargs)["SecretString"])


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --- tests ---------------------------------------------------------------------------------------


def test_the_seed_secret_rotates_against_postgres_and_its_replica_follows(server_factory, pg):
    server = server_factory()
    kms = server.client()
    sm = server.client("secretsmanager")
    sm_west = server.client("secretsmanager", region="us-west-2")
    key = kms.create_key(Description="Secrets Manager encryption")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/secrets-manager-encryption", TargetKeyId=key)
    user, old_password = create_role(pg)
    assert can_login(pg, user, old_password)
    name = "rds/contact-db/credentials"
    created = sm.create_secret(
        Name=name,
        SecretString=db_secret(pg, user, old_password),
        KmsKeyId="alias/secrets-manager-encryption",
        AddReplicaRegions=[{"Region": "us-west-2"}],
    )
    first = created["VersionId"]

    out = sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 30})
    assert out["ARN"] == created["ARN"]
    token = out["VersionId"]
    assert token and token != first

    assert wait_rotated(sm, name, first, server) == token
    new = value(sm, name)
    assert new["username"] == user
    assert new["password"] != old_password
    assert new["host"] == pg["host"] and new["engine"] == "postgres"
    assert can_login(pg, user, new["password"]), "the new password works"
    assert not can_login(pg, user, old_password), "the old password is refused"
    assert value(sm, name, VersionStage="AWSPREVIOUS")["password"] == old_password

    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "LastRotatedDate" in described
    assert described["NextRotationDate"] > described["LastRotatedDate"]
    assert "AWSPENDING" not in json.dumps(described["VersionIdsToStages"])

    def replica_has_new_value():
        return value(sm_west, name)["password"] == new["password"]

    wait_for("the replica to follow", replica_has_new_value)
    assert value(sm_west, name, VersionStage="AWSPREVIOUS")["password"] == old_password


def test_alternating_users_keep_the_current_login_working(server_factory, pg):
    server = server_factory()
    sm = server.client("secretsmanager")
    master_user, master_password = create_role(pg, createrole=True)
    master = sm.create_secret(
        Name=unique("rds/master"), SecretString=db_secret(pg, master_user, master_password)
    )
    user, password = create_role(pg)
    name = unique("rds/app")
    created = sm.create_secret(
        Name=name, SecretString=db_secret(pg, user, password, masterarn=master["ARN"])
    )
    sm.rotate_secret(SecretId=name, RotationRules={"ScheduleExpression": "rate(10 days)"})
    second = wait_rotated(sm, name, created["VersionId"], server)
    rotated = value(sm, name)
    assert rotated["username"] == f"{user}_clone"
    assert rotated["masterarn"] == master["ARN"]
    assert can_login(pg, rotated["username"], rotated["password"])
    assert can_login(pg, user, password), "the previous user still logs in"

    # The next rotation (once the first is recorded) goes back to the first user.
    wait_for(
        "the rotation to be recorded",
        lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name),
    )
    sm.rotate_secret(SecretId=name)
    wait_rotated(sm, name, second, server)
    again = value(sm, name)
    assert again["username"] == user
    assert again["password"] != password
    assert can_login(pg, user, again["password"])
    assert can_login(pg, rotated["username"], rotated["password"])


class Hook:
    """A rotation "Lambda": verifies keystead's signature, then does each step with boto3."""

    def __init__(self):
        self.steps: list[str] = []
        self.rejected: list[str] = []
        self.public_key = None
        self.sm = None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/rotate"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def verify(self, headers, body: bytes) -> None:
        timestamp = headers["x-keystead-timestamp"]
        assert abs(int(timestamp) - time.time()) < 300, "timestamp too far"
        signature = base64.b64decode(headers["x-keystead-signature"])
        self.public_key.verify(signature, HOOK_CONTEXT + b"\n" + timestamp.encode() + b"\n" + body)

    def step(self, event: dict) -> None:
        sm, secret_id, token = self.sm, event["SecretId"], event["ClientRequestToken"]
        stages = sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
        if "AWSCURRENT" in stages.get(token, []):
            return
        if event["Step"] == "createSecret":
            try:
                sm.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
            except ClientError:
                password = sm.get_random_password(ExcludePunctuation=True)["RandomPassword"]
                sm.put_secret_value(
                    SecretId=secret_id,
                    ClientRequestToken=token,
                    SecretString=json.dumps({"api_key": password}),
                    VersionStages=["AWSPENDING"],
                )
        elif event["Step"] == "finishSecret":
            current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
            sm.update_secret_version_stage(
                SecretId=secret_id,
                VersionStage="AWSCURRENT",
                MoveToVersionId=token,
                RemoveFromVersionId=current,
            )

    def _handler(self):
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    hook.verify({k.lower(): v for k, v in self.headers.items()}, body)
                except (InvalidSignature, KeyError, AssertionError, ValueError) as e:
                    hook.rejected.append(repr(e))
                    self._answer(403, {"errorMessage": "bad signature"})
                    return
                event = json.loads(body)
                hook.steps.append(event["Step"])
                try:
                    hook.step(event)
                except Exception as e:  # noqa: BLE001 - reported to keystead as a failed step
                    self._answer(500, {"errorMessage": str(e)})
                    return
                self._answer(200, {})

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def test_an_http_hook_rotates_a_secret_through_the_api_like_a_lambda(
    server_factory, extra_env, tmp_path
):
    hook = Hook()
    try:
        config = tmp_path / "keystead.toml"
        config.write_text(f'[rotation.hooks]\nrotate-api-key = "{hook.url}"\n')
        extra_env["KEYSTEAD_CONFIG"] = str(config)
        server = server_factory()
        hook.public_key = load_pem_public_key(
            (server.data_dir / PUBLIC_KEY_FILE).read_bytes()
        )
        hook.sm = server.client("secretsmanager")
        sm = server.client("secretsmanager")
        name = unique("api-key")
        created = sm.create_secret(Name=name, SecretString=json.dumps({"api_key": "first"}))
        lambda_arn = f"arn:aws:lambda:us-east-1:{server.account_id}:function:rotate-api-key"
        token = str(uuid.uuid4())
        out = sm.rotate_secret(SecretId=name, RotationLambdaARN=lambda_arn, ClientRequestToken=token)
        assert out["VersionId"] == token
        assert wait_rotated(sm, name, created["VersionId"], server) == token
        wait_for("the rotation to be recorded", lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name))
        assert hook.rejected == []
        assert hook.steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
        assert value(sm, name)["api_key"] != "first"
        assert value(sm, name, VersionStage="AWSPREVIOUS")["api_key"] == "first"
        assert sm.describe_secret(SecretId=name)["RotationLambdaARN"] == lambda_arn

        # A Lambda ARN that names no configured hook cannot rotate now.
        with pytest.raises(ClientError) as e:
            sm.rotate_secret(
                SecretId=name,
                RotationLambdaARN=f"arn:aws:lambda:us-east-1:{server.account_id}:function:nope",
            )
        assert code(e) == "InvalidParameterException"
    finally:
        hook.httpd.shutdown()


@pytest.mark.parametrize("crash_after", ["createSecret", "setSecret"])
def test_a_crash_between_steps_resumes_after_restart(server_factory, extra_env, pg, crash_after):
    extra_env["KEYSTEAD_DANGER_CRASH_AFTER_ROTATION_STEP"] = crash_after
    server = server_factory(test_clock=True)
    sm = server.client("secretsmanager")
    user, old_password = create_role(pg)
    name = unique("rds/crash")
    created = sm.create_secret(Name=name, SecretString=db_secret(pg, user, old_password))
    token = sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 7})["VersionId"]
    server.proc.wait(WAIT)
    assert server.proc.returncode != 0, "the test switch aborts the process"
    assert "TEST SWITCH: aborting after this rotation step" in server.stderr()

    # Down between steps: AWSCURRENT is unchanged; single-user semantics say which password
    # the database accepts (the current one until setSecret, the pending one after it).
    if crash_after == "createSecret":
        assert can_login(pg, user, old_password), "AWSCURRENT still works"
    else:
        assert not can_login(pg, user, old_password)

    del extra_env["KEYSTEAD_DANGER_CRASH_AFTER_ROTATION_STEP"]
    server.start()
    sm = server.client("secretsmanager")
    assert wait_rotated(sm, name, created["VersionId"], server) == token
    new = value(sm, name)
    assert can_login(pg, user, new["password"]), "the new AWSCURRENT works"
    assert not can_login(pg, user, old_password)
    assert value(sm, name, VersionStage="AWSPREVIOUS")["password"] == old_password
    wait_for("the rotation to be recorded", lambda: "LastRotatedDate" in sm.describe_secret(SecretId=name))


def test_a_failed_rotation_keeps_awscurrent_and_stays_pending(server_factory, pg):
    server = server_factory()
    sm = server.client("secretsmanager")
    user, password = create_role(pg)
    name = unique("rds/broken")
    # The secret's password is wrong: setSecret cannot log in.
    created = sm.create_secret(Name=name, SecretString=db_secret(pg, user, "wrong-" + password))
    token = sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 1})["VersionId"]
    wait_for("the failure to be logged", lambda: "secret rotation failed" in server.stderr())
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    stages = described["VersionIdsToStages"]
    assert stages[created["VersionId"]] == ["AWSCURRENT"]
    assert stages[token] == ["AWSPENDING"]
    assert value(sm, name)["password"] == "wrong-" + password
    assert can_login(pg, user, password), "nothing changed in the database"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=name)
    assert code(e) == "InvalidRequestException"


def test_rotate_secret_refuses_bad_input_as_aws_does(server_factory, pg):
    server = server_factory()
    sm = server.client("secretsmanager")
    plain = unique("plain")
    sm.create_secret(Name=plain, SecretString="not a database secret")
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=plain)
    assert code(e) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(
            SecretId=plain,
            RotationLambdaARN="keystead:postgres-single-user",
            RotationRules={"AutomaticallyAfterDays": 5000},
        )
    # Out of the model's range: the wire layer's ValidationException.
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(
            SecretId=plain,
            RotationLambdaARN="keystead:postgres-single-user",
            RotationRules={"ScheduleExpression": "rate(2 years)"},
        )
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=plain, RotationLambdaARN="not-a-lambda-arn")
    assert code(e) == "InvalidParameterException"

    user, password = create_role(pg)
    pending = unique("rds/pending")
    sm.create_secret(Name=pending, SecretString=db_secret(pg, user, password))
    sm.put_secret_value(SecretId=pending, SecretString="half", VersionStages=["AWSPENDING"])
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId=pending)
    assert code(e) == "InvalidRequestException"

    # CancelRotateSecret turns rotation off.
    sched = unique("rds/cancel")
    sm.create_secret(Name=sched, SecretString=db_secret(pg, user, password))
    sm.rotate_secret(
        SecretId=sched, RotationRules={"AutomaticallyAfterDays": 3}, RotateImmediately=False
    )
    assert sm.describe_secret(SecretId=sched)["RotationEnabled"] is True
    sm.cancel_rotate_secret(SecretId=sched)
    described = sm.describe_secret(SecretId=sched)
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described


def test_a_scheduled_rotation_runs_when_the_clock_reaches_it(server_factory, pg):
    server = server_factory(test_clock=True)
    sm = server.client("secretsmanager")
    user, old_password = create_role(pg)
    name = unique("rds/scheduled")
    created = sm.create_secret(Name=name, SecretString=db_secret(pg, user, old_password))
    sm.rotate_secret(
        SecretId=name, RotationRules={"AutomaticallyAfterDays": 2}, RotateImmediately=False
    )
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert "NextRotationDate" in described
    server.set_clock(86_400)
    time.sleep(1)
    assert current_version(sm, name) == created["VersionId"], "not due after one day"
    server.set_clock(3 * 86_400)
    wait_rotated(sm, name, created["VersionId"], server)
    new = value(sm, name)
    assert can_login(pg, user, new["password"])
    assert not can_login(pg, user, old_password)
    after = wait_for(
        "the rotation to be recorded",
        lambda: (d := sm.describe_secret(SecretId=name)).get("LastRotatedDate") and d,
    )
    assert after["NextRotationDate"] > after["LastRotatedDate"]
