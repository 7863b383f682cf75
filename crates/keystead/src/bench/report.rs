//! The report of a run, as text for people or one JSON object for scripts. It only formats
//! what `load` counted.
//!
//! The JSON object:
//!
//! ```text
//! {
//!   "operation": "encrypt" | "decrypt" | "generate-data-key",
//!   "endpoint": "http://127.0.0.1:4599", "key_id": "...",
//!   "connections": 32, "duration_secs": 10.0, "warmup_secs": 2.0,
//!   "plaintext_bytes": 4096 | null,          // null for generate-data-key
//!   "requests": N,                           // successful, completed in the measured window
//!   "requests_per_sec": R,                   // requests / duration_secs
//!   "latency_ms": {"p50","p90","p99","max","mean"} | null,   // of those requests
//!   "errors": E,                             // failed requests, warm-up included
//!   "errors_by_kind": {"HTTP 400 InvalidSignatureException": E, ...},
//!   "unmeasured_requests": U,                // successful, outside the window
//!   "reconnects": C
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::load::Tally;
use super::workload::Operation;

/// What the run was asked to do.
pub(crate) struct Setup {
    /// The operation.
    pub(crate) operation: Operation,
    /// The endpoint, as a URL.
    pub(crate) endpoint: String,
    /// The key used.
    pub(crate) key_id: String,
    /// The number of connections.
    pub(crate) connections: u32,
    /// The measured window.
    pub(crate) duration: Duration,
    /// The warm-up before it.
    pub(crate) warmup: Duration,
    /// The plaintext size, for the operations that use one.
    pub(crate) plaintext_bytes: u16,
}

/// A run's results.
#[derive(Serialize)]
pub(crate) struct Report {
    operation: &'static str,
    endpoint: String,
    key_id: String,
    connections: u32,
    duration_secs: f64,
    warmup_secs: f64,
    plaintext_bytes: Option<u16>,
    requests: u64,
    requests_per_sec: f64,
    latency_ms: Option<Latency>,
    /// Failed requests, of every kind, over the whole run.
    pub(crate) errors: u64,
    errors_by_kind: BTreeMap<String, u64>,
    unmeasured_requests: u64,
    reconnects: u64,
}

/// Latency percentiles of the measured requests, in milliseconds.
#[derive(Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Report {
    /// Puts together what was asked and what was counted.
    pub(crate) fn new(setup: Setup, tally: Tally) -> Self {
        let histogram = &tally.latency_micros;
        let ms = |micros: u64| round3(micros as f64 / 1000.0);
        let latency = (tally.measured > 0).then(|| Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
            mean: round3(histogram.mean() / 1000.0),
        });
        let duration_secs = setup.duration.as_secs_f64();
        Report {
            operation: setup.operation.name(),
            endpoint: setup.endpoint,
            key_id: setup.key_id,
            connections: setup.connections,
            duration_secs,
            warmup_secs: setup.warmup.as_secs_f64(),
            plaintext_bytes: setup
                .operation
                .uses_plaintext()
                .then_some(setup.plaintext_bytes),
            requests: tally.measured,
            requests_per_sec: round3(tally.measured as f64 / duration_secs),
            latency_ms: latency,
            errors: tally.error_count(),
            errors_by_kind: tally.errors,
            unmeasured_requests: tally.unmeasured,
            reconnects: tally.reconnects,
        }
    }

    /// The report as one line of JSON.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as aligned lines, each ending in a newline.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        let what = match self.plaintext_bytes {
            Some(n) => format!("{} of {n}-byte plaintexts", self.operation),
            None => self.operation.to_owned(),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "keystead bench: {what} against {}", self.endpoint);
        let _ = writeln!(out, "  key:          {}", self.key_id);
        let _ = writeln!(
            out,
            "  load:         {} connections, {} s measured after {} s of warm-up",
            self.connections, self.duration_secs, self.warmup_secs
        );
        let _ = writeln!(
            out,
            "  throughput:   {:.1} requests/s ({} requests)",
            self.requests_per_sec, self.requests
        );
        match &self.latency_ms {
            Some(l) => {
                let _ = writeln!(
                    out,
                    "  latency:      p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
                    l.p50, l.p90, l.p99, l.max
                );
            }
            None => {
                let _ = writeln!(out, "  latency:      n/a (no successful request measured)");
            }
        }
        let _ = writeln!(out, "  errors:       {}", self.errors);
        for (kind, n) in &self.errors_by_kind {
            let _ = writeln!(out, "    {n:>10}  {kind}");
        }
        if self.reconnects > 0 {
            let _ = writeln!(out, "  reconnects:   {}", self.reconnects);
        }
        out
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
