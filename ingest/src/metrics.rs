//! Counters of the HTTP receivers and the ledger writer, and their
//! Prometheus text exposition (a small hand-written one: a handful of
//! counters and one histogram need no registry).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the batch size histogram (events per append).
pub const BATCH_BUCKETS: [u64; 8] = [1, 10, 50, 100, 500, 1000, 2000, 4096];

#[derive(Debug, Default)]
pub struct Metrics {
    /// Events JetStream acknowledged for the HTTP receivers (new or duplicate).
    pub http_events_published: AtomicU64,
    /// HTTP requests refused (4xx) or failed (5xx).
    pub http_requests_refused: AtomicU64,
    pub events_appended: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_rejected: AtomicU64,
    pub batches: AtomicU64,
    batch_events_sum: AtomicU64,
    batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    /// Messages in the stream the writer's consumer has not yet received.
    pub consumer_pending: AtomicU64,
    /// The last stream sequence the writer made durable.
    pub durable_sequence: AtomicU64,
    pub ledger_size: AtomicU64,
    /// HTTP connections open now.
    pub http_connections_open: AtomicU64,
    /// Connections beyond `--max-connections` served on a reserved slot
    /// (health checks; anything else is answered 503).
    pub http_connections_over_limit: AtomicU64,
    /// Connections beyond the limit and the reserve: answered 503 at once.
    pub http_connections_refused: AtomicU64,
    /// Connections closed by the idle timeout.
    pub http_connections_idle_closed: AtomicU64,
    /// Times the ledger writer failed (an error or a panic) and was restarted.
    pub writer_restarts: AtomicU64,
    /// Commit-log messages (`TLA_LEDGER`) this ledger has not applied yet:
    /// a replica's lag.
    pub commit_log_pending: AtomicU64,
    /// The last commit-log stream sequence this ledger holds.
    pub commit_log_sequence: AtomicU64,
    /// 1 while this process writes the ledger (holds the lead), 0 while it
    /// follows.
    pub writing: AtomicU64,
}

impl Metrics {
    /// Counts one durable batch of `events` messages.
    pub fn observe_batch(&self, events: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_events_sum
            .fetch_add(events as u64, Ordering::Relaxed);
        if let Some(i) = BATCH_BUCKETS.iter().position(|&b| events as u64 <= b) {
            self.batch_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Appends the text exposition of every metric to `out`.
    pub fn render(&self, out: &mut String) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        counter(
            "tla_http_events_published_total",
            "Events the HTTP receivers published and JetStream acknowledged.",
            "counter",
            get(&self.http_events_published),
        );
        counter(
            "tla_http_requests_refused_total",
            "HTTP requests answered with an error status.",
            "counter",
            get(&self.http_requests_refused),
        );
        counter(
            "tla_events_appended_total",
            "Events the ledger writer appended to the ledger.",
            "counter",
            get(&self.events_appended),
        );
        counter(
            "tla_events_duplicate_total",
            "Events the ledger writer found already stored.",
            "counter",
            get(&self.events_duplicate),
        );
        counter(
            "tla_events_rejected_total",
            "Events the ledger writer refused onto tla.rejected.<tenant>.",
            "counter",
            get(&self.events_rejected),
        );
        counter(
            "tla_consumer_pending_messages",
            "Lag: messages in the stream the ledger writer has not received yet.",
            "gauge",
            get(&self.consumer_pending),
        );
        counter(
            "tla_consumer_durable_sequence",
            "The last stream sequence the ledger writer made durable.",
            "gauge",
            get(&self.durable_sequence),
        );
        counter(
            "tla_commit_log_pending_messages",
            "Replica lag: commit-log messages (TLA_LEDGER) not applied to this ledger yet.",
            "gauge",
            get(&self.commit_log_pending),
        );
        counter(
            "tla_commit_log_sequence",
            "The last commit-log stream sequence this ledger holds.",
            "gauge",
            get(&self.commit_log_sequence),
        );
        counter(
            "tla_ledger_writing",
            "1 while this process writes the ledger, 0 while it follows as a replica or standby.",
            "gauge",
            get(&self.writing),
        );
        counter(
            "tla_ledger_entries",
            "Entries in the ledger.",
            "gauge",
            get(&self.ledger_size),
        );
        counter(
            "tla_http_connections_open",
            "HTTP connections open now.",
            "gauge",
            get(&self.http_connections_open),
        );
        counter(
            "tla_http_connections_over_limit_total",
            "Connections beyond --max-connections served on a reserved health slot.",
            "counter",
            get(&self.http_connections_over_limit),
        );
        counter(
            "tla_http_connections_refused_total",
            "Connections beyond the limit and its reserve, answered 503 at once.",
            "counter",
            get(&self.http_connections_refused),
        );
        counter(
            "tla_http_connections_idle_closed_total",
            "HTTP connections closed after --idle-timeout with no byte moving.",
            "counter",
            get(&self.http_connections_idle_closed),
        );
        counter(
            "tla_writer_restarts_total",
            "Times the ledger writer failed or panicked and was restarted.",
            "counter",
            get(&self.writer_restarts),
        );
        let name = "tla_writer_batch_events";
        let _ = writeln!(
            out,
            "# HELP {name} Messages per batch the ledger writer made durable.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (bound, count) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            cumulative += get(count);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let batches = get(&self.batches);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {batches}");
        let _ = writeln!(out, "{name}_sum {}", get(&self.batch_events_sum));
        let _ = writeln!(out, "{name}_count {batches}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.observe_batch(1);
        metrics.observe_batch(70);
        metrics.observe_batch(5000);
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains("tla_writer_batch_events_bucket{le=\"1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tla_writer_batch_events_bucket{le=\"100\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tla_writer_batch_events_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("tla_writer_batch_events_sum 5071\n"),
            "{text}"
        );
    }
}
