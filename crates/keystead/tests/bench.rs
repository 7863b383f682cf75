//! `keystead bench` against a real server: the debug `keystead` binary serving a temporary data
//! directory on a free loopback port. Short runs (1 s, no warm-up, 4 connections) check that
//! every operation's report counts requests and no errors, and that a wrong secret is counted
//! as errors and makes bench exit non-zero.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const KEYSTEAD: &str = env!("CARGO_BIN_EXE_keystead");

/// A running `keystead serve`, killed and its data directory removed on drop.
struct Server {
    child: Child,
    endpoint: String,
    access_key_id: String,
    credentials_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data_dir = dir.path().join("data");
        let mut child = Command::new(KEYSTEAD)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("KEYSTEAD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("keystead serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        // Keeps reading so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut access_key_id = None;
        let endpoint = loop {
            let line = match received.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => line,
                Err(e) => {
                    let _ = child.kill();
                    panic!("keystead serve printed no listening line: {e}");
                }
            };
            if let Some(id) = line.strip_prefix("aws_access_key_id:") {
                access_key_id = Some(id.trim().to_owned());
            }
            if let Some(url) = line.strip_prefix("keystead listening on ") {
                break url.trim().to_owned();
            }
        };
        Server {
            child,
            endpoint,
            access_key_id: access_key_id.expect("the first start prints the access key id"),
            credentials_file: data_dir.join("credentials"),
            _dir: dir,
        }
    }

    /// Runs `keystead bench` for 1 s on 4 connections, with JSON output, plus `args`.
    fn bench(&self, args: &[&str]) -> Output {
        Command::new(KEYSTEAD)
            .arg("bench")
            .args(["--endpoint", &self.endpoint])
            .args(["--duration", "1", "--warmup", "0", "--connections", "4"])
            .args(["--format", "json"])
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .stdin(Stdio::null())
            .output()
            .expect("keystead bench runs")
    }

    fn credentials_args(&self) -> [&str; 4] {
        [
            "--credentials-file",
            self.credentials_file.to_str().expect("a UTF-8 path"),
            "--profile",
            "keystead",
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn report(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn count(report: &serde_json::Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a count in {report}"))
}

#[test]
fn every_operation_reports_requests_and_no_errors() {
    let server = Server::start();
    for operation in ["encrypt", "decrypt", "generate-data-key"] {
        let mut args = vec!["--operation", operation];
        args.extend(server.credentials_args());
        let output = server.bench(&args);
        let report = report(&output);
        assert!(
            output.status.success(),
            "{operation}: bench failed: {report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(report["operation"], operation);
        assert_eq!(report["connections"], 4);
        assert!(count(&report, "requests") > 0, "{operation}: {report}");
        assert_eq!(count(&report, "errors"), 0, "{operation}: {report}");
        assert!(
            report["latency_ms"]["p99"]
                .as_f64()
                .is_some_and(|ms| ms > 0.0),
            "{operation}: {report}"
        );
        assert!(report["key_id"].as_str().is_some_and(|k| !k.is_empty()));
    }
}

#[test]
fn a_wrong_secret_is_counted_as_errors_and_exits_non_zero() {
    let server = Server::start();
    let output = server.bench(&[
        "--access-key-id",
        &server.access_key_id,
        "--secret-access-key",
        "not-the-secret",
        // The signature is checked before the key is looked up, so any key id will do.
        "--key-id",
        "alias/keystead-bench",
    ]);
    let report = report(&output);
    assert!(!output.status.success(), "bench succeeded: {report}");
    assert!(count(&report, "errors") > 0, "{report}");
    assert_eq!(count(&report, "requests"), 0, "{report}");
    let kinds = report["errors_by_kind"]
        .as_object()
        .expect("errors_by_kind is an object");
    assert!(
        kinds.keys().all(|kind| kind.starts_with("HTTP 4")),
        "{report}"
    );
}

#[test]
fn a_key_that_cannot_be_created_fails_before_the_run_and_says_why() {
    let server = Server::start();
    let output = server.bench(&[
        "--access-key-id",
        &server.access_key_id,
        "--secret-access-key",
        "not-the-secret",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no report without a key");
    assert!(stderr.contains("creating a key"), "{stderr}");
    assert!(stderr.contains("HTTP 4"), "{stderr}");
}
