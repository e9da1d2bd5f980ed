//! The `dialer` scenario: one campaign of N contacts dialled by Parley's dialer against
//! the Twilio simulator, where every callee is busy at once (the busy persona at a high
//! simulator speed), so what is measured is the dialer's dispatch, not call length.
//!
//! The contacts are seeded with one bulk `INSERT … SELECT` (a million take seconds, and
//! the process's memory stays the server's). The campaign runs at the highest calls per
//! second a campaign may have; the run ends when every contact has been dialled or after
//! `seconds`, whichever is first, so a million-contact campaign is measured over a window.
//! Claim latency is the duration of each of the dialer's claim transactions, as the
//! dialer itself reports them.
use crate::proc_stats::{self, Pid};
use crate::report::{figure, Row};
use crate::server::{BenchServer, Launch};
use crate::{BenchError, Db};
use parley_domain::campaign::MAX_CALLS_PER_SECOND;
use parley_engine::background::Background;
use parley_engine::dialer::Dialer;
use parley_sim::personas::persona_for;
use parley_sim::twilio::{TwilioSim, TwilioSimConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Connection, Executor};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SCENARIO: &str = "dialer";
pub const DEFAULT_CONTACTS: u64 = 2_000;
pub const MAX_CONTACTS: u64 = 5_000_000;
/// The longest dispatch window; a default-sized run ends well before it.
pub const DEFAULT_SECONDS: f64 = 60.0;
/// A number the simulator's busy persona answers (every call reaches it here).
const BUSY_NUMBER: &str = "+15550100004";
/// Scripted simulator durations (a second of ringing before busy) become a millisecond.
const SIM_SPEED: f64 = 1000.0;
const PROGRESS_POLL: Duration = Duration::from_millis(100);
/// How long the dialer may take to end its tick once the window is over.
const DIALER_STOP_GRACE: Duration = Duration::from_secs(10);
const SIM_ACCOUNT_SID: &str = "AC0000000000000000000000000000be00";
const SIM_AUTH_TOKEN: &str = "bench-auth-token";

#[derive(Debug, Clone)]
pub struct DialerOptions {
    /// Starts the node under test.
    pub launch: Launch,
    pub contacts: u64,
    /// The longest the dispatch is measured.
    pub seconds: f64,
    pub db: Db,
    /// Admin URL of the PostgreSQL server on which a fresh database is made.
    pub postgres_url: String,
}

/// One backend's run: what `--json` prints in `results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DialerResult {
    pub db: Db,
    pub contacts: u64,
    /// Time to seed the contacts (not part of the dispatch).
    pub seed_seconds: f64,
    /// From the campaign's start to the last dispatch counted.
    pub seconds: f64,
    /// Calls placed (each a claimed contact handed to the simulated Twilio).
    pub dispatched: u64,
    pub calls_per_sec: f64,
    /// The campaign's calls-per-second limit, the ceiling of `calls_per_sec`.
    pub cps_limit: f64,
    /// Claim transactions timed.
    pub claims: u64,
    pub claim_ms: ClaimMs,
    /// Peak resident memory of the process: server, dialer and the simulated Twilio.
    pub peak_rss_mb: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClaimMs {
    pub p50: f64,
    pub p99: f64,
}

impl Row for DialerResult {
    fn headings() -> &'static [&'static str] {
        &[
            "db",
            "contacts",
            "seed s",
            "seconds",
            "dispatched",
            "calls/s",
            "claims",
            "claim p50 ms",
            "claim p99 ms",
            "peak RSS MB",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.db.to_string(),
            self.contacts.to_string(),
            figure(self.seed_seconds),
            figure(self.seconds),
            self.dispatched.to_string(),
            figure(self.calls_per_sec),
            self.claims.to_string(),
            figure(self.claim_ms.p50),
            figure(self.claim_ms.p99),
            figure(self.peak_rss_mb),
        ]
    }
}

