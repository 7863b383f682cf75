//! The server's Prometheus metrics (`GET /metrics`, OpenMetrics text as `prometheus-client`
//! encodes it): requests by service, operation, outcome and error code; latency histograms;
//! per-key usage with bounded cardinality; worker runs; audit append latency and queue depth;
//! and an estimate of what the same usage would cost on AWS KMS.
//!
//! This module counts; it must never label a metric with anything a caller controls without a
//! bound (operation names are checked against the service's model before they become labels,
//! and at most [`MAX_KEY_LABELS`] keys get a label of their own), and never with a secret.
//!
//! Cost estimate, at AWS KMS's published prices (us-east-1, as of 2025):
//! - **$1.00 per customer managed key per month** ([`KEY_MONTH_USD`]); keystead counts every key
//!   it holds, including keys pending deletion (AWS does not charge those);
//! - **$0.03 per 10,000 requests** ([`USD_PER_10K_REQUESTS`]), the symmetric-key request price;
//!   every KMS API request is counted, failed ones included (AWS's free tier of 20,000
//!   requests a month and its free operations, such as `CreateKey`, are not subtracted).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What AWS KMS charges per customer managed key per month, in US dollars.
pub const KEY_MONTH_USD: f64 = 1.0;
/// What AWS KMS charges per 10,000 symmetric-key requests, in US dollars.
pub const USD_PER_10K_REQUESTS: f64 = 0.03;
/// How many distinct keys get their own `key` label; the rest are counted as `other`.
pub const MAX_KEY_LABELS: usize = 100;

/// `keystead_requests_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: &'static str,
    operation: String,
    outcome: &'static str,
    error_code: String,
}

/// Labels of per-operation latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    service: &'static str,
    operation: String,
}

/// `keystead_key_requests_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: String,
    operation: String,
}

/// Worker labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: &'static str,
    outcome: &'static str,
}

/// Worker item labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerItemLabels {
    worker: &'static str,
}

/// A request's outcome, as labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx.
    Success,
    /// 4xx: the caller's error, including denials and failed authentication.
    ClientError,
    /// 5xx: keystead's error.
    ServerError,
}

