//! The load: one task per connection, each sending the prepared request, checking the response
//! and sending the next, until the run ends; and the [`Tally`] each task keeps.
//!
//! What is counted: a successful response counts (in requests and latency) when it completes
//! inside the measured window, after the warm-up; the last request of each task, still in
//! flight when the window closes, does not. Every failure counts as an error, whenever it
//! happens, warm-up included: a failure is a failure. Nothing here prints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};

use super::client::{Client, Connection};
use super::workload::Workload;

/// How long one request (or one reconnection) may take before it counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause after a failed reconnection, so a down server is not hammered with SYNs.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);
/// The largest latency the histogram distinguishes, in microseconds (larger ones are clamped).
const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// When the measured window opens and closes.
#[derive(Clone, Copy)]
pub(crate) struct Plan {
    measure_from: Instant,
    until: Instant,
}

impl Plan {
    /// A run that starts now, warms up for `warmup`, then measures for `duration`.
    pub(crate) fn starting_now(warmup: Duration, duration: Duration) -> Self {
        let measure_from = Instant::now() + warmup;
        Plan {
            measure_from,
            until: measure_from + duration,
        }
    }
}

/// What the tasks counted.
pub(crate) struct Tally {
    /// Latencies of the measured successful requests, in microseconds.
    pub(crate) latency_micros: Histogram<u64>,
    /// Successful requests completed inside the measured window.
    pub(crate) measured: u64,
    /// Successful requests completed during the warm-up (or after the window).
    pub(crate) unmeasured: u64,
    /// Failures by kind, over the whole run.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Connections opened again after the server closed one or an exchange failed.
    pub(crate) reconnects: u64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            latency_micros: Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
                .expect("invariant: constant bounds 1 <= 60e6 with 3 significant figures"),
            measured: 0,
            unmeasured: 0,
            errors: BTreeMap::new(),
            reconnects: 0,
        }
    }

    /// All errors, of every kind.
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn success(&mut self, started: Instant, finished: Instant, plan: &Plan) {
        if finished >= plan.measure_from && finished <= plan.until {
            let micros =
                u64::try_from(finished.duration_since(started).as_micros()).unwrap_or(u64::MAX);
            self.latency_micros.saturating_record(micros.max(1));
            self.measured += 1;
        } else {
            self.unmeasured += 1;
        }
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    fn merge(&mut self, other: Tally) -> anyhow::Result<()> {
        self.latency_micros
            .add(&other.latency_micros)
            .context("merging latency histograms")?;
        self.measured += other.measured;
        self.unmeasured += other.unmeasured;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_insert(0) += n;
        }
        self.reconnects += other.reconnects;
        Ok(())
    }
}

/// Runs one task per connection until `plan` ends and adds up what they counted.
pub(crate) async fn run(
    client: Arc<Client>,
    workload: Arc<Workload>,
    connections: Vec<Connection>,
    plan: Plan,
) -> anyhow::Result<Tally> {
    let mut tasks = JoinSet::new();
    for connection in connections {
        tasks.spawn(worker(client.clone(), workload.clone(), connection, plan));
    }
    let mut total = Tally::new();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined.context("a load task failed")?)?;
    }
    Ok(total)
}

/// Sends, checks, repeats: one request in flight on one connection, reconnecting when the
/// connection is lost.
async fn worker(
    client: Arc<Client>,
    workload: Arc<Workload>,
    connection: Connection,
    plan: Plan,
) -> Tally {
    let mut tally = Tally::new();
    let mut connection = Some(connection);
    while Instant::now() < plan.until {
        if let Some(open) = &mut connection
            && !open.ready().await
        {
            connection = None;
        }
        let open = match &mut connection {
            Some(open) => open,
            None => match timeout(REQUEST_TIMEOUT, client.connect()).await {
                Ok(Ok(open)) => {
                    tally.reconnects += 1;
                    connection.insert(open)
                }
                Ok(Err(e)) => {
                    tally.error(format!("connect: {e}"));
                    sleep(RECONNECT_PAUSE).await;
                    continue;
                }
                Err(_) => {
                    tally.error("connect: timed out".to_owned());
                    continue;
                }
            },
        };
        let started = Instant::now();
        let outcome = timeout(REQUEST_TIMEOUT, client.send(open, workload.call())).await;
        let finished = Instant::now();
        match outcome {
            Ok(Ok(response)) => match workload.check(&response) {
                Ok(()) => tally.success(started, finished, &plan),
                Err(invalid) => tally.error(invalid.to_string()),
            },
            Ok(Err(e)) => {
                tally.error(e.to_string());
                connection = None;
            }
            Err(_) => {
                tally.error(format!("timed out after {}s", REQUEST_TIMEOUT.as_secs()));
                connection = None;
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successes_completed_inside_the_window_are_measured() {
        let plan = Plan::starting_now(Duration::from_secs(10), Duration::from_secs(10));
        let mut tally = Tally::new();
        let start = plan.measure_from - Duration::from_secs(1);
        tally.success(start, start + Duration::from_millis(500), &plan);
        tally.success(start, start + Duration::from_millis(1500), &plan);
        tally.success(plan.until, plan.until + Duration::from_millis(1), &plan);
        assert_eq!((tally.measured, tally.unmeasured), (1, 2));
        let max = tally.latency_micros.max();
        assert!((1_490_000..=1_510_000).contains(&max), "{max}");
    }

    #[test]
    fn merging_adds_counts_and_errors_by_kind() {
        let plan = Plan::starting_now(Duration::ZERO, Duration::from_secs(10));
        let mut a = Tally::new();
        let mut b = Tally::new();
        let now = Instant::now();
        a.success(now, now + Duration::from_millis(2), &plan);
        b.success(now, now + Duration::from_millis(4), &plan);
        a.error("HTTP 400 X".to_owned());
        b.error("HTTP 400 X".to_owned());
        b.error("timed out".to_owned());
        a.merge(b).expect("same bounds");
        assert_eq!(a.measured, 2);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors.get("HTTP 400 X"), Some(&2));
        assert!(a.latency_micros.max() >= 4000);
    }
}
