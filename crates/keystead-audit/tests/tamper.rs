//! Tampering with a trail in each way the verifier must catch, and asserting the specific
//! finding it reports. Each test builds a sealed trail of three log files of five records
//! (records 1-5, 6-10, 11-15), each file sealed by its own digest, then changes it as an
//! attacker with write access to the directory (but not the signing key) would.

mod common;

use std::fs;

use common::*;
use keystead_audit::{Finding, Notice, Report, verify};

const FILES: u64 = 3;
const PER_FILE: u64 = 5;

struct Trail {
    _temp: tempfile::TempDir,
    dir: std::path::PathBuf,
    public_key: Vec<u8>,
}

impl Trail {
    async fn sealed() -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = temp.path().join("audit");
        let key_path = temp.path().join("audit-signing.key");
        let public_key = sealed_trail(&dir, &key_path, FILES, PER_FILE).await;
        let trail = Self {
            _temp: temp,
            dir,
            public_key,
        };
        let report = trail.verify();
        assert!(report.is_intact(), "untouched trail: {report:#?}");
        assert!(report.notices.is_empty(), "untouched trail: {report:#?}");
        assert_eq!(report.records, FILES * PER_FILE);
        trail
    }

    fn verify(&self) -> Report {
        verify(&self.dir, &self.public_key, None, None).expect("verify")
    }

    fn log(&self, index: usize) -> std::path::PathBuf {
        log_files(&self.dir)[index].clone()
    }

    fn digest(&self, index: usize) -> std::path::PathBuf {
        digest_files(&self.dir)[index].clone()
    }
}

/// The record-level findings of a report (those that point at a line).
fn record_findings(report: &Report) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f,
                Finding::RecordEdited { .. }
                    | Finding::RecordsDeleted { .. }
                    | Finding::RecordInserted { .. }
                    | Finding::RecordOutOfOrder { .. }
            )
        })
        .collect()
}

#[tokio::test]
async fn an_edited_record_is_reported_as_edited() {
    let trail = Trail::sealed().await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    // Record 8 (third line of the second file): Alice becomes Mallory.
    lines[2] = lines[2].replace("user/Alice", "user/Mallory");
    write_lines(&path, &lines);

    let report = trail.verify();
    let file = name(&path);
    assert_eq!(
        record_findings(&report),
        [&Finding::RecordEdited {
            file: file.clone(),
            line: 3,
            seq: 8,
            rehashed: false
        }]
    );
    assert!(report.findings.contains(&Finding::LogFileRewritten {
        file,
        digest: name(&trail.digest(1)),
    }));
}

#[tokio::test]
async fn an_edited_and_rehashed_record_is_reported_at_the_edited_record() {
    let trail = Trail::sealed().await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    let (seq, prev, _, event) = parts(&lines[1]);
    lines[1] = line(seq, &prev, &event.replace("\"Decrypt\"", "\"Encrypt\""));
    write_lines(&path, &lines);

    let report = trail.verify();
    assert_eq!(
        record_findings(&report),
        [&Finding::RecordEdited {
            file: name(&path),
            line: 2,
            seq: 7,
            rehashed: true
        }]
    );
}

#[tokio::test]
async fn a_deleted_record_is_reported_as_deleted() {
    let trail = Trail::sealed().await;
    let path = trail.log(0);
    let mut lines = read_lines(&path);
    lines.remove(2); // record 3
    write_lines(&path, &lines);

    let report = trail.verify();
    assert_eq!(
        record_findings(&report),
        [&Finding::RecordsDeleted {
            file: name(&path),
            line: 3,
            first_seq: 3,
            last_seq: 3
        }]
    );
    assert!(matches!(
        report.findings.first(),
        Some(Finding::LogFileRewritten { .. })
    ));
}

#[tokio::test]
async fn a_forged_record_inserted_into_the_chain_is_reported_as_inserted() {
    let trail = Trail::sealed().await;
    let path = trail.log(1);
    let mut lines = read_lines(&path);
    // The attacker links a record of their own to record 7 and gives it number 8, with a
    // correct hash: only record 8's link to record 7 betrays it.
    let (_, _, hash7, event) = parts(&lines[1]);
    let forged = line(8, &hash7, &event.replace("Alice", "Mallory"));
    lines.insert(2, forged);
    write_lines(&path, &lines);

    let report = trail.verify();
    assert_eq!(
        record_findings(&report),
        [&Finding::RecordInserted {
            file: name(&path),
            line: 3,
            seq: 8
        }]
    );
}

