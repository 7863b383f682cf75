"""No plaintext, data key or credential secret reaches the disk, a log or an error response.

A server logging at debug level is fed distinctive plaintexts through every path that carries
one (Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom, and failing requests that
carry plaintext), then every file of its data directory, its stdout and stderr, and every error
response body are searched for those bytes in the encodings a leak would take: raw, base64
(every alignment, standard and URL-safe), hex, and Rust's `Debug` rendering of a byte slice.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from keystead_harness import KeysteadServer, RawResponse, wrong_secret


def encodings(secret: bytes) -> dict[str, bytes]:
    """Every form in which `secret` could show up inside a larger file or log."""
    out = {"raw": secret, "hex": secret.hex().encode(), "HEX": secret.hex().upper().encode()}
    for i in range(3):
        chunk = secret[i:]
        chunk = chunk[: len(chunk) - len(chunk) % 3]
        if len(chunk) >= 9:
            out[f"base64@{i}"] = base64.b64encode(chunk)
            out[f"base64url@{i}"] = base64.urlsafe_b64encode(chunk)
    # Rust's Debug of &[u8] / Vec<u8>: "[80, 76, 65, ...]".
    out["debug"] = ", ".join(str(b) for b in secret[:12]).encode()
    return out


def leaks(haystack: bytes, secrets: dict[str, bytes]) -> list[str]:
    found = []
    for name, secret in secrets.items():
        for enc, needle in encodings(secret).items():
            if needle in haystack:
                found.append(f"{name} ({enc})")
    return found


@dataclass
class Planted:
    server: KeysteadServer
    # name -> secret bytes that must appear nowhere.
    secrets: dict[str, bytes] = field(default_factory=dict)
    error_bodies: list[tuple[str, bytes]] = field(default_factory=list)
    success_bodies: list[bytes] = field(default_factory=list)
    files_while_running: dict[str, bytes] = field(default_factory=dict)

    def plant(self, name: str) -> bytes:
        value = f"PLANTED-PLAINTEXT-{name}-{uuid.uuid4()}".encode()
        self.secrets[name] = value
        return value

    def error(self, what: str, resp: RawResponse) -> None:
        assert resp.status >= 400, (what, resp.status, resp.body[:300])
        self.error_bodies.append((what, resp.body))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Planted:
    base = tmp_path_factory.mktemp("keystead-scan")
    server = KeysteadServer(base / "data", base / "logs", log="debug").start()
    p = Planted(server)
    try:
        _plant_everything(p)
        p.files_while_running = read_tree(server.data_dir)
    finally:
        code = server.stop()
    assert code == 0, server.stderr()[-4000:]
    return p


def _plant_everything(p: Planted) -> None:
    s = p.server
    kms = s.client()
    key = kms.create_key(Description="scan")["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/scan", TargetKeyId=key["KeyId"])
    ctx = {"purpose": "scan"}

    # Success paths carrying plaintext.
    pt = p.plant("encrypt")
    ct = kms.encrypt(KeyId="alias/scan", Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)["Plaintext"] == pt
    moved = kms.re_encrypt(
        CiphertextBlob=ct,
        SourceEncryptionContext=ctx,
        DestinationKeyId=other["KeyId"],
    )["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=moved)["Plaintext"] == pt
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    pt_rotated = p.plant("after-rotation")
    ct2 = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt_rotated)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct2)["Plaintext"] == pt_rotated

    for spec, kwargs in (
        ("AES_256", {"KeySpec": "AES_256"}),
        ("AES_128", {"KeySpec": "AES_128"}),
        ("bytes-64", {"NumberOfBytes": 64}),
    ):
        dk = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=ctx, **kwargs)
        p.secrets[f"data key {spec}"] = dk["Plaintext"]
        again = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)
        assert again["Plaintext"] == dk["Plaintext"]
    wp = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    p.secrets["data key without plaintext"] = kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])[
        "Plaintext"
    ]
    p.secrets["random"] = kms.generate_random(NumberOfBytes=64)["Plaintext"]

    # Raw success response (positive control for the scanner).
    ok = s.call("Decrypt", {"CiphertextBlob": b64(ct), "EncryptionContext": ctx})
    assert ok.status == 200
    p.success_bodies.append(ok.body)

    # Failing requests that carry plaintext or ciphertext of a plaintext.
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    pending = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=7)
    for what, target, body_of in (
        ("disabled key", "Encrypt", lambda v: {"KeyId": disabled["KeyId"], "Plaintext": b64(v)}),
        ("pending deletion", "Encrypt", lambda v: {"KeyId": pending["KeyId"], "Plaintext": b64(v)}),
        ("unknown key", "Encrypt", lambda v: {"KeyId": str(uuid.uuid4()), "Plaintext": b64(v)}),
        ("unknown alias", "Encrypt", lambda v: {"KeyId": "alias/none", "Plaintext": b64(v)}),
        (
            "unknown member",
            "Encrypt",
            lambda v: {"KeyId": key["KeyId"], "Plaintext": b64(v), "Bogus": b64(v)},
        ),
        ("wrong key id type", "Encrypt", lambda v: {"KeyId": 7, "Plaintext": b64(v)}),
        (
            "plaintext as number",
            "Encrypt",
            lambda v: {"KeyId": key["KeyId"], "Plaintext": 5, "EncryptionContext": {"x": b64(v)}},
        ),
        (
            "too long",
            "Encrypt",
            lambda v: {"KeyId": key["KeyId"], "Plaintext": b64(v + b"." * (4097 - len(v)))},
        ),
        (
            "malformed json",
            "Encrypt",
            lambda v: ('{"KeyId": "%s", "Plaintext": "%s"' % (key["KeyId"], b64(v))).encode(),
        ),
        ("missing key id", "Encrypt", lambda v: {"Plaintext": b64(v)}),
        (
            "bad base64 after plaintext",
            "Encrypt",
            lambda v: {"KeyId": key["KeyId"], "Plaintext": b64(v) + "!"},
        ),
    ):
        secret = p.plant(what.replace(" ", "-"))
        p.error(what, s.call(target, body_of(secret)))

    # Decrypt failures for a ciphertext of a planted plaintext.
    for what, payload in (
        ("wrong context", {"CiphertextBlob": b64(ct), "EncryptionContext": {"purpose": "x"}}),
        ("missing context", {"CiphertextBlob": b64(ct)}),
        (
            "tampered",
            {"CiphertextBlob": b64(ct[:-1] + bytes([ct[-1] ^ 1])), "EncryptionContext": ctx},
        ),
        (
            "incorrect key",
            {"CiphertextBlob": b64(ct), "EncryptionContext": ctx, "KeyId": other["KeyId"]},
        ),
    ):
        p.error(what, s.call("Decrypt", payload))
    # Signature failures for requests whose body carries a plaintext.
    secret = p.plant("bad-signature")
    wrong = Credentials(s.access_key_id, wrong_secret(s.secret_access_key))
    p.error(
        "bad signature",
        s.call("Encrypt", {"KeyId": key["KeyId"], "Plaintext": b64(secret)}, credentials=wrong),
    )


# --- the scans --------------------------------------------------------------------------------


def test_the_scanner_finds_a_plaintext_where_it_is(planted):
    # Positive control: the Decrypt response does carry the planted plaintext, base64-encoded.
    assert leaks(planted.success_bodies[0], {"encrypt": planted.secrets["encrypt"]})
    assert leaks(b"x" + base64.b64encode(b"yy" + planted.secrets["encrypt"]), planted.secrets)
    assert planted.server.stderr().strip(), "the server logged nothing"


def test_no_planted_secret_is_in_the_data_directory(planted):
    data_dir = planted.server.data_dir
    after_stop = read_tree(data_dir)
    assert after_stop, "empty data directory"
    for phase, files in (
        ("while running", planted.files_while_running),
        ("after stop", after_stop),
    ):
        for name, content in files.items():
            found = leaks(content, planted.secrets)
            assert not found, f"{name} ({phase}) contains {found}"


def test_no_planted_secret_or_credential_is_in_the_logs(planted):
    s = planted.server
    stdout = s.stdout().encode()
    stderr = s.stderr().encode()
    for stream, content in (("stdout", stdout), ("stderr", stderr)):
        found = leaks(content, planted.secrets)
        assert not found, f"{stream} contains {found}"
    # The secret access key is shown once on stdout at initialization, never in the log.
    assert not leaks(stderr, {"secret access key": s.secret_access_key.encode()})


def test_no_planted_secret_is_in_an_error_response(planted):
    assert len(planted.error_bodies) >= 15
    for what, body in planted.error_bodies:
        found = leaks(body, planted.secrets)
        assert not found, f"error response for {what} contains {found}: {body[:300]!r}"
        parsed = json.loads(body)
        assert parsed.get("__type"), (what, body)


def test_the_root_key_and_credentials_are_only_where_they_belong(planted):
    s = planted.server
    files = read_tree(s.data_dir)
    root_key_name = next((n for n in files if Path(n).name == "root.key"), None)
    assert root_key_name is not None, sorted(files)
    root_key = files[root_key_name]
    assert not leaks(root_key, planted.secrets)
    secret_key = s.secret_access_key.encode()
    for name, content in files.items():
        if Path(name).name == "credentials":
            continue  # the AWS CLI credentials file holds it by design
        assert secret_key not in content, f"{name} holds the secret access key in plaintext"
        if name != root_key_name and len(root_key.strip()) >= 16:
            assert root_key.strip() not in content, f"{name} holds the root key"
    logs = (s.stdout() + s.stderr()).encode()
    if len(root_key.strip()) >= 16:
        assert root_key.strip() not in logs, "the root key file's content is in the logs"
        assert not leaks(logs, {"root key": root_key.strip()})


def test_the_audit_trail_is_scanned_and_holds_the_planted_requests(planted):
    # The scans above read every file under the data directory, so DATA/audit/** (log files,
    # digests, the lookup index) is covered; this checks that the trail is really there and
    # recorded the requests that carried the planted secrets.
    files = read_tree(planted.server.data_dir)
    audit_logs = {n: c for n, c in files.items() if n.startswith("audit/logs/")}
    assert audit_logs, sorted(files)
    trail = b"".join(audit_logs.values())
    for operation in (b'"Encrypt"', b'"Decrypt"', b'"GenerateDataKey"'):
        assert operation in trail, operation
    assert any(n.startswith("audit/digests/") for n in files), "no digest after shutdown"
    for name, content in files.items():
        if name.startswith("audit"):
            found = leaks(content, planted.secrets)
            assert not found, f"{name} contains {found}"
