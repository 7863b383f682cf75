//! Figures, not assertions: run with
//! `cargo test --release -p keystead-audit --test bench -- --ignored --nocapture --test-threads 1`.
//! Set `KEYSTEAD_AUDIT_BENCH_DIR` to measure on another file system than the temp dir's, and
//! `KEYSTEAD_AUDIT_BENCH_VARIED` to append records as varied as a server's (keys, users, random
//! event ids) rather than one record over and over.

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
                    log.append(&record(t * per_appender + n))
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
    // Alternating, so that both see the same machine.
    for round in 1..=3 {
        for (appenders, per_appender) in [(1, 2000), (32, 5000)] {
            for lookup_index in [false, true] {
                let temp = bench_dir();
                let dir = temp.path().join("audit");
                let key = SigningKey::generate().expect("key");
                let mut config = config(&dir);
                config.lookup_index = lookup_index;
                let log = Arc::new(AuditLog::open(config, key).expect("open"));
                let cpu_start = process_cpu_seconds();
                let seconds = append_concurrently(Arc::clone(&log), appenders, per_appender).await;
                let stats = log.stats();
                Arc::into_inner(log)
                    .expect("owner")
                    .close()
                    .await
                    .expect("close");
                // Including the indexer's work, which `close` waits for.
                let cpu = process_cpu_seconds() - cpu_start;
                println!(
                    "round {round}, index {}: {appenders:>3} appenders: {} records of {record_bytes} B in \
             {seconds:.2} s = {:.0} records/s; {} batches ({:.1} records each), {:.0} fsyncs/s; \
             {:.1} us of CPU per record",
                    if lookup_index { "on " } else { "off" },
                    stats.records,
                    stats.records as f64 / seconds,
                    stats.batches,
                    stats.records as f64 / stats.batches as f64,
                    stats.syncs as f64 / seconds,
                    cpu * 1e6 / stats.records as f64,
                );
            }
        }
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
    // The lookup index is no part of what is verified.
    let mut config = config(&dir);
    config.lookup_index = false;
    let log = Arc::new(AuditLog::open(config, key).expect("open"));
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

/// Record `n` of the append benchmark: as [`event`], or, with `KEYSTEAD_AUDIT_BENCH_VARIED`
/// set, as a server writes them: [`varied`], with a random event id.
fn record(n: u64) -> keystead_audit::AuditEvent {
    if std::env::var_os("KEYSTEAD_AUDIT_BENCH_VARIED").is_none() {
        return event(n);
    }
    let mut record = varied(n);
    record.event_id = keystead_audit::random_event_id();
    record
}

/// Record `n` of the lookup benchmark: 1000 keys, 8 operations, 50 users, 2 accounts.
fn varied(n: u64) -> keystead_audit::AuditEvent {
    let mut record = event(n);
    let account = if n.is_multiple_of(2) {
        "111122223333"
    } else {
        "444455556666"
    };
    record.recipient_account_id = account.to_owned();
    record.event_name = [
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "DescribeKey",
        "Sign",
        "Verify",
        "ReEncrypt",
        "ListAliases",
    ][(n % 8) as usize]
        .to_owned();
    record.user_identity.user_name = Some(format!("user-{}", n % 50));
    record.user_identity.access_key_id = Some(format!("AKIA{:016}", n % 500));
    record.resources = vec![keystead_audit::Resource {
        account_id: Some(account.to_owned()),
        resource_type: Some("AWS::KMS::Key".to_owned()),
        arn: format!(
            "arn:aws:kms:us-west-2:{account}:key/00000000-0000-4000-8000-{:012}",
            n % 1000
        ),
    }];
    record
}

/// Record `n` of the lookup benchmark's second workload, as a server under load writes them:
/// one account, one key, one user, one access key, one operation; only the ids differ.
fn shared(n: u64) -> keystead_audit::AuditEvent {
    let mut record = varied(0);
    let fresh = event(n);
    record.event_id = fresh.event_id;
    record.request_id = fresh.request_id;
    record
}

/// Record `n` of the lookup benchmark's worst case: as [`varied`], but with its own user,
/// access key and key.
fn distinct(n: u64) -> keystead_audit::AuditEvent {
    let mut record = varied(n);
    let account = record.recipient_account_id.clone();
    record.user_identity.user_name = Some(format!("user-{n}"));
    record.user_identity.access_key_id = Some(format!("AKIA{n:016}"));
    if let Some(resource) = record.resources.first_mut() {
        resource.arn =
            format!("arn:aws:kms:us-west-2:{account}:key/00000000-0000-4000-8000-{n:012}");
    }
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn lookup_latency_over_a_million_records() {
    lookup_latency(Workload::Varied).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn lookup_latency_over_a_million_records_sharing_their_keys() {
    lookup_latency(Workload::Shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn lookup_latency_over_a_million_records_with_distinct_keys() {
    lookup_latency(Workload::Distinct).await;
}

/// Which records the lookup benchmark appends.
#[derive(Clone, Copy, Debug)]
enum Workload {
    /// [`varied`]: 1000 keys, 8 operations, 50 users, 500 access keys, 2 accounts.
    Varied,
    /// [`shared`]: consecutive records share every lookup key but their event id.
    Shared,
    /// [`distinct`]: every record has its own user, access key and key (the worst case).
    Distinct,
}

impl Workload {
    fn record(self, n: u64) -> keystead_audit::AuditEvent {
        match self {
            Self::Varied => varied(n),
            Self::Shared => shared(n),
            Self::Distinct => distinct(n),
        }
    }
}

/// Appends `KEYSTEAD_AUDIT_BENCH_RECORDS` (default 1,000,000) records of `workload`, then
/// prints the indexer's CPU per record, lookup latencies, the index size and a rebuild's cost.
async fn lookup_latency(workload: Workload) {
    use keystead_audit::{LookupAttribute, LookupQuery};
    let records: u64 = std::env::var("KEYSTEAD_AUDIT_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let temp = bench_dir();
    let dir = temp.path().join("audit");
    let key_path = temp.path().join("signing.key");
    let key = SigningKey::create(&key_path).expect("key");
    let indexer = IndexerCpu::start();
    let log = Arc::new(AuditLog::open(config(&dir), key).expect("open"));
    let appenders = 256;
    let per_appender = records / appenders;
    let start = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|t| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                for n in 0..per_appender {
                    log.append(&workload.record(t * per_appender + n))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let appended = start.elapsed().as_secs_f64();
    Arc::into_inner(log)
        .expect("owner")
        .close()
        .await
        .expect("close");
    let indexed = start.elapsed().as_secs_f64();
    let indexer_cpu = indexer.stop();
    let written = appenders * per_appender;
    let index_bytes = std::fs::metadata(dir.join("index.sqlite")).map_or(0, |m| m.len())
        + std::fs::metadata(dir.join("index.sqlite-wal")).map_or(0, |m| m.len());
    println!(
        "{workload:?}: wrote {written} records in {appended:.1} s ({:.0} records/s), all indexed \
         after {indexed:.1} s; indexer thread {:.2} us of CPU per record; index {:.0} MB",
        written as f64 / appended,
        indexer_cpu * 1e6 / written as f64,
        index_bytes as f64 / 1e6
    );

    let log =
        AuditLog::open(config(&dir), SigningKey::load(&key_path).expect("key")).expect("reopen");
    for (label, attribute) in [
        ("ResourceName (key ARN)", 0),
        ("ResourceName (key id)", 1),
        ("EventName", 2),
        ("Username", 3),
        ("none (time range)", 4),
    ] {
        let mut times = Vec::with_capacity(1000);
        let mut found = 0;
        for i in 0..1000u64 {
            let k = match workload {
                Workload::Varied => (i * 7919) % 1000,
                Workload::Shared => 0,
                // A key (and a user) of one record among the newest.
                Workload::Distinct => written - 1 - (i * 7919) % 1000,
            };
            let account = "111122223333";
            let key_id = format!("00000000-0000-4000-8000-{:012}", k - k % 2);
            let attribute = match attribute {
                0 => Some(LookupAttribute::ResourceName(format!(
                    "arn:aws:kms:us-west-2:{account}:key/{key_id}"
                ))),
                1 => Some(LookupAttribute::ResourceName(key_id)),
                2 => Some(LookupAttribute::EventName(
                    match workload {
                        Workload::Varied | Workload::Distinct => "GenerateDataKey",
                        Workload::Shared => "Decrypt",
                    }
                    .to_owned(),
                )),
                3 => Some(LookupAttribute::Username(match workload {
                    Workload::Distinct => format!("user-{}", k - k % 2),
                    _ => format!("user-{}", (k % 50) & !1),
                })),
                _ => None,
            };
            let query = LookupQuery {
                account_id: account.to_owned(),
                attribute,
                start: None,
                end: None,
                max_results: 50,
                next_token: None,
            };
            let start = Instant::now();
            let page = log.lookup(&query).expect("lookup");
            times.push(start.elapsed());
            found += page.events.len();
        }
        times.sort();
        println!(
            "lookup by {label}: 1000 lookups of a 50-record page over {written} records: \
             p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} records returned)",
            times[499].as_secs_f64() * 1e3,
            times[989].as_secs_f64() * 1e3,
            times[999].as_secs_f64() * 1e3,
            found
        );
    }
    log.close().await.expect("close");

    // The index is derived data: time a rebuild from the log files alone.
    for name in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let start = Instant::now();
    let cpu_start = process_cpu_seconds();
    let indexer = IndexerCpu::start();
    let log =
        AuditLog::open(config(&dir), SigningKey::load(&key_path).expect("key")).expect("reopen");
    // `close` waits for the indexer, which first catches up from the files.
    log.close().await.expect("close");
    let seconds = start.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_start;
    let indexer_cpu = indexer.stop();
    println!(
        "rebuilt the index of {written} records from the log in {seconds:.1} s ({:.0} records/s), \
         {cpu:.1} s of CPU = {:.1} us of CPU per record (reading, parsing and inserting; \
         indexer thread {:.1} us)",
        written as f64 / seconds,
        cpu * 1e6 / written as f64,
        indexer_cpu * 1e6 / written as f64
    );
}

/// Samples the CPU time of the `audit-indexer` threads every few milliseconds, so that their
/// total is known after they exit.
struct IndexerCpu {
    stop: Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<f64>,
}

impl IndexerCpu {
    fn start() -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen = std::collections::HashMap::<String, f64>::new();
                loop {
                    let done = stop.load(std::sync::atomic::Ordering::Relaxed);
                    for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
                        let Ok(entry) = entry else { continue };
                        let path = entry.path();
                        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                        if comm.trim() != "audit-indexer" {
                            continue;
                        }
                        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
                        let cpu = cpu_of_stat(&stat);
                        let tid = entry.file_name().to_string_lossy().into_owned();
                        let last = seen.entry(tid).or_default();
                        *last = last.max(cpu);
                    }
                    if done {
                        return seen.values().sum();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            })
        };
        Self { stop, sampler }
    }

    /// The CPU seconds of every indexer thread seen since [`IndexerCpu::start`].
    fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.sampler.join().expect("sampler")
    }
}

/// User + system CPU seconds in a `/proc/.../stat` line (in clock ticks of 1/100 s).
fn cpu_of_stat(stat: &str) -> f64 {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// User + system CPU time of this process so far (Linux: /proc/self/stat, in clock ticks of
/// 1/100 s), robust to other work on the machine where wall time is not.
fn process_cpu_seconds() -> f64 {
    cpu_of_stat(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}