#[tokio::test]
async fn a_copied_line_is_reported_as_inserted() {
    let trail = Trail::sealed().await;
    let path = trail.log(2);
    let mut lines = read_lines(&path);
    let copy = lines[0].clone();
    lines.insert(3, copy);
    write_lines(&path, &lines);

    let report = trail.verify();
    assert_eq!(
        record_findings(&report),
        [&Finding::RecordInserted {
            file: name(&path),
            line: 4,
            seq: 11
        }]
    );
}

#[tokio::test]
async fn swapped_records_are_reported_as_out_of_order() {
    let trail = Trail::sealed().await;
    let path = trail.log(0);
    let mut lines = read_lines(&path);
    lines.swap(1, 2); // records 2 and 3
    write_lines(&path, &lines);

    let report = trail.verify();
    let found = record_findings(&report);
    assert_eq!(found.len(), 1, "{report:#?}");
    assert!(
        matches!(
            found[0],
            Finding::RecordOutOfOrder {
                seq: 2 | 3,
                line: 2 | 3,
                ..
            }
        ),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_record_moved_far_from_its_place_is_reported_as_out_of_order() {
    let trail = Trail::sealed().await;
    let path = trail.log(0);
    let mut lines = read_lines(&path);
    let first = lines.remove(0);
    lines.push(first); // record 1 now stands after record 5
    write_lines(&path, &lines);

    let report = trail.verify();
    assert_eq!(
        record_findings(&report),
        [&Finding::RecordOutOfOrder {
            file: name(&path),
            line: 5,
            seq: 1
        }]
    );
}

#[tokio::test]
async fn a_deleted_log_file_is_reported_as_missing_and_nothing_else() {
    let trail = Trail::sealed().await;
    let path = trail.log(1);
    fs::remove_file(&path).expect("remove");

    let report = trail.verify();
    assert_eq!(
        report.findings,
        [Finding::LogFileMissing {
            file_seq: 2,
            file: Some(name(&path)),
            records: Some((6, 10)),
        }]
    );
}

#[tokio::test]
async fn a_consistently_rewritten_log_file_is_caught_by_its_digest() {
    let trail = Trail::sealed().await;
    let path = trail.log(1);
    // A careful attacker rewrites every record of the file and recomputes the whole chain from
    // the last hash of the file before: the chain alone cannot tell.
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

    let report = trail.verify();
    assert_eq!(
        report.findings,
        [Finding::LogFileRewritten {
            file: name(&path),
            digest: name(&trail.digest(1)),
        }]
    );
}

#[tokio::test]
async fn a_digest_altered_without_the_key_is_reported_as_forged() {
    let trail = Trail::sealed().await;
    let path = trail.digest(1);
    let text = fs::read_to_string(&path).expect("read");
    // Make the digest vouch for a rewritten file: change the sealed size.
    let forged = text.replacen("\"size\":", "\"size\":1", 1);
    assert_ne!(forged, text);
    fs::write(&path, forged).expect("write");

    let report = trail.verify();
    assert!(
        report.findings.contains(&Finding::DigestSignatureInvalid {
            digest: name(&path)
        }),
        "{report:#?}"
    );
    // Its files are then sealed by nothing trustworthy.
    assert!(report.notices.iter().any(|n| matches!(
        n,
        Notice::Unsealed { files } if files.contains(&name(&trail.log(1)))
    )));
}

#[tokio::test]
async fn a_digest_signed_with_another_key_is_reported_as_forged() {
    let trail = Trail::sealed().await;
    // The attacker builds a whole trail with their own key and swaps in its last digest.
    let other = tempfile::tempdir().expect("tempdir");
    let other_dir = other.path().join("audit");
    sealed_trail(&other_dir, &other.path().join("k"), FILES, PER_FILE).await;
    let victim = trail.digest(2);
    fs::copy(digest_files(&other_dir)[2].clone(), &victim).expect("copy");

    let report = trail.verify();
    assert!(
        report.findings.contains(&Finding::DigestSignatureInvalid {
            digest: name(&victim)
        }),
        "{report:#?}"
    );
}

#[tokio::test]
async fn the_wrong_public_key_rejects_every_digest() {
    let trail = Trail::sealed().await;
    let other = keystead_crypto::SigningKey::generate().expect("key");
    let report = verify(&trail.dir, &other.public_key_der(), None, None).expect("verify");
    let forged = report
        .findings
        .iter()
        .filter(|f| matches!(f, Finding::DigestSignatureInvalid { .. }))
        .count();
    assert_eq!(forged, 3);
}

#[tokio::test]
async fn a_deleted_digest_is_reported_as_missing() {
    let trail = Trail::sealed().await;
    fs::remove_file(trail.digest(1)).expect("remove");

    let report = trail.verify();
    assert!(
        report.findings.contains(&Finding::DigestMissing {
            first_seq: 2,
            last_seq: 2
        }),
        "{report:#?}"
    );
    assert_eq!(record_findings(&report), Vec::<&Finding>::new());
}

#[tokio::test]
async fn records_cut_off_the_end_of_a_sealed_file_are_reported_as_truncated() {
    let trail = Trail::sealed().await;
    let path = trail.log(2);
    let mut lines = read_lines(&path);
    lines.truncate(3); // records 14 and 15 are gone
    write_lines(&path, &lines);

    let report = trail.verify();
    assert!(
        matches!(
            report.findings.as_slice(),
            [Finding::LogFileTruncated {
                first_missing_seq: 14,
                last_missing_seq: 15,
                ..
            }]
        ),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_sealed_file_cut_in_the_middle_of_a_line_is_truncated_not_torn() {
    let trail = Trail::sealed().await;
    let path = trail.log(2);
    let bytes = fs::read(&path).expect("read");
    fs::write(&path, &bytes[..bytes.len() - 100]).expect("write");

    let report = trail.verify();
    assert!(
        matches!(
            report.findings.as_slice(),
            [Finding::LogFileTruncated {
                first_missing_seq: 15,
                last_missing_seq: 15,
                ..
            }]
        ),
        "{report:#?}"
    );
    assert!(
        !report
            .notices
            .iter()
            .any(|n| matches!(n, Notice::TornTail { .. }))
    );
}

#[tokio::test]
async fn the_newest_file_deleted_whole_is_caught_by_its_digest() {
    let trail = Trail::sealed().await;
    let path = trail.log(2);
    fs::remove_file(&path).expect("remove");
    let report = trail.verify();
    assert_eq!(
        report.findings,
        [Finding::LogFileMissing {
            file_seq: 3,
            file: Some(name(&path)),
            records: Some((11, 15)),
        }]
    );
}

#[tokio::test]
async fn an_incomplete_line_in_a_file_that_is_not_the_newest_is_damage_not_a_crash() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("audit");
    let key_path = temp.path().join("k");
    // Two unsealed files: the log is dropped without closing, twice.
    for batch in 0..2 {
        let log = open(&dir, &key_path);
        for n in 0..3 {
            log.append(&event(batch * 3 + n)).await.expect("append");
        }
        drop(log);
    }
    let files = log_files(&dir);
    assert_eq!(files.len(), 2);
    let public_key = keystead_crypto::SigningKey::load(&key_path)
        .expect("key")
        .public_key_der();
    let mut bytes = fs::read(&files[0]).expect("read");
    bytes.extend_from_slice(b"{\"v\":1,\"seq\":4,");
    fs::write(&files[0], &bytes).expect("write");

    let report = verify(&dir, &public_key, None, None).expect("verify");
    assert!(
        report.findings.iter().any(|f| matches!(
            f,
            Finding::PartialLine { file, len: 15, .. } if *file == name(&files[0])
        )),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_stray_file_in_the_trail_is_reported() {
    let trail = Trail::sealed().await;
    fs::write(trail.dir.join("logs").join("extra.jsonl"), b"{}\n").expect("write");
    let report = trail.verify();
    assert_eq!(
        report.findings,
        [Finding::UnexpectedFile {
            path: "logs/extra.jsonl".into()
        }]
    );
}

#[tokio::test]
async fn every_finding_has_a_readable_description() {
    let trail = Trail::sealed().await;
    let path = trail.log(0);
    let mut lines = read_lines(&path);
    lines.remove(1);
    write_lines(&path, &lines);
    let report = trail.verify();
    let text: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.ends_with("records 2..=2 were deleted")),
        "{text:?}"
    );
}

#[tokio::test]
async fn a_renamed_log_file_is_reported() {
    let trail = Trail::sealed().await;
    let path = trail.log(1);
    let renamed = path.with_file_name("00000002-20000101T000000Z.jsonl");
    fs::rename(&path, &renamed).expect("rename");
    let report = trail.verify();
    assert_eq!(
        report.findings,
        [Finding::LogFileRenamed {
            sealed_as: name(&path),
            file: name(&renamed),
        }]
    );
}
