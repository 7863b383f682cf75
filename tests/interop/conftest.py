"""Fixtures for the interop suite: a real keystead server and real AWS clients.

Each test module gets its own server (own temporary data directory, port 0), so modules and
pytest-xdist workers never share state. Tests that move the clock or restart the server take a
server of their own from `server_factory`. Every server is stopped with SIGTERM at teardown and
must exit 0.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from keystead_harness import KeysteadServer


def pytest_configure(config):
    # boto3 in this process must not pick up ~/.aws, a profile or an endpoint of the host.
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[KeysteadServer]:
    """One server for the whole test module."""
    base = tmp_path_factory.mktemp("keystead-module")
    s = KeysteadServer(base / "data", base / "logs").start()
    yield s
    code = s.stop()
    assert code == 0, f"keystead exited with {code} on SIGTERM\n{s.stderr()[-4000:]}"
    assert "panicked" not in s.stderr(), s.stderr()[-4000:]


@pytest.fixture(scope="module")
def kms(server):
    """A boto3 KMS client for the module's server, region us-east-1."""
    return server.client()


@pytest.fixture
def server_factory(tmp_path_factory) -> Iterator:
    """Starts servers of the test's own (e.g. to move the clock or restart); all are stopped
    at teardown and must exit 0."""
    started: list[KeysteadServer] = []

    def make(**kwargs) -> KeysteadServer:
        base = tmp_path_factory.mktemp("keystead-own")
        s = KeysteadServer(base / "data", base / "logs", **kwargs).start()
        started.append(s)
        return s

    yield make
    failures = []
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            code = s.stop()
        else:
            code = s.proc.returncode if s.proc is not None else 0
        if code != 0:
            failures.append(f"keystead exited with {code}\n{s.stderr()[-4000:]}")
        elif "panicked" in s.stderr():
            failures.append(f"keystead panicked\n{s.stderr()[-4000:]}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def own_server(server_factory) -> KeysteadServer:
    """A server for this test alone."""
    return server_factory()
