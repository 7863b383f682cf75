//! `keystead audit verify | public-key | export`, run as the real binary against a trail written
//! with `AuditLog` in a temporary data directory: an intact trail passes; each kind of
//! tampering makes `verify` exit 1 and name the finding; a crash-torn tail is a notice; exports
//! have CloudTrail's layout and format.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keystead_audit::{AuditEvent, AuditLog, AuditLogConfig, IdentityType, Resource, UserIdentity};
use keystead_server::data_dir;
use serde_json::Value;

const FILES: u64 = 3;
const PER_FILE: u64 = 5;

/// Record `n`: account and region alternate, times are 2026-11-28 10:00 + n minutes.
fn record(n: u64) -> AuditEvent {
    let account = if n.is_multiple_of(2) {
        "111122223333"
    } else {
        "444455556666"
    };
    let region = if n.is_multiple_of(3) {
        "eu-west-1"
    } else {
        "us-east-1"
    };
    let identity = UserIdentity {
        identity_type: Some(IdentityType::IamUser),
        principal_id: Some("AIDAEXAMPLE".into()),
        arn: Some(format!("arn:aws:iam::{account}:user/Alice")),
        account_id: Some(account.into()),
        access_key_id: Some("AKIAEXAMPLE".into()),
        user_name: Some("Alice".into()),
        ..UserIdentity::default()
    };
    let time = keystead_audit::OffsetDateTime::from_unix_timestamp(1_795_860_000 + 60 * n as i64)
        .expect("time");
    let mut event = AuditEvent::api_call(
        identity,
        time,
        "kms.amazonaws.com",
        "Decrypt",
        region,
        "192.0.2.0",
        format!("00000000-0000-4000-8000-{n:012}"),
        format!("11111111-0000-4000-8000-{n:012}"),
        account,
    );
    event.resources = vec![Resource {
        account_id: Some(account.into()),
        resource_type: Some("AWS::KMS::Key".into()),
        arn: format!("arn:aws:kms:{region}:{account}:key/key-{n}"),
    }];
    event
}

/// A data directory with a root key, a sealed audit signing key, and a trail of three log
/// files of five records (1-5, 6-10, 11-15), each sealed by its own digest (unless `close` is
/// false: then the last file is left unsealed, as by a crash).
struct Trail {
    _temp: tempfile::TempDir,
    data_dir: PathBuf,
    public_key_pem: String,
}

impl Trail {
    async fn new(close: bool) -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let data_dir = temp.path().join("data");
        fs::create_dir(&data_dir).expect("mkdir");
        let root =
            keystead_crypto::RootKey::create(data_dir::root_key_path(&data_dir)).expect("root");
        let key = data_dir::open_audit_signing_key(&data_dir, &root).expect("signing key");
        let mut config = AuditLogConfig::new(data_dir::audit_dir(&data_dir));
        config.max_file_age = Duration::from_secs(3600);
        config.digest_interval = Duration::from_secs(3600);
        let log = AuditLog::open(config, key).expect("open");
        for f in 0..FILES {
            for r in 1..=PER_FILE {
                log.append(&record(f * PER_FILE + r)).await.expect("append");
            }
            if f + 1 < FILES {
                log.seal().await.expect("seal");
            }
        }
        let public_key_pem = log.public_key_pem();
        if close {
            log.close().await.expect("close");
        } else {
            drop(log);
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            _temp: temp,
            data_dir,
            public_key_pem,
        }
    }

    fn trail(&self) -> PathBuf {
        data_dir::audit_dir(&self.data_dir)
    }

    fn log(&self, index: usize) -> PathBuf {
        sorted(&self.trail().join("logs"))[index].clone()
    }

    fn digest(&self, index: usize) -> PathBuf {
        sorted(&self.trail().join("digests"))[index].clone()
    }

    fn keystead(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_keystead"))
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("KEYSTEAD_DATA_DIR")
            .output()
            .expect("run keystead");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs `keystead audit verify`, asserting it exits 1 and names `finding`.
    fn assert_tampered(&self, finding: &str) {
        let (code, stdout, stderr) = self.keystead(&["audit", "verify"]);
        // Shown with --nocapture.
        println!("{stdout}");
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("TAMPERED: ") && l.contains(finding)),
            "expected a finding containing {finding:?}:\n{stdout}"
        );
        assert!(stdout.contains("result:   TAMPERED OR DAMAGED"), "{stdout}");
    }
}

fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

fn name(path: &Path) -> String {
    path.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).expect("write");
}

/// seq, prev, hash and the exact event text of a line.
fn parts(line: &str) -> (u64, String, String, String) {
    let value: Value = serde_json::from_str(line).expect("line is JSON");
    let start = line.find("\"event\":").expect("event") + "\"event\":".len();
    (
        value["seq"].as_u64().expect("seq"),
        value["prev"].as_str().expect("prev").to_owned(),
        value["hash"].as_str().expect("hash").to_owned(),
        line[start..line.len() - 1].to_owned(),
    )
}

/// A well-formed line with a correct hash (docs/design/audit-chain.md).
fn line(seq: u64, prev_hex: &str, event: &str) -> String {
    let mut input = b"keystead/audit-record/v1".to_vec();
    input.extend_from_slice(&seq.to_be_bytes());
    input.extend_from_slice(&hex_decode(prev_hex));
    input.extend_from_slice(event.as_bytes());
    let hash: String = keystead_crypto::digest::sha256(&input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{{\"v\":1,\"seq\":{seq},\"prev\":\"{prev_hex}\",\"hash\":\"{hash}\",\"event\":{event}}}"
    )
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test]
async fn verify_passes_an_intact_trail_and_says_what_it_checked() {
    let trail = Trail::new(true).await;
    let (code, stdout, stderr) = trail.keystead(&["audit", "verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("3 digests, 3 log files, 15 records"),
        "{stdout}"
    );
    assert!(stdout.contains("result:   INTACT"), "{stdout}");
    assert!(!stdout.contains("TAMPERED"), "{stdout}");

    // With the public key given from elsewhere, and over a time range.
    let pem = trail.data_dir.join("public.pem");
    fs::write(&pem, &trail.public_key_pem).expect("write");
    let pem = pem.to_string_lossy().into_owned();
    let (code, stdout, _) = trail.keystead(&[
        "audit",
        "verify",
        "--public-key",
        &pem,
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        "2999-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("result:   INTACT"), "{stdout}");
}

#[tokio::test]
async fn public_key_prints_the_pem_that_verifies_the_digests() {
    let trail = Trail::new(true).await;
    let (code, stdout, stderr) = trail.keystead(&["audit", "public-key"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, trail.public_key_pem);
    assert!(stdout.starts_with("-----BEGIN PUBLIC KEY-----\n"));
}

#[tokio::test]
async fn verify_with_another_public_key_rejects_every_digest() {
    let trail = Trail::new(true).await;
    let other = keystead_crypto::SigningKey::generate().expect("key");
    let pem = trail.data_dir.join("other.pem");
    fs::write(&pem, other.public_key_pem()).expect("write");
    let pem = pem.to_string_lossy().into_owned();
    let (code, stdout, _) = trail.keystead(&["audit", "verify", "--public-key", &pem]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("the signature does not verify"), "{stdout}");
}

#[tokio::test]
async fn verify_cannot_check_a_directory_without_a_trail_and_exits_2() {
    let trail = Trail::new(true).await;
    fs::rename(trail.trail(), trail.data_dir.join("moved")).expect("rename");
    let (code, stdout, stderr) = trail.keystead(&["audit", "verify"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("no audit trail"), "{stderr}");
}

#[tokio::test]
async fn an_edited_record_is_named_by_file_line_and_number() {
    let trail = Trail::new(true).await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    lines[1] = lines[1].replace("192.0.2.0", "198.51.100.9");
    write_lines(&path, &lines);
    trail.assert_tampered(&format!("{}:2: record 7 was edited", name(&path)));
}

#[tokio::test]
async fn a_deleted_record_is_named() {
    let trail = Trail::new(true).await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    lines.remove(2);
    write_lines(&path, &lines);
    trail.assert_tampered("records 8..=8 were deleted");
}

#[tokio::test]
async fn an_inserted_record_is_named() {
    let trail = Trail::new(true).await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    // A forged record with a correct hash, claiming to follow record 7.
    let (seq, _, hash, event) = parts(&lines[1]);
    let forged = line(seq + 1, &hash, &event.replace("Decrypt", "Encrypt"));
    lines.insert(2, forged);
    write_lines(&path, &lines);
    trail.assert_tampered("a record claiming number 8 was inserted");
}

#[tokio::test]
async fn reordered_records_are_named() {
    let trail = Trail::new(true).await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    lines.swap(1, 2);
    write_lines(&path, &lines);
    trail.assert_tampered("was moved out of order");
}

#[tokio::test]
async fn a_deleted_log_file_is_named_with_its_records() {
    let trail = Trail::new(true).await;
    let path = trail.log(1);
    fs::remove_file(&path).expect("remove");
    trail.assert_tampered(&format!(
        "log file 2 is missing ({}) with records 6..=10",
        name(&path)
    ));
}

#[tokio::test]
async fn a_consistently_rewritten_log_file_is_named_with_its_digest() {
    let trail = Trail::new(true).await;
    let path = trail.log(1);
    let lines = read_lines(&path);
    let (_, mut prev, _, _) = parts(&lines[0]);
    let mut rewritten = Vec::new();
    for original in &lines {
        let (seq, _, _, event) = parts(original);
        let new = line(seq, &prev, &event.replace("192.0.2.0", "198.51.100.7"));
        prev = parts(&new).2;
        rewritten.push(new);
    }
    write_lines(&path, &rewritten);
    trail.assert_tampered(&format!(
        "{}: differs from what digest {} sealed",
        name(&path),
        name(&trail.digest(1))
    ));
}

#[tokio::test]
async fn a_forged_digest_is_named() {
    let trail = Trail::new(true).await;
    let path = trail.digest(1);
    let text = fs::read_to_string(&path).expect("read");
    fs::write(&path, text.replacen("\"size\":", "\"size\":1", 1)).expect("write");
    trail.assert_tampered(&format!(
        "{}: the signature does not verify (forged or altered)",
        name(&path)
    ));
}

#[tokio::test]
async fn a_missing_digest_is_named() {
    let trail = Trail::new(true).await;
    fs::remove_file(trail.digest(1)).expect("remove");
    trail.assert_tampered("digests 2..=2 are missing");
}

#[tokio::test]
async fn a_truncated_tail_of_a_sealed_file_is_named_with_the_lost_records() {
    let trail = Trail::new(true).await;
    let path = trail.log(2);
    let mut lines = read_lines(&path);
    lines.truncate(3);
    write_lines(&path, &lines);
    trail.assert_tampered("records 14..=15 are gone");
}

#[tokio::test]
async fn a_tail_torn_by_a_crash_is_a_notice_not_tampering() {
    let trail = Trail::new(false).await;
    let path = trail.log(2);
    let mut bytes = fs::read(&path).expect("read");
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":16,\"prev\":\"0123");
    fs::write(&path, bytes).expect("write");
    let (code, stdout, stderr) = trail.keystead(&["audit", "verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "notice:   {}: ends in a line torn by a crash",
            name(&path)
        )),
        "{stdout}"
    );
    assert!(stdout.contains("not yet sealed"), "{stdout}");
    assert!(stdout.contains("result:   INTACT"), "{stdout}");
}

#[tokio::test]
async fn export_jsonl_writes_one_record_per_line_in_trail_order() {
    let trail = Trail::new(true).await;
    let out = trail.data_dir.join("export");
    let out_arg = out.to_string_lossy().into_owned();
    let (code, stdout, stderr) =
        trail.keystead(&["audit", "export", "--format", "jsonl", "--out", &out_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines = read_lines(&out.join("records.jsonl"));
    assert_eq!(lines.len(), 15);
    for (n, text) in lines.iter().enumerate() {
        let event: AuditEvent = serde_json::from_str(text).expect("a CloudTrail record");
        assert_eq!(event, record(n as u64 + 1));
    }

    // A time range selects by eventTime (records 3..=5 are at 10:03..10:05).
    let (code, stdout, stderr) = trail.keystead(&[
        "audit",
        "export",
        "--format",
        "jsonl",
        "--out",
        &out_arg,
        "--from",
        "2026-11-28T10:03:00Z",
        "--to",
        "2026-11-28T10:05:00Z",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lines = read_lines(&out.join("records.jsonl"));
    assert_eq!(lines.len(), 3, "{lines:?}");
}

/// Every file under `dir`, relative to it.
fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, base, out);
        } else {
            out.push(
                path.strip_prefix(base)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

#[tokio::test]
async fn export_cloudtrail_writes_gzipped_record_files_in_cloudtrails_layout() {
    let trail = Trail::new(true).await;
    let out = trail.data_dir.join("export");
    let out_arg = out.to_string_lossy().into_owned();
    let (code, stdout, stderr) = trail.keystead(&[
        "audit",
        "export",
        "--format",
        "cloudtrail",
        "--out",
        &out_arg,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut files = Vec::new();
    walk(&out, &out, &mut files);
    files.sort();
    assert!(!files.is_empty());
    let mut seen = Vec::new();
    for file in &files {
        // AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_
        // YYYYMMDDTHHMMZ_UNIQUE.json.gz
        let parts: Vec<&str> = file.split('/').collect();
        assert_eq!(parts.len(), 8, "{file}");
        let (account, region) = (parts[1], parts[3]);
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[2], "CloudTrail");
        assert_eq!(&parts[4..7], ["2026", "11", "28"], "{file}");
        let name = parts[7];
        let prefix = format!("{account}_CloudTrail_{region}_20261128T");
        assert!(name.starts_with(&prefix), "{file}");
        let rest = name[prefix.len()..]
            .strip_suffix(".json.gz")
            .expect("json.gz");
        let (hhmm, unique) = rest.split_once("Z_").expect("time and unique part");
        assert_eq!(hhmm.len(), 4, "{file}");
        assert_eq!(unique.len(), 16, "{file}");

        let mut json = String::new();
        flate2::read::GzDecoder::new(fs::File::open(out.join(file)).expect("open"))
            .read_to_string(&mut json)
            .expect("gunzip");
        let body: Value = serde_json::from_str(&json).expect("JSON");
        let records = body["Records"].as_array().expect("{\"Records\": [...]}");
        assert!(!records.is_empty());
        for value in records {
            assert_eq!(value["recipientAccountId"], account);
            assert_eq!(value["awsRegion"], region);
            let time = value["eventTime"].as_str().expect("eventTime");
            // Files hold 5 minutes: 10:00-10:04 in 1000Z, 10:05-10:09 in 1005Z, ...
            let minute: u32 = time[14..16].parse().expect("minute");
            assert_eq!(hhmm, format!("{}{:02}", &time[11..13], minute - minute % 5));
            let event: AuditEvent = serde_json::from_value(value.clone()).expect("record");
            seen.push(event);
        }
    }
    seen.sort_by_key(|e| e.event_id.clone());
    let expected: Vec<AuditEvent> = (1..=15).map(record).collect();
    assert_eq!(seen, expected);
}
