"""GET /metrics (Prometheus/OpenMetrics text) and GET /readyz against a real server.

The counters move with the requests served; the exposition parses with the Prometheus text
parser (`prometheus_client`); no plaintext or credential appears in it.
"""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError
from prometheus_client.openmetrics import parser


def metrics(server) -> str:
    r = server.raw("/metrics", b"", {}, method="GET")
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    return r.body.decode()


def sample(text: str, name: str, **labels) -> float:
    """The value of the sample `name{labels}` (labels matched as a subset), 0 when absent."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


def test_readyz_and_healthz_answer_200(server):
    assert server.raw("/readyz", b"", {}, method="GET").status == 200
    assert server.raw("/healthz", b"", {}, method="GET").status == 200


def test_request_counters_move_after_requests(server):
    kms = server.client()
    before = metrics(server)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        blob = kms.encrypt(KeyId=key, Plaintext=b"metric-plaintext-do-not-leak")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)  # no KeyId: counted for the key the ciphertext names
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="alias/metrics-missing")
    after = metrics(server)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(
        "keystead_requests_total", service="kms", operation="Encrypt", outcome="success"
    ) == 3
    assert delta(
        "keystead_requests_total",
        service="kms",
        operation="DescribeKey",
        error_code="NotFoundException",
    ) == 1
    assert delta(
        "keystead_request_duration_seconds_count", service="kms", operation="Encrypt"
    ) == 3
    assert delta("keystead_key_requests_total", key=key, operation="Encrypt") == 3
    assert delta("keystead_key_requests_total", key=key, operation="Decrypt") == 1
    assert delta("keystead_audit_append_duration_seconds_count") >= 5
    assert sample(after, "keystead_audit_enabled") == 1
    assert sample(after, "keystead_keys") >= 1
    assert sample(after, "keystead_estimated_key_cost_usd_per_month") == sample(
        after, "keystead_keys"
    )
    # CreateKey, 3 Encrypt, Decrypt, the failed DescribeKey: 6 KMS requests.
    assert delta("keystead_estimated_request_cost_usd") == pytest.approx(6 * 0.03 / 10_000)
    assert "metric-plaintext-do-not-leak" not in after
    assert server.secret_access_key not in after


def test_unknown_operations_do_not_create_new_labels(server):
    for i in range(5):
        server.call(f"Made{i}Up", {})
    text = metrics(server)
    assert "Made0Up" not in text
    assert sample(text, "keystead_requests_total", operation="unknown") >= 5


def test_workers_and_audit_queue_are_exported(server):
    server.set_clock(0)
    text = metrics(server)
    assert sample(text, "keystead_worker_runs_total", worker="rotation") >= 1
    assert sample(text, "keystead_worker_runs_total", worker="deletion") >= 1
    assert "keystead_audit_queue_depth" in text


def test_the_exposition_parses_as_prometheus_text(server):
    # A family has samples, and is exposed, once a request has been counted: make one here
    # rather than rely on the tests that ran before on this worker.
    server.call("ListKeys", {})
    families = {f.name for f in parser.text_string_to_metric_families(metrics(server))}
    assert {"keystead_requests", "keystead_request_duration_seconds"} <= families


def test_every_metric_the_grafana_dashboard_plots_is_exported(server):
    import json
    from pathlib import Path

    dashboard = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "keystead.json"
    exprs = [t["expr"] for p in json.loads(dashboard.read_text())["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"\bkeystead_[a-z_]+", e)}
    assert names
    # Per-key counters exist once a key was used (this test may run alone on its server).
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"dashboard")
    text = metrics(server)
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    missing = sorted(n for n in names if n not in exported)
    assert not missing, missing
