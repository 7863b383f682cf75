"""The interop harness: start a real `keystead serve`, read its credentials, and talk to it
with boto3, the aws CLI, or raw SigV4-signed HTTP.

The binary is $KEYSTEAD_BIN, else $CARGO_TARGET_DIR/debug/keystead, else ./target/debug/keystead.
"""

from __future__ import annotations

import configparser
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
JSON_1_1 = "application/x-amz-json-1.1"
DEFAULT_REGION = "us-east-1"

KEY_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def keystead_bin() -> Path:
    if os.environ.get("KEYSTEAD_BIN"):
        return Path(os.environ["KEYSTEAD_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "keystead"


def hermetic_env() -> dict:
    """The environment without any AWS_* or KEYSTEAD_* setting of the person running the tests."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("KEYSTEAD_")
    }
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def key_arn_re(account: str, region: str = DEFAULT_REGION) -> re.Pattern:
    return re.compile(
        rf"^arn:aws:kms:{re.escape(region)}:{account}:key/"
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class RawResponse:
    """One HTTP response from a raw request."""

    status: int
    headers: dict
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class KeysteadServer:
    """One `keystead serve` process on 127.0.0.1:0 with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        *,
        dev: bool = False,
        log: str = "info",
        test_clock: bool = True,
    ):
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.dev = dev
        self.test_clock = test_clock
        self.log = log
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.access_key_id = ""
        self.secret_access_key = ""
        self.account_id = ""
        self.starts = 0
        self.stdout_paths: list[Path] = []
        self.stderr_paths: list[Path] = []

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> "KeysteadServer":
        binary = keystead_bin()
        if not binary.is_file():
            raise RuntimeError(
                f"keystead binary not found at {binary}: build it with "
                "`cargo build -p keystead` or set KEYSTEAD_BIN"
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        out_path = self.log_dir / f"stdout-{self.starts}.log"
        err_path = self.log_dir / f"stderr-{self.starts}.log"
        self.stdout_paths.append(out_path)
        self.stderr_paths.append(err_path)
        env = hermetic_env()
        env["KEYSTEAD_LOG"] = self.log
        args = [
            str(binary),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            "127.0.0.1:0",
        ]
        if self.test_clock:
            args.append("--danger-test-clock")
        if self.dev:
            args.append("--dev")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT
        text = ""
        while time.monotonic() < deadline:
            text = out_path.read_text(errors="replace")
            m = re.search(r"^keystead listening on (http://127\.0\.0\.1:\d+)\s*$", text, re.M)
            if m:
                self.url = m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"keystead exited with {self.proc.returncode} before listening\n"
                    f"stdout:\n{text}\nstderr:\n{err_path.read_text(errors='replace')}"
                )
            time.sleep(0.02)
        else:
            self.proc.kill()
            raise RuntimeError(f"keystead did not print its listen address:\n{text}")
        self._load_credentials(text)
        return self

    def _load_credentials(self, stdout: str) -> None:
        printed = {
            name: m.group(1)
            for name, pattern in [
                ("access", r"^aws_access_key_id:\s+(\S+)\s*$"),
                ("secret", r"^aws_secret_access_key:\s+(\S+)\s*$"),
                ("account", r"^account id:\s+(\d{12})\s*$"),
            ]
            if (m := re.search(pattern, stdout, re.M))
        }
        ini = configparser.ConfigParser()
        ini.read(self.data_dir / "credentials")
        assert ini.has_section("keystead"), "DATA_DIR/credentials has no [keystead] profile"
        file_access = ini["keystead"]["aws_access_key_id"].strip()
        file_secret = ini["keystead"]["aws_secret_access_key"].strip()
        if self.starts == 1:
            # First start initializes the directory and announces the credentials once.
            assert set(printed) == {"access", "secret", "account"}, stdout
            assert printed["access"] == file_access
            assert printed["secret"] == file_secret
            self.account_id = printed["account"]
        else:
            assert "aws_secret_access_key" not in stdout, "credentials shown again on restart"
        self.access_key_id = file_access
        self.secret_access_key = file_secret
        assert re.fullmatch(r"AKIA[A-Z0-9]{16}", self.access_key_id), self.access_key_id
        assert re.fullmatch(r"\d{12}", self.account_id)

    def stop(self) -> int:
        """SIGTERM, wait, return the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"keystead did not stop within {STOP_TIMEOUT}s of SIGTERM")
        return self.proc.returncode

    def restart(self) -> "KeysteadServer":
        code = self.stop()
        assert code == 0, f"keystead exited with {code}\n{self.stderr()}"
        return self.start()

    def stdout(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.stdout_paths)

    def stderr(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.stderr_paths)

    # --- clients --------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key)

    def client(self, service: str = "kms", region: str = DEFAULT_REGION, **kwargs):
        """A boto3 client for this server (no retries: the first error is the error)."""
        session = boto3.session.Session(
            aws_access_key_id=kwargs.pop("access_key_id", self.access_key_id),
            aws_secret_access_key=kwargs.pop("secret_access_key", self.secret_access_key),
            region_name=region,
        )
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=30,
        )
        return session.client(service, endpoint_url=self.url, config=config, **kwargs)

    def key_arn(self, key_id: str, region: str = DEFAULT_REGION) -> str:
        return f"arn:aws:kms:{region}:{self.account_id}:key/{key_id}"

    def alias_arn(self, alias: str, region: str = DEFAULT_REGION) -> str:
        return f"arn:aws:kms:{region}:{self.account_id}:{alias}"

    def cli(self, *args: str, region: str = DEFAULT_REGION, cwd=None, env=None):
        """Runs `aws ARGS --endpoint-url URL` (awscli from the venv) and returns the result."""
        full_env = hermetic_env()
        full_env.update(
            AWS_ACCESS_KEY_ID=self.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.secret_access_key,
            AWS_DEFAULT_REGION=region,
            AWS_REGION=region,
            AWS_PAGER="",
        )
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "awscli", *args, "--endpoint-url", self.url],
            capture_output=True,
            env=full_env,
            cwd=cwd,
            timeout=120,
        )

    def set_clock(self, offset_seconds: int) -> dict:
        """Moves the server clock `offset_seconds` ahead of real time and runs the workers once."""
        r = self.raw(
            "/_keystead/test/clock",
            json.dumps({"offset_seconds": offset_seconds}).encode(),
            {"Content-Type": "application/json"},
        )
        assert r.status == 200, (r.status, r.body)
        out = r.json()
        assert out["offset_seconds"] == offset_seconds
        return out

    # --- raw HTTP ---------------------------------------------------------------------------

    def raw(self, path: str, body: bytes, headers: dict, method: str = "POST") -> RawResponse:
        """Sends exactly these headers and body (http.client adds Host, Content-Length and
        Accept-Encoding only)."""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (e.g. 413) and close before reading a large body; its
                # response is still waiting in the socket.
                pass
            resp = conn.getresponse()
            return RawResponse(
                resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
            )
        finally:
            conn.close()

    def signed_request(
        self,
        target: str,
        payload,
        *,
        region: str = DEFAULT_REGION,
        service: str = "kms",
        credentials: Optional[Credentials] = None,
        when=None,
        headers: Optional[dict] = None,
    ) -> AWSRequest:
        """A request for `TrentService.<target>` signed with SigV4 by botocore, not yet sent.

        `payload` is a dict (sent as JSON) or raw bytes/str. `when` (a naive UTC datetime)
        overrides the signing time."""
        if isinstance(payload, (dict, list)):
            body = json.dumps(payload).encode()
        elif isinstance(payload, str):
            body = payload.encode()
        else:
            body = payload
        request = AWSRequest(
            method="POST",
            url=self.url + "/",
            data=body,
            headers={
                "Content-Type": JSON_1_1,
                "X-Amz-Target": f"TrentService.{target}",
                **(headers or {}),
            },
        )
        signer = botocore.auth.SigV4Auth(credentials or self.credentials(), service, region)
        if when is None:
            signer.add_auth(request)
        else:
            with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
                signer.add_auth(request)
        return request

    def send(self, request: AWSRequest) -> RawResponse:
        """Sends a prepared botocore request as is."""
        split = urlsplit(request.url)
        path = split.path + (f"?{split.query}" if split.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        return self.raw(path, body, dict(request.headers.items()))

    def call(self, target: str, payload, **kwargs) -> RawResponse:
        """Signs and sends one raw KMS request."""
        return self.send(self.signed_request(target, payload, **kwargs))


def wrong_secret(secret: str) -> str:
    """`secret` with its first character changed (to a different one, whatever it was)."""
    return ("A" if secret[0] != "A" else "B") + secret[1:]
