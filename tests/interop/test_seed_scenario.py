"""The seed's scenario end to end (issue 3): the five keys with their aliases and policies,
service principals that may use only their own key, CloudFront that may decrypt but not
encrypt, cross-account use that needs both sides, and MFA-protected deletion. The scenario
itself lives in examples/seed/scenario.py so that the runnable example and this test are the
same code; examples/seed/run.sh is run here too."""

import configparser
import re
import subprocess
import sys

from keystead_harness import REPO, hermetic_env, keystead_bin

sys.path.insert(0, str(REPO / "examples" / "seed"))
import scenario  # noqa: E402

SERVICES = [
    "rds.amazonaws.com",
    "s3.amazonaws.com",
    "cloudfront.amazonaws.com",
    "lambda.amazonaws.com",
    "secretsmanager.amazonaws.com",
]


def keystead(*args: str) -> str:
    result = subprocess.run(
        [str(keystead_bin()), *args], capture_output=True, env=hermetic_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def profile(data_dir, name) -> scenario.Creds:
    ini = configparser.ConfigParser()
    ini.read(data_dir / "credentials")
    return scenario.profile(ini, name)


def test_the_seed_scenario_holds_every_promise(server_factory):
    server = server_factory()
    server.stop()
    out = keystead("account", "create", "--data-dir", str(server.data_dir))
    other = re.search(r"^account id:\s+(\d{12})\s*$", out, re.M).group(1)
    services = {}
    for service in SERVICES:
        out = keystead(
            "service-credentials",
            "create",
            "--data-dir",
            str(server.data_dir),
            "--account",
            server.account_id,
            "--service",
            service,
        )
        name = re.search(r"Saved as profile (\S+) in", out).group(1)
        services[service] = profile(server.data_dir, name)
    server.start()

    said = []
    scenario.Scenario(
        endpoint=server.url,
        account=server.account_id,
        admin=scenario.Creds(server.access_key_id, server.secret_access_key),
        services=services,
        other_account=other,
        other_admin=profile(server.data_dir, f"keystead-{other}"),
        say=said.append,
    ).run()
    assert said[-1] == "all promises hold"
    promises = [line for line in said if line.startswith("  ok")]
    # Five keys, the lockout check (2), four services, CloudFront, cross-account (4), MFA (4).
    assert len(promises) == 5 + 2 + 4 + 1 + 4 + 4, said


def test_the_runnable_example_runs(tmp_path):
    result = subprocess.run(
        ["bash", str(REPO / "examples" / "seed" / "run.sh")],
        capture_output=True,
        env={**hermetic_env(), "KEYSTEAD_BIN": str(keystead_bin()), "PYTHON": sys.executable},
        timeout=300,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert out.rstrip().endswith("all promises hold"), out
