//! The log's behaviour: durability before acknowledgement, group commit, rolling by size and
//! age, digests on a timer, reopening, and recovery from a torn tail.

mod common;

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use keystead_audit::{AuditLog, Error, Finding, Notice, RECOVERY_EVENT_NAME, verify};
use keystead_crypto::SigningKey;
use serde_json::Value;

fn temp() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("audit");
    let key = temp.path().join("audit-signing.key");
    (temp, dir, key)
}

#[tokio::test]
async fn an_appended_record_is_in_its_file_when_append_returns() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    for n in 1..=3 {
        let receipt = log.append(&event(n)).await.expect("append");
        assert_eq!(receipt.seq, n);
        let files = log_files(&dir);
        assert_eq!(files.len(), 1);
        let lines = read_lines(&files[0]);
        assert_eq!(lines.len() as u64, n);
        let (seq, _, hash, event_text) = parts(&lines[n as usize - 1]);
        assert_eq!(seq, n);
        assert_eq!(hash, hex::encode(receipt.hash));
        let event: Value = serde_json::from_str(&event_text).expect("event");
        assert_eq!(event["eventName"], "Decrypt");
    }
    let stats = log.stats();
    assert_eq!(stats.records, 3);
    assert_eq!(stats.batches, 3);
}

#[tokio::test]
async fn records_follow_the_documented_chain_format() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    for n in 1..=4 {
        log.append(&event(n)).await.expect("append");
    }
    drop(log);
    let mut prev = "0".repeat(64);
    for (i, text) in read_lines(&log_files(&dir)[0]).iter().enumerate() {
        let (seq, line_prev, hash, event) = parts(text);
        assert_eq!(seq, i as u64 + 1);
        assert_eq!(line_prev, prev);
        assert_eq!(hash, record_hash(seq, &prev, &event));
        prev = hash;
    }
}

#[tokio::test]
async fn concurrent_appends_share_syncs_and_get_distinct_sequence_numbers() {
    let (_t, dir, key) = temp();
    let log = Arc::new(open(&dir, &key));
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..20 {
                    seqs.push(log.append(&event(t * 100 + n)).await.expect("append").seq);
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.expect("task"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=1280).collect::<Vec<_>>());
    let stats = log.stats();
    assert_eq!(stats.records, 1280);
    assert!(stats.batches < 1280, "no batching: {stats:?}");

    let public_key = log.public_key_der().to_vec();
    Arc::into_inner(log)
        .expect("only owner")
        .close()
        .await
        .expect("close");
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(report.is_intact(), "{report:#?}");
    assert!(report.notices.is_empty(), "{report:#?}");
    assert_eq!(report.records, 1280);
}

#[tokio::test]
async fn files_roll_by_size_and_the_digest_seals_them_all() {
    let (_t, dir, key) = temp();
    let mut config = config(&dir);
    config.max_file_bytes = 4096;
    let log = AuditLog::open(config, SigningKey::create(&key).expect("key")).expect("open");
    for n in 0..40 {
        log.append(&event(n)).await.expect("append");
    }
    let public_key = log.public_key_der().to_vec();
    log.close().await.expect("close");
    let files = log_files(&dir);
    assert!(files.len() >= 5, "{files:?}");
    for file in &files[..files.len() - 1] {
        assert!(fs::metadata(file).expect("metadata").len() >= 4096);
    }
    assert_eq!(digest_files(&dir).len(), 1);
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(
        report.is_intact() && report.notices.is_empty(),
        "{report:#?}"
    );
    assert_eq!(report.log_files, files.len());
}

#[tokio::test]
async fn files_roll_by_age_and_digests_are_written_on_a_timer() {
    let (_t, dir, key) = temp();
    let mut config = config(&dir);
    config.max_file_age = Duration::from_millis(100);
    config.digest_interval = Duration::from_millis(450);
    let log = AuditLog::open(config, SigningKey::create(&key).expect("key")).expect("open");
    log.append(&event(1)).await.expect("append");
    tokio::time::sleep(Duration::from_millis(250)).await;
    log.append(&event(2)).await.expect("append");
    assert_eq!(log_files(&dir).len(), 2, "the first file rolled by age");
    assert!(digest_files(&dir).is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !digest_files(&dir).is_empty(),
        "a digest was written by the timer"
    );

    let public_key = log.public_key_der().to_vec();
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(report.is_intact(), "{report:#?}");
    assert!(
        !report
            .notices
            .iter()
            .any(|n| matches!(n, Notice::Unsealed { .. })),
        "{report:#?}"
    );
    drop(log);
}

