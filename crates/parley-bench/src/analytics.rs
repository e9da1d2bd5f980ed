//! The `analytics` scenario: a call history of N generated calls (spread over campaigns,
//! 30 days, hours of the day and outcomes) written in bulk, then the dashboard's analytics
//! queries timed R times each: the store functions the API calls, and the summary once
//! more through HTTP.
//!
//! The history is written through the same database triggers that count live calls, so
//! what is measured is what a server that made those calls would answer.
use crate::bridge::percentile_ms;
use crate::report::{figure, Row};
use crate::server::{BenchServer, Launch};
use crate::{BenchError, Db};
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::campaign::CampaignSettings;
use parley_domain::time::now_millis;
use parley_store::{NewCampaign, PastCall, StatsRange, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const SCENARIO: &str = "analytics";
pub const DEFAULT_CALLS: u64 = 20_000;
pub const MAX_CALLS: u64 = 10_000_000;
pub const DEFAULT_REPEATS: u32 = 100;
pub const CAMPAIGNS: usize = 20;
/// The history covers this many days up to now.
pub const DAYS: i64 = 30;
/// Calls written per transaction.
const BATCH: usize = 5_000;
/// Untimed runs of each query first, so caches are as warm as a dashboard's.
const WARM_UP: u32 = 3;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The API's default range.
const WEEK_MS: i64 = 7 * DAY_MS;

#[derive(Debug, Clone)]
pub struct AnalyticsOptions {
    /// Starts the node under test.
    pub launch: Launch,
    pub calls: u64,
    /// Timed runs of each query.
    pub repeats: u32,
    pub db: Db,
    /// Admin URL of the PostgreSQL server on which a fresh database is made.
    pub postgres_url: String,
    /// SQLite only: write the database into this data directory and keep it, for
    /// `parley serve --data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// One query's latency on one backend: a row of `results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    pub db: Db,
    pub query: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Row for QueryResult {
    fn headings() -> &'static [&'static str] {
        &["db", "query", "p50 ms", "p99 ms"]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.db.to_string(),
            self.query.clone(),
            figure(self.p50_ms),
            figure(self.p99_ms),
        ]
    }
}

/// What `parley bench analytics --json` prints: every backend's query latencies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalyticsReport {
    pub scenario: String,
    pub calls: u64,
    pub results: Vec<QueryResult>,
    /// Seconds to write the history, per backend (`sqlite`, `postgres`).
    pub seed_seconds: BTreeMap<String, f64>,
}

impl AnalyticsReport {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }
}

/// One backend's run.
#[derive(Debug, Clone)]
pub struct AnalyticsRun {
    pub db: Db,
    /// Wall time of writing the history (campaigns and calls).
    pub seed_seconds: f64,
    pub results: Vec<QueryResult>,
}

