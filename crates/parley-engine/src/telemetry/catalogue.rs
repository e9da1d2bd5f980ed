//! Every metric Parley exports, with its help text: the one list the Grafana board and
//! the README are checked against. Names follow Prometheus' conventions: base units in the
//! name (`_seconds`, `_bytes`), `_total` on counters, and no label whose values are
//! unbounded (no phone numbers, call ids or URLs; route templates, not paths).
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub(super) struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

const fn counter(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Counter,
        help,
    }
}

const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Gauge,
        help,
    }
}

const fn histogram(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Histogram,
        help,
    }
}

pub(super) const METRICS: &[Metric] = &[
    gauge("parley_build_info", "Always 1; the version label says which Parley runs."),
    counter(
        "parley_http_requests_total",
        "HTTP requests answered, by method, route template and status code.",
    ),
    histogram(
        "parley_http_request_duration_seconds",
        "Time to answer an HTTP request (to the 101 for WebSocket upgrades), by method and route template.",
    ),
    counter(
        "parley_calls_placed_total",
        "Calls placed with Twilio by this node, by kind (campaign, test: a campaign's test call, or single).",
    ),
    counter(
        "parley_calls_ended_total",
        "Calls that reached a final Twilio status, by status.",
    ),
    counter(
        "parley_call_outcomes_total",
        "Calls settled with an outcome (once per call), by outcome.",
    ),
    gauge(
        "parley_calls_in_progress",
        "Calls in progress in the whole account, by campaign id (\"none\" for calls placed on their own).",
    ),
    gauge(
        "parley_capacity_in_use_calls",
        "Calls in progress in the whole account, against dialer.max_concurrent_calls.",
    ),
    gauge(
        "parley_capacity_limit_calls",
        "The account-wide concurrent-call limit (dialer.max_concurrent_calls).",
    ),
    counter(
        "parley_dialer_claims_total",
        "Due contacts this node's dialer claimed to dial.",
    ),
    histogram(
        "parley_dialer_claim_duration_seconds",
        "Time one claim transaction took.",
    ),
    counter(
        "parley_dialer_pacing_deferred_total",
        "Dials a tick wanted but the calls-per-second buckets had no token for (they wait for a later tick).",
    ),
    gauge("parley_bridges_live", "Calls bridged on this node now."),
    counter(
        "parley_bridge_frames_total",
        "Audio frames relayed by the bridge, by direction (to_agent, to_caller), counted as each call ends.",
    ),
    counter(
        "parley_bridge_frames_dropped_total",
        "Caller audio frames dropped, by reason.",
    ),
    counter(
        "parley_bridge_streams_unbridged_total",
        "Media streams that ended before they were bridged, by reason (unauthenticated, no_start, too_big, socket_error, internal; stopped_before_start and closed_before_start when the call ended first).",
    ),
    counter(
        "parley_bridge_handshake_signature_mismatches_total",
        "Media stream handshakes whose Twilio signature did not match the URL Parley expects, taken as unsigned (the agent starts on `start`). Above zero: public_url is not the URL Twilio calls.",
    ),
    histogram(
        "parley_bridge_agent_setup_seconds",
        "From the media stream's start to the agent's session being ready on this call.",
    ),
    histogram(
        "parley_agent_first_audio_seconds",
        "From the callee's answer to the agent's first audio sent to Twilio.",
    ),
    histogram(
        "parley_bridge_added_latency_seconds",
        "Each call's 99th-percentile time a frame spends inside Parley between the sockets, observed once at the call's end.",
    ),
    counter(
        "parley_webhook_deliveries_total",
        "Webhook delivery attempts, by result (delivered, retrying, dead).",
    ),
    histogram(
        "parley_webhook_delivery_duration_seconds",
        "Time one webhook delivery attempt took.",
    ),
    gauge(
        "parley_webhook_deliveries_queued",
        "Webhook deliveries waiting, by state (pending, retrying), for the whole account.",
    ),
    gauge(
        "parley_sheet_writes_queued",
        "Google Sheets write-back rows waiting, by state (pending, retrying), for the whole account.",
    ),
    gauge(
        "parley_db_pool_connections",
        "Database connections open in each pool, by pool and state (idle, in_use).",
    ),
    histogram(
        "parley_db_acquire_duration_seconds",
        "Time a transaction or a reader waited for a database connection, by purpose (write, read).",
    ),
];

/// Process figures (CPU seconds, resident memory, threads, open files), by the
/// `metrics-process` collector under Prometheus' standard `process_` names.
pub(super) const PROCESS_METRICS: &[&str] = &[
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_threads",
    "process_open_fds",
];

pub(super) fn describe_all() {
    for m in METRICS {
        match m.kind {
            Kind::Counter => describe_counter!(m.name, Unit::Count, m.help),
            Kind::Gauge => describe_gauge!(m.name, m.help),
            Kind::Histogram => describe_histogram!(m.name, Unit::Seconds, m.help),
        }
    }
}
