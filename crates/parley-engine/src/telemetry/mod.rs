//! Prometheus metrics. One recorder per process, installed on first use: counters and
//! histograms are recorded where things happen (after their transaction commits, for
//! what a transaction decides), and the gauges that describe the database's state are
//! read once per scrape, so a node that nobody scrapes does no work for them.
mod catalogue;

use crate::Engine;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Bucket bounds for every `_seconds` histogram: from a fast frame to a slow webhook.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0,
];
/// Histogram samples wait in the recorder until a scrape or an upkeep folds them into
/// buckets; upkeep keeps their memory bounded when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

struct Telemetry {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    /// Campaigns whose in-progress gauge was set at the last scrape: one that has no
    /// call any more is set to 0 rather than left at its last value.
    campaigns_seen: Mutex<BTreeSet<i64>>,
}

static TELEMETRY: OnceLock<Option<Telemetry>> = OnceLock::new();

/// Installs the process's recorder, once; `None` if another recorder was installed
/// first (an embedding program's), in which case Parley's metrics go to it.
fn telemetry() -> Option<&'static Telemetry> {
    TELEMETRY
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: /metrics is empty");
                return None;
            }
            catalogue::describe_all();
            let process = metrics_process::Collector::default();
            process.describe();
            gauge!("parley_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            // Series that may stay at zero for long exist from the start, so that a rate
            // over them is 0 rather than absent.
            for result in ["delivered", "retrying", "dead"] {
                counter!("parley_webhook_deliveries_total", "result" => result).absolute(0);
            }
            counter!("parley_bridge_frames_dropped_total", "reason" => "agent_format_unknown")
                .absolute(0);
            counter!("parley_bridge_handshake_signature_mismatches_total").absolute(0);
            counter!("parley_bridge_streams_unbridged_total", "reason" => "unauthenticated")
                .absolute(0);
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP);
                    upkeep.run_upkeep();
                })
                .expect("a thread starts");
            Some(Telemetry {
                handle,
                process,
                campaigns_seen: Mutex::default(),
            })
        })
        .as_ref()
}

/// Installs the recorder now, so that what happens before the first scrape is counted.
pub fn install() {
    telemetry();
}

/// The metrics in Prometheus' text format, with the gauges read now.
pub async fn render(engine: &Engine) -> String {
    let Some(t) = telemetry() else {
        return String::new();
    };
    t.process.collect();
    engine.refresh_gauges(&t.campaigns_seen).await;
    t.handle.render()
}

impl Engine {
    async fn refresh_gauges(&self, campaigns_seen: &Mutex<BTreeSet<i64>>) {
        gauge!("parley_bridges_live").set(self.bridges.live() as f64);
        for pool in self.store.pool_stats() {
            let in_use = pool.open.saturating_sub(pool.idle);
            gauge!("parley_db_pool_connections", "pool" => pool.pool, "state" => "idle")
                .set(f64::from(pool.idle));
            gauge!("parley_db_pool_connections", "pool" => pool.pool, "state" => "in_use")
                .set(f64::from(in_use));
        }
        gauge!("parley_capacity_limit_calls")
            .set(f64::from(self.settings.dialer.max_concurrent_calls));
        let work = match self.store.work_in_flight().await {
            Ok(work) => work,
            Err(e) => {
                // The scrape still answers, with the gauges as they were.
                tracing::warn!(error = %e, "reading the work in flight for /metrics failed");
                return;
            }
        };
        let mut seen = campaigns_seen.lock().expect("metrics gauge lock");
        let now: BTreeSet<i64> = work.campaign_calls.iter().map(|(id, _)| *id).collect();
        for gone in seen.difference(&now) {
            gauge!("parley_calls_in_progress", "campaign_id" => gone.to_string()).set(0.0);
        }
        for (id, calls) in &work.campaign_calls {
            gauge!("parley_calls_in_progress", "campaign_id" => id.to_string()).set(*calls as f64);
        }
        *seen = now;
        gauge!("parley_calls_in_progress", "campaign_id" => "none").set(work.single_calls as f64);
        let total = work.campaign_calls.iter().map(|(_, n)| n).sum::<i64>() + work.single_calls;
        gauge!("parley_capacity_in_use_calls").set(total as f64);
        gauge!("parley_webhook_deliveries_queued", "state" => "pending")
            .set(work.deliveries_pending as f64);
        gauge!("parley_webhook_deliveries_queued", "state" => "retrying")
            .set(work.deliveries_retrying as f64);
        gauge!("parley_sheet_writes_queued", "state" => "pending")
            .set(work.sheet_writes_pending as f64);
        gauge!("parley_sheet_writes_queued", "state" => "retrying")
            .set(work.sheet_writes_retrying as f64);
    }
}

/// The names of every metric Parley documents (its own and the process ones).
pub fn documented_names() -> impl Iterator<Item = &'static str> {
    catalogue::METRICS
        .iter()
        .map(|m| m.name)
        .chain(catalogue::PROCESS_METRICS.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Grafana board in the repository, as operators import it.
    const BOARD: &str = include_str!("../../../../deploy/grafana/parley.json");

    #[test]
    fn the_grafana_board_shows_every_documented_metric_and_nothing_else() {
        let board: serde_json::Value = serde_json::from_str(BOARD).unwrap();
        let mut used = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for key in ["title", "uid", "schemaVersion", "panels", "__inputs"] {
            assert!(!board[key].is_null(), "the board lacks {key}");
        }
        for panel in board["panels"].as_array().unwrap() {
            // What Grafana needs to place and draw each panel.
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "duplicate panel id"
            );
            let kind = panel["type"].as_str().unwrap();
            assert!(["row", "timeseries"].contains(&kind), "{kind}");
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(x + w <= 24 && grid["h"].as_u64().unwrap() > 0, "{grid}");
            if kind == "timeseries" {
                assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}");
                assert!(!panel["targets"].as_array().unwrap().is_empty());
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap();
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if word.starts_with("parley_") || word.starts_with("process_") {
                        used.insert(word.strip_suffix("_bucket").unwrap_or(word).to_owned());
                    }
                }
            }
        }
        let documented: BTreeSet<String> = documented_names().map(str::to_owned).collect();
        let unknown: Vec<_> = used.difference(&documented).collect();
        assert!(
            unknown.is_empty(),
            "the board queries unknown metrics: {unknown:?}"
        );
        let unshown: Vec<_> = documented
            .difference(&used)
            .filter(|m| *m != "parley_build_info")
            .collect();
        assert!(
            unshown.is_empty(),
            "metrics the board does not show: {unshown:?}"
        );
    }

    #[test]
    fn the_readme_lists_every_metric() {
        let readme = include_str!("../../../../README.md");
        for name in documented_names() {
            assert!(
                readme.contains(&format!("`{name}")),
                "{name} is not in the README"
            );
        }
    }

    #[test]
    fn every_metric_name_follows_prometheus_conventions() {
        for m in catalogue::METRICS {
            assert!(m.name.starts_with("parley_"), "{}", m.name);
            assert!(
                m.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                m.name
            );
            match m.kind {
                catalogue::Kind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
                catalogue::Kind::Histogram => assert!(m.name.ends_with("_seconds"), "{}", m.name),
                catalogue::Kind::Gauge => assert!(!m.name.ends_with("_total"), "{}", m.name),
            }
        }
    }
}
