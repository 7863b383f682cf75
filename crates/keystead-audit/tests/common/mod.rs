//! Helpers shared by the trail tests: events, trails, and an independent implementation of the
//! line format (from docs/design/audit-chain.md) for tampering with files as an attacker would.

#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keystead_audit::{AuditEvent, AuditLog, AuditLogConfig, IdentityType, UserIdentity};
use keystead_crypto::SigningKey;
use keystead_crypto::digest::sha256;
use serde_json::Value;

/// A Decrypt record, numbered `n` in its eventID so that every record differs.
pub fn event(n: u64) -> AuditEvent {
    let identity = UserIdentity {
        identity_type: Some(IdentityType::IamUser),
        principal_id: Some("EX_PRINCIPAL_ID".into()),
        arn: Some("arn:aws:iam::111122223333:user/Alice".into()),
        account_id: Some("111122223333".into()),
        access_key_id: Some("EXAMPLE_KEY_ID".into()),
        user_name: Some("Alice".into()),
        ..UserIdentity::default()
    };
    let mut event = AuditEvent::api_call(
        identity,
        keystead_audit::OffsetDateTime::now_utc(),
        "kms.amazonaws.com",
        "Decrypt",
        "us-west-2",
        "192.0.2.0",
        format!("00000000-0000-4000-8000-{n:012}"),
        format!("11111111-0000-4000-8000-{n:012}"),
        "111122223333",
    );
    event.read_only = true;
    event.request_parameters = serde_json::json!({
        "keyId": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "encryptionContext": {"Department": "Engineering", "Project": "Alpha"}
    })
    .as_object()
    .cloned();
    event
}

/// A config for `dir` whose timers never fire during a test.
pub fn config(dir: &Path) -> AuditLogConfig {
    let mut config = AuditLogConfig::new(dir);
    config.max_file_age = Duration::from_secs(3600);
    config.digest_interval = Duration::from_secs(3600);
    config
}

/// Opens a log in `dir` with a key kept in `dir/../signing.key`-like path `key_path`.
pub fn open(dir: &Path, key_path: &Path) -> AuditLog {
    let key = if key_path.exists() {
        SigningKey::load(key_path).expect("load key")
    } else {
        SigningKey::create(key_path).expect("create key")
    };
    AuditLog::open(config(dir), key).expect("open")
}

/// A sealed trail: `files` log files of `per_file` records each, each file closed and sealed by
/// its own digest. Returns the public key.
pub async fn sealed_trail(dir: &Path, key_path: &Path, files: u64, per_file: u64) -> Vec<u8> {
    let log = open(dir, key_path);
    for f in 0..files {
        for r in 0..per_file {
            log.append(&event(f * per_file + r + 1))
                .await
                .expect("append");
        }
        // `close` seals the last file.
        if f + 1 < files {
            log.seal().await.expect("seal");
        }
    }
    let key = log.public_key_der().to_vec();
    log.close().await.expect("close");
    key
}

pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    sorted(dir.join("logs"))
}

pub fn digest_files(dir: &Path) -> Vec<PathBuf> {
    sorted(dir.join("digests"))
}

fn sorted(dir: PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

pub fn name(path: &Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

/// The lines of a log file, without their line feeds.
pub fn read_lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).expect("read");
    text.lines().map(str::to_owned).collect()
}

pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).expect("write");
}

/// The parts of a line: seq, prev, hash and the event's exact text.
pub fn parts(line: &str) -> (u64, String, String, String) {
    let value: Value = serde_json::from_str(line).expect("line is JSON");
    let event_start = line.find("\"event\":").expect("event") + "\"event\":".len();
    (
        value["seq"].as_u64().expect("seq"),
        value["prev"].as_str().expect("prev").to_owned(),
        value["hash"].as_str().expect("hash").to_owned(),
        line[event_start..line.len() - 1].to_owned(),
    )
}

/// The record hash of docs/design/audit-chain.md, computed independently of the crate.
pub fn record_hash(seq: u64, prev_hex: &str, event: &str) -> String {
    let mut input = b"keystead/audit-record/v1".to_vec();
    input.extend_from_slice(&seq.to_be_bytes());
    input.extend_from_slice(&hex::decode(prev_hex).expect("hex"));
    input.extend_from_slice(event.as_bytes());
    hex::encode(sha256(&input))
}

/// A well-formed line, with a correct hash.
pub fn line(seq: u64, prev_hex: &str, event: &str) -> String {
    let hash = record_hash(seq, prev_hex, event);
    format!(
        "{{\"v\":1,\"seq\":{seq},\"prev\":\"{prev_hex}\",\"hash\":\"{hash}\",\"event\":{event}}}"
    )
}