/// Seeds a fresh database of `options.db` and times the queries on it.
pub async fn run(options: &AnalyticsOptions) -> Result<AnalyticsRun, BenchError> {
    if let Some(dir) = &options.data_dir {
        if dir.join("parley.db").exists() {
            return Err(BenchError::Wrong(format!(
                "{} already holds a database; give an empty directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)?;
    }
    let server = BenchServer::start_in(
        options.launch,
        options.db,
        &options.postgres_url,
        options.data_dir.as_deref(),
        // Nothing to dial; a dialer would only poll the database being measured.
        |s| s.dialer.enabled = false,
    )
    .await?;
    let measured = seed_and_measure(&server, options).await;
    // Clean up (drop the PostgreSQL database) whether or not the run worked.
    let stopped = server.stop().await;
    let run = measured?;
    stopped?;
    Ok(run)
}

async fn seed_and_measure(
    server: &BenchServer,
    options: &AnalyticsOptions,
) -> Result<AnalyticsRun, BenchError> {
    let now = now_millis();
    let started = Instant::now();
    let campaigns = seed(&server.store, options.calls, now).await?;
    let seed_seconds = started.elapsed().as_secs_f64();

    let store = &server.store;
    let whole = StatsRange {
        from: now - DAYS * DAY_MS - HOUR_MS,
        to: now + 1,
        campaign_id: None,
    };
    let counted = store.call_counts(&whole).await?.dialed;
    if counted != options.calls as i64 {
        return Err(BenchError::Wrong(format!(
            "the counters hold {counted} calls; {} were written",
            options.calls
        )));
    }

    let week = StatsRange {
        from: now - WEEK_MS,
        ..whole
    };
    let one_campaign = StatsRange {
        campaign_id: Some(campaigns[0]),
        ..week
    };
    let r = options.repeats;
    let http = reqwest::Client::new();
    let summary_url = server.url("/api/v1/analytics/summary");
    let results = vec![
        time("summary", r, || async {
            tokio::try_join!(store.call_counts(&week), store.calls_in_progress(None))?;
            Ok(())
        })
        .await?,
        time("summary_campaign", r, || async {
            tokio::try_join!(
                store.call_counts(&one_campaign),
                store.calls_in_progress(one_campaign.campaign_id)
            )?;
            Ok(())
        })
        .await?,
        time("timeline", r, || async {
            store.call_counts_by_hour(&week).await?;
            Ok(())
        })
        .await?,
        time("hour_of_day_30d", r, || async {
            store.call_counts_by_hour(&whole).await?;
            Ok(())
        })
        .await?,
        time("campaigns", r, || async {
            store.campaign_call_counts(&week).await?;
            Ok(())
        })
        .await?,
        time("summary_http", r, || async {
            let response = http
                .get(&summary_url)
                .bearer_auth(&server.api_key)
                .send()
                .await?;
            let status = response.status().as_u16();
            let body = response.text().await?;
            if status != 200 {
                return Err(BenchError::Status { status, body });
            }
            Ok(())
        })
        .await?,
    ];
    Ok(AnalyticsRun {
        db: options.db,
        seed_seconds,
        results: results
            .into_iter()
            .map(|(query, p50_ms, p99_ms)| QueryResult {
                db: options.db,
                query: query.to_owned(),
                p50_ms,
                p99_ms,
            })
            .collect(),
    })
}

/// Runs `query` a few times untimed, then `repeats` times timed: (name, p50, p99).
async fn time<F, Fut>(
    name: &'static str,
    repeats: u32,
    query: F,
) -> Result<(&'static str, f64, f64), BenchError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), BenchError>>,
{
    for _ in 0..WARM_UP {
        query().await?;
    }
    let mut took: Vec<Duration> = Vec::with_capacity(repeats as usize);
    for _ in 0..repeats {
        let started = Instant::now();
        query().await?;
        took.push(started.elapsed());
    }
    took.sort();
    Ok((name, percentile_ms(&took, 0.5), percentile_ms(&took, 0.99)))
}

/// Writes the campaigns and `calls` calls; returns the campaigns' ids.
async fn seed(store: &Store, calls: u64, now: i64) -> Result<Vec<i64>, BenchError> {
    let mut campaigns = Vec::with_capacity(CAMPAIGNS);
    for i in 0..CAMPAIGNS {
        let campaign = store
            .create_campaign(
                &NewCampaign {
                    name: format!("Bench campaign {}", i + 1),
                    description: None,
                    settings: CampaignSettings::default(),
                },
                "bench",
            )
            .await?;
        campaigns.push(campaign.id);
    }
    let mut random = Random(0x5eed_cafe_f00d_d00d);
    let mut batch = Vec::with_capacity(BATCH);
    for n in 0..calls {
        batch.push(past_call(&mut random, n, &campaigns, now));
        if batch.len() == BATCH {
            store.insert_past_calls(&batch).await?;
            batch.clear();
        }
    }
    store.insert_past_calls(&batch).await?;
    Ok(campaigns)
}

/// Relative weights of the UTC hours calls are made in (working hours are busier).
const HOUR_WEIGHTS: [u64; 24] = [
    1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 10, 10, 10, 9, 8, 6, 4, 3, 2, 1, 1,
];

/// One generated call: about 30% unanswered, 8% busy, 5% failed; of the answered a
/// quarter reach machines (voicemail), the rest people, most of whom converse.
fn past_call(random: &mut Random, n: u64, campaigns: &[i64], now: i64) -> PastCall {
    let day = random.below(DAYS as u64) as i64;
    let hour = random.weighted(&HOUR_WEIGHTS) as i64;
    let today = now - now.rem_euclid(DAY_MS);
    let created_at =
        (today - day * DAY_MS + hour * HOUR_MS + random.below(HOUR_MS as u64) as i64).min(now);
    // One call in ten is a one-off call outside any campaign.
    let campaign_id = match random.below(10) {
        0 => None,
        _ => Some(campaigns[random.below(campaigns.len() as u64) as usize]),
    };
    let roll = random.below(100);
    let (status, outcome, answered_by, duration) = match roll {
        0..30 => (CallStatus::NoAnswer, CallOutcome::NoAnswer, None, None),
        30..38 => (CallStatus::Busy, CallOutcome::Busy, None, None),
        38..43 => (CallStatus::Failed, CallOutcome::Failed, None, None),
        43..57 => (
            CallStatus::Completed,
            CallOutcome::Voicemail,
            Some("machine_end_beep"),
            Some(20 + random.below(30) as i64),
        ),
        _ => {
            let outcome = match random.below(100) {
                0..35 => CallOutcome::Success,
                35..60 => CallOutcome::Unsuccessful,
                60..80 => CallOutcome::Conversation,
                80..95 => CallOutcome::ShortCall,
                _ => CallOutcome::OptedOut,
            };
            let seconds = match outcome {
                CallOutcome::ShortCall => 1 + random.below(8) as i64,
                _ => 30 + random.below(300) as i64,
            };
            (CallStatus::Completed, outcome, Some("human"), Some(seconds))
        }
    };
    let answered_at = duration.map(|_| created_at + 8_000);
    PastCall {
        campaign_id,
        contact_id: None,
        to: format!("+1555{:07}", n % 10_000_000),
        from: "+15005550006".to_owned(),
        status,
        answered_by: answered_by.map(str::to_owned),
        outcome: Some(outcome),
        duration_seconds: duration,
        created_at,
        answered_at,
        ended_at: Some(answered_at.unwrap_or(created_at) + duration.unwrap_or(25) * 1000),
        summary: None,
        analysis: None,
    }
}

/// xorshift64*: reproducible histories without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant at these sizes).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index drawn with probability proportional to its weight.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut pick = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return i;
            }
            pick -= w;
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_calls_are_consistent_and_in_range() {
        let mut random = Random(7);
        let now = 1_800_000_000_000;
        for n in 0..2_000 {
            let c = past_call(&mut random, n, &[1, 2, 3], now);
            assert!(c.created_at <= now && c.created_at > now - (DAYS + 1) * DAY_MS);
            assert_eq!(c.duration_seconds.is_some(), c.answered_at.is_some());
            assert_eq!(
                c.status == CallStatus::Completed,
                c.duration_seconds.is_some()
            );
            assert!(c.ended_at.unwrap() >= c.created_at);
        }
    }
}