/// Runs the scenario once on `options.db`, in this process.
pub async fn run(options: &DialerOptions) -> Result<DialerResult, BenchError> {
    let twilio = TwilioSim::spawn(
        TwilioSimConfig {
            account_sid: SIM_ACCOUNT_SID.to_owned(),
            auth_token: SIM_AUTH_TOKEN.to_owned(),
            speed: SIM_SPEED,
            // Never the limit: the campaign's is.
            calls_per_second: 100_000.0,
            callee: Some(persona_for(BUSY_NUMBER)),
            ..TwilioSimConfig::default()
        },
        "127.0.0.1:0".parse().expect("a valid address"),
    )
    .await?;
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let twilio_url = url::Url::parse(&twilio.base_url)
        .map_err(|e| BenchError::Wrong(format!("the simulator's URL: {e}")))?;
    let server = BenchServer::start_with(options.launch, options.db, &options.postgres_url, |s| {
        // Status callbacks from the simulator are signed for this address.
        s.listen = listen;
        s.twilio.account_sid = Some(SIM_ACCOUNT_SID.to_owned());
        s.twilio.auth_token = Some(SIM_AUTH_TOKEN.to_owned().into());
        s.twilio.api_base_url = twilio_url;
        // Busy callees never reach an agent; ElevenLabs is configured only so that the
        // server is not in sandbox mode.
        s.elevenlabs.api_key = Some("bench-api-key".to_owned().into());
        s.elevenlabs.agent_id = Some("agent_bench".to_owned());
        s.dialer.enabled = false;
        s.dialer.account_calls_per_second = MAX_CALLS_PER_SECOND;
        // The campaign's claims are measured, not the account's limit.
        s.dialer.max_concurrent_calls = 10_000;
    })
    .await?;
    let measured = dispatch(&server, options).await;
    let stopped = server.stop().await;
    twilio.stop().await;
    let mut result = measured?;
    stopped?;
    result.peak_rss_mb = proc_stats::mib(proc_stats::memory(Pid::This)?.peak_rss);
    Ok(result)
}

async fn dispatch(
    server: &BenchServer,
    options: &DialerOptions,
) -> Result<DialerResult, BenchError> {
    let client = reqwest::Client::new();
    let campaign_id = create_campaign(server, &client).await?;
    let seeding = Instant::now();
    seed(
        &server.database_url,
        options.db,
        campaign_id,
        options.contacts,
    )
    .await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    post(
        server,
        &client,
        &format!("/api/v1/campaigns/{campaign_id}/start"),
        json!({}),
    )
    .await?;

    let claim_times = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let recorder = claim_times.clone();
    let started = Instant::now();
    let dialer = Dialer::new(server.engine().clone()).observe_claims(Arc::new(move |took| {
        recorder.lock().expect("claim times").push(took);
    }));
    let mut background = Background::new();
    background.spawn("dialer", |stopping| dialer.run(stopping));
    let window = Duration::from_secs_f64(options.seconds);
    let (mut dispatched, mut last_change) = (0u64, started);
    while dispatched < options.contacts && started.elapsed() < window {
        tokio::time::sleep(PROGRESS_POLL).await;
        let campaign = server.store.get_campaign(campaign_id).await?;
        let now = campaign.progress.attempts.max(0) as u64;
        if now != dispatched {
            (dispatched, last_change) = (now, Instant::now());
        }
    }
    // Its tick ends first, so no claim is cut short.
    background.stop(DIALER_STOP_GRACE).await;
    let seconds = (last_change - started).as_secs_f64();
    if dispatched == 0 {
        return Err(BenchError::Wrong("the dialer placed no call".into()));
    }
    let mut claims = std::mem::take(&mut *claim_times.lock().expect("claim times"));
    claims.sort_unstable();
    Ok(DialerResult {
        db: options.db,
        contacts: options.contacts,
        seed_seconds,
        seconds,
        dispatched,
        calls_per_sec: dispatched as f64 / seconds,
        cps_limit: MAX_CALLS_PER_SECOND,
        claims: claims.len() as u64,
        claim_ms: ClaimMs {
            p50: crate::bridge::percentile_ms(&claims, 0.50),
            p99: crate::bridge::percentile_ms(&claims, 0.99),
        },
        peak_rss_mb: 0.0,
    })
}

