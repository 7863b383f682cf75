//! Figures, not assertions: run with
//! `cargo test --release -p keystead-audit --test bench -- --ignored --nocapture --test-threads 1`.
//! Set `KEYSTEAD_AUDIT_BENCH_DIR` to measure on another file system than the temp dir's.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use keystead_audit::{AuditLog, verify};
use keystead_crypto::SigningKey;

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("KEYSTEAD_AUDIT_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).expect("tempdir"),
        None => tempfile::tempdir().expect("tempdir"),
    }
}

/// `appenders` tasks append `per_appender` records each; returns (seconds, log).
async fn append_concurrently(log: Arc<AuditLog>, appenders: u64, per_appender: u64) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|t| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                for n in 0..per_appender {
                    log.append(&event(t * per_appender + n))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn append_throughput() {
    let record_bytes = serde_json::to_vec(&event(1)).expect("json").len();
    for (appenders, per_appender) in [(1, 2000), (32, 5000)] {
        let temp = bench_dir();
        let dir = temp.path().join("audit");
        let key = SigningKey::generate().expect("key");
        let log = Arc::new(AuditLog::open(config(&dir), key).expect("open"));
        let seconds = append_concurrently(Arc::clone(&log), appenders, per_appender).await;
        let stats = log.stats();
        println!(
            "{appenders:>3} appenders: {} records of {record_bytes} B in {seconds:.2} s = {:.0} \
             records/s; {} batches ({:.1} records each), {:.0} fsyncs/s",
            stats.records,
            stats.records as f64 / seconds,
            stats.batches,
            stats.records as f64 / stats.batches as f64,
            stats.syncs as f64 / seconds,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn verify_throughput() {
    let megabytes: u64 = std::env::var("KEYSTEAD_AUDIT_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let temp = bench_dir();
    let dir = temp.path().join("audit");
    let key = SigningKey::generate().expect("key");
    let public_key = key.public_key_der();
    let log = Arc::new(AuditLog::open(config(&dir), key).expect("open"));
    let line_bytes = serde_json::to_vec(&event(1)).expect("json").len() as u64 + 180;
    let appenders = 256;
    let per_appender = (megabytes << 20) / line_bytes / appenders + 1;
    let seconds = append_concurrently(Arc::clone(&log), appenders, per_appender).await;
    let stats = log.stats();
    Arc::into_inner(log)
        .expect("owner")
        .close()
        .await
        .expect("close");
    println!(
        "generated {} records with {appenders} appenders in {seconds:.1} s ({:.0} records/s, \
         {:.0} records per fsync)",
        stats.records,
        stats.records as f64 / seconds,
        stats.records as f64 / stats.batches as f64
    );

    for run in 1..=2 {
        let start = Instant::now();
        let report = verify(&dir, &public_key, None, None).expect("verify");
        let seconds = start.elapsed().as_secs_f64();
        assert!(report.is_intact(), "{report:#?}");
        assert!(report.notices.is_empty(), "{report:#?}");
        println!(
            "verify run {run}: {} files, {} records, {:.1} MB in {seconds:.2} s = {:.0} MB/s",
            report.log_files,
            report.records,
            report.bytes as f64 / 1e6,
            report.bytes as f64 / 1e6 / seconds
        );
    }
}