#[tokio::test]
async fn a_reopened_log_continues_the_chain_and_seals_what_the_last_run_left() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    for n in 1..=3 {
        log.append(&event(n)).await.expect("append");
    }
    drop(log); // as if the process was killed between two appends: nothing sealed

    let public_key = SigningKey::load(&key).expect("key").public_key_der();
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(report.is_intact(), "{report:#?}");
    assert_eq!(
        report.notices,
        [Notice::Unsealed {
            files: vec![name(&log_files(&dir)[0])]
        }]
    );

    let log = open(&dir, &key);
    assert!(log.recovery().is_none());
    let receipt = log.append(&event(4)).await.expect("append");
    assert_eq!(receipt.seq, 4);
    log.close().await.expect("close");
    assert_eq!(log_files(&dir).len(), 2);
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(
        report.is_intact() && report.notices.is_empty(),
        "{report:#?}"
    );
    assert_eq!(report.records, 4);
}

#[tokio::test]
async fn a_torn_tail_is_reported_as_torn_and_recovered_at_open_with_a_record_of_it() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    for n in 1..=3 {
        log.append(&event(n)).await.expect("append");
    }
    drop(log);
    let file = log_files(&dir)[0].clone();
    let intact = fs::read(&file).expect("read");
    // A crash in the middle of writing record 4: part of its line reached the disk.
    let torn = &line(4, &"ab".repeat(32), "{\"eventName\":\"Decrypt\"}")[..70];
    let mut bytes = intact.clone();
    bytes.extend_from_slice(torn.as_bytes());
    fs::write(&file, &bytes).expect("write");

    let public_key = SigningKey::load(&key).expect("key").public_key_der();
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(
        report.is_intact(),
        "a torn tail is not tampering: {report:#?}"
    );
    assert!(report.notices.contains(&Notice::TornTail {
        file: name(&file),
        offset: intact.len() as u64,
        len: 70,
    }));

    let log = open(&dir, &key);
    let recovery = log.recovery().expect("recovered").clone();
    assert_eq!(recovery.file, name(&file));
    assert_eq!(recovery.offset, intact.len() as u64);
    assert_eq!(recovery.discarded_bytes, 70);
    assert_eq!(
        recovery.discarded_sha256,
        keystead_crypto::digest::sha256(torn.as_bytes())
    );
    assert!(!recovery.file_removed);
    assert_eq!(recovery.seq, 4);
    assert_eq!(
        fs::read(&file).expect("read"),
        intact,
        "the torn bytes are gone"
    );

    // The recovery is itself a record, the first of the new file.
    let files = log_files(&dir);
    assert_eq!(files.len(), 2);
    let (seq, _, _, event_text) = parts(&read_lines(&files[1])[0]);
    assert_eq!(seq, 4);
    let recorded: Value = serde_json::from_str(&event_text).expect("json");
    assert_eq!(recorded["eventName"], RECOVERY_EVENT_NAME);
    assert_eq!(recorded["eventType"], "AwsServiceEvent");
    assert_eq!(recorded["serviceEventDetails"]["discardedBytes"], 70);
    assert_eq!(
        recorded["serviceEventDetails"]["truncatedAtOffset"],
        intact.len()
    );

    assert_eq!(log.append(&event(5)).await.expect("append").seq, 5);
    log.close().await.expect("close");
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(report.is_intact(), "{report:#?}");
    assert_eq!(
        report.notices,
        [Notice::Recovered {
            file: name(&files[1]),
            seq: 4,
            recovered_file: name(&file),
            discarded_bytes: 70,
        }]
    );
}

#[tokio::test]
async fn a_file_holding_only_a_torn_line_is_removed_and_its_number_reused() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    log.append(&event(1)).await.expect("append");
    log.close().await.expect("close");
    // A crash right after the next file was created: only part of its first line arrived.
    let torn_name = "00000002-20250101T000000Z.jsonl";
    fs::write(
        dir.join("logs").join(torn_name),
        b"{\"v\":1,\"seq\":2,\"prev\"",
    )
    .expect("write");

    let log = open(&dir, &key);
    let recovery = log.recovery().expect("recovered");
    assert!(recovery.file_removed);
    assert_eq!(recovery.seq, 2);
    log.close().await.expect("close");
    let files: Vec<String> = log_files(&dir).iter().map(|p| name(p)).collect();
    assert_eq!(files.len(), 2);
    assert!(files[1].starts_with("00000002-") && files[1] != torn_name);
    let public_key = SigningKey::load(&key).expect("key").public_key_der();
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(report.is_intact(), "{report:#?}");
}