/// A campaign that may call at any hour at the highest rate, with one attempt per
/// contact (a busy callee is not retried).
async fn create_campaign(
    server: &BenchServer,
    client: &reqwest::Client,
) -> Result<i64, BenchError> {
    let once = json!({"max_attempts": 1, "delay_minutes": 0});
    let settings = json!({
        "caller_ids": ["+15005550006"],
        "max_concurrent_calls": parley_domain::campaign::MAX_CONCURRENT_CALLS,
        "calls_per_second": MAX_CALLS_PER_SECOND,
        "calling_window": {"start": "00:00", "end": "23:59",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "allow_outside_legal_hours": true,
        "retry": {"no_answer": once, "busy": once, "failed": once, "voicemail": once,
                  "short_call": once, "short_call_seconds": 1, "unsuccessful": once,
                  "max_attempts_per_day": 5}
    });
    let campaign = post(
        server,
        client,
        "/api/v1/campaigns",
        json!({"name": "bench dialer", "settings": settings}),
    )
    .await?;
    campaign["id"]
        .as_i64()
        .ok_or_else(|| BenchError::Wrong(format!("a campaign without an id: {campaign}")))
}

async fn post(
    server: &BenchServer,
    client: &reqwest::Client,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, BenchError> {
    let response = client
        .post(server.url(path))
        .bearer_auth(&server.api_key)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        return Err(BenchError::Status {
            status: status.as_u16(),
            body: text,
        });
    }
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// Adds `contacts` contacts (distinct +1 415 numbers, each with written consent) to the
/// campaign, pending, in five statements on a connection of its own.
async fn seed(url: &str, db: Db, campaign_id: i64, contacts: u64) -> Result<(), BenchError> {
    let now = parley_domain::time::now_millis();
    let n = contacts as i64;
    let series = match db {
        Db::Sqlite => {
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $1) \
                       SELECT i FROM s"
        }
        Db::Postgres => "SELECT i FROM generate_series(0, $1 - 1) AS i",
    };
    let contacts_sql = format!(
        "INSERT INTO contacts (phone, first_name, search_text, created_at, updated_at) \
         SELECT '+1415' || (2000000 + i), 'Contact' || i, 'contact' || i, $2, $2 FROM ({series}) AS n"
    );
    // Each with written consent, as the campaign requires by default: the claim runs its
    // consent guard on every contact, as it would in production.
    let consent_sql = "INSERT INTO consent_records (contact_id, kind, consent_type, source_kind, \
                       source_detail, captured_at, recorded_at, recorded_by) \
                       SELECT id, 'grant', 'express_written', 'import', 'bench', $1, $1, 'bench' \
                       FROM contacts";
    let current_sql = "UPDATE contacts SET consent_type = 'express_written', consent_id = \
                       (SELECT r.id FROM consent_records r WHERE r.contact_id = contacts.id)";
    let members_sql = "INSERT INTO campaign_contacts (campaign_id, contact_id, state, priority, created_at, updated_at) \
                       SELECT $1, id, 'pending', 2, $2, $2 FROM contacts";
    let counts_sql =
        "UPDATE campaigns SET total = total + $2, pending = pending + $2 WHERE id = $1";
    macro_rules! run_on {
        ($conn:expr) => {{
            let mut conn = $conn;
            let mut tx = conn.begin().await.map_err(seed_error)?;
            tx.execute(sqlx::query(&contacts_sql).bind(n).bind(now))
                .await
                .map_err(seed_error)?;
            tx.execute(sqlx::query(consent_sql).bind(now))
                .await
                .map_err(seed_error)?;
            tx.execute(sqlx::query(current_sql))
                .await
                .map_err(seed_error)?;
            tx.execute(sqlx::query(members_sql).bind(campaign_id).bind(now))
                .await
                .map_err(seed_error)?;
            tx.execute(sqlx::query(counts_sql).bind(campaign_id).bind(n))
                .await
                .map_err(seed_error)?;
            tx.commit().await.map_err(seed_error)?;
            // A bulk load leaves PostgreSQL's planner without statistics until autovacuum
            // reaches the table (about a minute); meanwhile each claim at 1M contacts took
            // ~480 ms instead of ~2 ms. Analyze now, as autovacuum soon would.
            if matches!(db, Db::Postgres) {
                (&mut conn).execute("ANALYZE").await.map_err(seed_error)?;
            }
            let _ = conn.close().await;
        }};
    }
    match db {
        Db::Sqlite => run_on!(sqlx::SqliteConnection::connect(url)
            .await
            .map_err(seed_error)?),
        Db::Postgres => run_on!(sqlx::PgConnection::connect(url).await.map_err(seed_error)?),
    }
    Ok(())
}

fn seed_error(e: sqlx::Error) -> BenchError {
    BenchError::Wrong(format!("seeding the contacts failed: {e}"))
}