impl Outcome {
    /// The outcome of a response with `status`.
    pub(crate) fn of_status(status: u16) -> Self {
        match status {
            200..=399 => Outcome::Success,
            400..=499 => Outcome::ClientError,
            _ => Outcome::ServerError,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// Every metric the server exports.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    key_requests: Family<KeyLabels, Counter>,
    /// The keys that have a label of their own.
    labelled_keys: Mutex<Vec<String>>,
    worker_runs: Family<WorkerLabels, Counter>,
    worker_items: Family<WorkerItemLabels, Counter>,
    audit_append: Histogram,
    audit_queue: Gauge,
    audit_in_flight: AtomicI64,
    audit_records: Gauge,
    audit_batches: Gauge,
    audit_syncs: Gauge,
    audit_enabled: Gauge,
    keys: Gauge,
    kms_requests: AtomicU64,
    cost_requests: Gauge<f64, AtomicU64>,
    cost_keys: Gauge<f64, AtomicU64>,
}

impl Metrics {
    /// Registers every metric.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "keystead_requests",
            "API requests by service, operation, outcome and AWS error code",
            requests.clone(),
        );
        let latency: Family<OperationLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "keystead_request_duration_seconds",
            "API request latency from arrival to response, audit write included",
            latency.clone(),
        );
        let key_requests = Family::<KeyLabels, Counter>::default();
        registry.register(
            "keystead_key_requests",
            "KMS requests naming a key, by key (the first 100 keys seen; the rest as other)",
            key_requests.clone(),
        );
        let worker_runs = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "keystead_worker_runs",
            "Passes of the background workers (rotation, deletion) by outcome",
            worker_runs.clone(),
        );
        let worker_items = Family::<WorkerItemLabels, Counter>::default();
        registry.register(
            "keystead_worker_keys",
            "Keys the background workers rotated or deleted",
            worker_items.clone(),
        );
        let audit_append = latency_histogram();
        registry.register(
            "keystead_audit_append_duration_seconds",
            "Time to make one audit record durable (queue, group commit, fdatasync)",
            audit_append.clone(),
        );
        let audit_queue = Gauge::default();
        registry.register(
            "keystead_audit_queue_depth",
            "Audit records waiting to be made durable",
            audit_queue.clone(),
        );
        let audit_records = Gauge::default();
        registry.register(
            "keystead_audit_records_written",
            "Audit records written since start",
            audit_records.clone(),
        );
        let audit_batches = Gauge::default();
        registry.register(
            "keystead_audit_batches_written",
            "Audit group commits (one write and one fdatasync each) since start",
            audit_batches.clone(),
        );
        let audit_syncs = Gauge::default();
        registry.register(
            "keystead_audit_syncs",
            "fsync/fdatasync calls of the audit trail since start",
            audit_syncs.clone(),
        );
        let audit_enabled = Gauge::default();
        registry.register(
            "keystead_audit_enabled",
            "1 when every request is recorded in the audit trail, 0 when auditing is off",
            audit_enabled.clone(),
        );
        let keys = Gauge::default();
        registry.register(
            "keystead_keys",
            "KMS keys held, in every state",
            keys.clone(),
        );
        let cost_requests = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "keystead_estimated_request_cost_usd",
            "What the KMS requests served since start would cost on AWS KMS ($0.03 per 10,000)",
            cost_requests.clone(),
        );
        let cost_keys = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "keystead_estimated_key_cost_usd_per_month",
            "What the keys held would cost per month on AWS KMS ($1 per key-month)",
            cost_keys.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            key_requests,
            labelled_keys: Mutex::new(Vec::new()),
            worker_runs,
            worker_items,
            audit_append,
            audit_queue,
            audit_in_flight: AtomicI64::new(0),
            audit_records,
            audit_batches,
            audit_syncs,
            audit_enabled,
            keys,
            kms_requests: AtomicU64::new(0),
            cost_requests,
            cost_keys,
        }
    }

    /// Counts one API request. `operation` must be a model operation name (or `unknown`);
    /// `error_code` an AWS error code or empty.
    pub(crate) fn request(
        &self,
        service: &'static str,
        operation: &str,
        status: u16,
        error_code: &str,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                service,
                operation: operation.to_owned(),
                outcome: Outcome::of_status(status).label(),
                error_code: error_code.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabels {
                service,
                operation: operation.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        if service == "kms" {
            self.kms_requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a KMS request naming `key` (a key id or ARN as the caller wrote it).
    pub(crate) fn key_request(&self, key: &str, operation: &str) {
        let key = key.rsplit_once(":key/").map_or(key, |(_, id)| id);
        let label = {
            let mut labelled = self.labelled_keys.lock().unwrap_or_else(|p| p.into_inner());
            if labelled.iter().any(|k| k == key) {
                key.to_owned()
            } else if labelled.len() < MAX_KEY_LABELS && looks_like_key_id(key) {
                labelled.push(key.to_owned());
                key.to_owned()
            } else {
                "other".to_owned()
            }
        };
        self.key_requests
            .get_or_create(&KeyLabels {
                key: label,
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// Counts one worker pass and the keys it handled.
    pub(crate) fn worker_run(&self, worker: &'static str, result: Result<usize, ()>) {
        let outcome = if result.is_ok() { "success" } else { "error" };
        self.worker_runs
            .get_or_create(&WorkerLabels { worker, outcome })
            .inc();
        if let Ok(n) = result {
            self.worker_items
                .get_or_create(&WorkerItemLabels { worker })
                .inc_by(n as u64);
        }
    }

    /// Marks an audit append as started; [`Metrics::audit_append_done`] ends it.
    pub(crate) fn audit_append_started(&self) {
        let depth = self.audit_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.audit_queue.set(depth);
    }

    /// Marks an audit append as finished after `elapsed`.
    pub(crate) fn audit_append_done(&self, elapsed: Duration) {
        let depth = self.audit_in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        self.audit_queue.set(depth);
        self.audit_append.observe(elapsed.as_secs_f64());
    }

    /// The exposition, with the gauges computed at scrape time brought up to date.
    pub(crate) fn encode(
        &self,
        key_count: usize,
        audit: Option<keystead_audit::LogStats>,
    ) -> String {
        let key_count = i64::try_from(key_count).unwrap_or(i64::MAX);
        self.keys.set(key_count);
        self.cost_keys.set(key_count as f64 * KEY_MONTH_USD);
        let requests = self.kms_requests.load(Ordering::Relaxed);
        self.cost_requests
            .set(requests as f64 / 10_000.0 * USD_PER_10K_REQUESTS);
        self.audit_enabled.set(i64::from(audit.is_some()));
        if let Some(stats) = audit {
            let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.audit_records.set(as_i64(stats.records));
            self.audit_batches.set(as_i64(stats.batches));
            self.audit_syncs.set(as_i64(stats.syncs));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Whether `key` is shaped like a KMS key id (a UUID, or `mrk-` and 32 hex digits), so that
/// arbitrary caller text never becomes one of the bounded labels.
pub(crate) fn looks_like_key_id(key: &str) -> bool {
    let body = key.strip_prefix("mrk-").unwrap_or(key);
    (body.len() == 36 || body.len() == 32)
        && body.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_beyond_the_bound_are_counted_as_other() {
        let metrics = Metrics::new();
        for i in 0..(MAX_KEY_LABELS + 5) {
            metrics.key_request(&format!("{i:08x}-0000-0000-0000-000000000000"), "Encrypt");
        }
        metrics.key_request("alias/not-a-label", "Encrypt");
        let text = metrics.encode(3, None);
        let labelled = text
            .lines()
            .filter(|l| l.starts_with("keystead_key_requests_total{"))
            .count();
        assert_eq!(labelled, MAX_KEY_LABELS + 1, "{text}");
        assert!(text.contains("key=\"other\""));
        assert!(!text.contains("not-a-label"));
    }

    #[test]
    fn cost_follows_the_published_rates() {
        let metrics = Metrics::new();
        for _ in 0..20_000 {
            metrics.request("kms", "Encrypt", 200, "", Duration::from_micros(50));
        }
        let text = metrics.encode(7, None);
        assert!(
            text.contains("keystead_estimated_request_cost_usd 0.06"),
            "{text}"
        );
        assert!(text.contains("keystead_estimated_key_cost_usd_per_month 7.0"));
        assert!(text.contains(
            "keystead_requests_total{service=\"kms\",operation=\"Encrypt\",outcome=\"success\",error_code=\"\"} 20000"
        ));
    }
}