#[tokio::test]
async fn open_refuses_to_chain_onto_a_forged_digest() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    log.append(&event(1)).await.expect("append");
    log.close().await.expect("close");
    let digest = digest_files(&dir)[0].clone();
    let text = fs::read_to_string(&digest).expect("read");
    fs::write(
        &digest,
        text.replace("\"recordCount\":1", "\"recordCount\":2"),
    )
    .expect("write");

    let result = AuditLog::open(config(&dir), SigningKey::load(&key).expect("key"));
    assert!(matches!(result, Err(Error::UntrustedDigest { .. })));
}

#[tokio::test]
async fn a_digest_half_written_by_a_crash_is_reported_and_removed_at_open() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    log.append(&event(1)).await.expect("append");
    log.close().await.expect("close");
    fs::write(
        dir.join("digests").join(".tmp-00000002"),
        b"{\"digestVersion\":1",
    )
    .expect("write");
    let public_key = SigningKey::load(&key).expect("key").public_key_der();
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(report.is_intact());
    assert_eq!(
        report.notices,
        [Notice::IncompleteDigest {
            path: "digests/.tmp-00000002".into()
        }]
    );
    let log = open(&dir, &key);
    log.close().await.expect("close");
    assert!(!dir.join("digests").join(".tmp-00000002").exists());
    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(
        report.is_intact() && report.notices.is_empty(),
        "{report:#?}"
    );
}

#[tokio::test]
async fn events_carrying_secrets_or_too_large_are_refused_before_anything_is_written() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    let mut secret = event(1);
    secret.request_parameters = serde_json::json!({"keyId": "k", "plaintext": "c2VjcmV0"})
        .as_object()
        .cloned();
    assert!(matches!(
        log.append(&secret).await,
        Err(Error::SecretInEvent { field }) if field == "plaintext"
    ));
    let mut large = event(2);
    large.user_agent = Some("x".repeat(300 * 1024));
    assert!(matches!(
        log.append(&large).await,
        Err(Error::EventTooLarge { limit: 262_144, .. })
    ));
    assert!(log_files(&dir).is_empty());
    assert_eq!(log.append(&event(3)).await.expect("append").seq, 1);
}

#[tokio::test]
async fn the_public_key_exports_as_pem() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    let pem = log.public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(
        keystead_crypto::signing::public_key_der_from_pem(&pem).expect("pem"),
        log.public_key_der()
    );
    drop(log);
}

#[tokio::test]
async fn a_time_range_reads_only_the_files_in_it_and_links_them_to_their_sealed_predecessor() {
    let (_t, dir, key) = temp();
    let log = open(&dir, &key);
    for n in 1..=3 {
        log.append(&event(n)).await.expect("append");
    }
    log.seal().await.expect("seal");
    // File names have second precision: make the next file start in a later second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let middle = keystead_audit::OffsetDateTime::now_utc();
    for n in 4..=6 {
        log.append(&event(n)).await.expect("append");
    }
    let public_key = log.public_key_der().to_vec();
    log.close().await.expect("close");

    let report = verify(&dir, &public_key, Some(middle), None).expect("verify");
    assert!(report.is_intact(), "{report:#?}");
    assert_eq!(report.log_files, 1);
    assert_eq!(report.records, 3);
    assert!(report.notices.is_empty(), "{report:#?}");

    // Tampering outside the range is not seen; inside it is.
    let files = log_files(&dir);
    let mut lines = read_lines(&files[1]);
    lines[0] = lines[0].replace("Alice", "Mallory");
    write_lines(&files[1], &lines);
    let report = verify(&dir, &public_key, Some(middle), None).expect("verify");
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::RecordEdited { seq: 4, .. }))
    );
    let report = verify(
        &dir,
        &public_key,
        None,
        Some(middle - time::Duration::SECOND),
    )
    .expect("verify");
    assert!(report.is_intact(), "{report:#?}");
    assert_eq!(report.log_files, 1, "{report:#?} {files:?} {middle}");
}
