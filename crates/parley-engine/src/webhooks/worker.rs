//! Sends due deliveries. Every node runs one worker; they share the work through leases
//! in the database, so no two nodes send the same attempt, and a node that dies
//! mid-send leaves a lease that runs out: the delivery is sent again (at least once).
use super::signature;
use crate::background::Stopping;
use crate::egress::{self, EgressPolicy, EgressRefused, GuardedResolver, SystemLookup};
use crate::events::LiveEvent;
use crate::Engine;
use futures::StreamExt;
use parley_domain::time::now_millis;
use parley_domain::webhook::{retry_after, Retry};
use parley_store::{AttemptRecord, AttemptVerdict, ClaimedDelivery, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Deliveries claimed at once; the worker pages through the due ones in batches.
const BATCH: i64 = 50;
/// Attempts in flight at once, per node.
const CONCURRENCY: usize = 8;
/// A lease outlives the request timeout by this much, so it only runs out if the node
/// stopped.
const LEASE_GRACE: Duration = Duration::from_secs(5);
/// Longest error text kept in the delivery log.
const MAX_ERROR_CHARS: usize = 300;

pub struct WebhookWorker {
    engine: Engine,
    /// Identifies this node's leases.
    node: String,
    /// Resolves through the egress policy and follows no redirect: a receiver's redirect
    /// must not move a signed event elsewhere.
    http: reqwest::Client,
    egress: Arc<EgressPolicy>,
}

impl WebhookWorker {
    pub fn new(engine: Engine) -> WebhookWorker {
        let timeout = Duration::from_secs(engine.settings.webhooks.timeout_secs);
        let policy = Arc::new(EgressPolicy::new(&engine.settings.egress));
        let resolver = GuardedResolver::new(policy.clone(), Arc::new(SystemLookup));
        let http = egress::client_builder(resolver)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("Parley-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        WebhookWorker {
            node: engine.node.clone(),
            engine,
            http,
            egress: policy,
        }
    }

    /// Sends due deliveries until the node stops (see [`crate::background`]).
    pub async fn run(self, mut stopping: Stopping) {
        tracing::info!(node = %self.node, "webhook worker started");
        let poll = Duration::from_millis(self.engine.settings.webhooks.poll_interval_ms);
        let mut events = self.engine.events.subscribe();
        loop {
            if let Err(e) = self.send_due().await {
                tracing::warn!(error = %e, "webhook delivery pass failed");
            }
            // Changes that write events also publish live events: look again at once
            // rather than at the next poll.
            let next = crate::events::wake_or_poll(&mut events, poll, wakes);
            if !stopping.before_next(next).await {
                break;
            }
        }
    }

    /// Sends every delivery due now, a batch at a time. Returns how many were attempted.
    pub async fn send_due(&self) -> Result<usize, StoreError> {
        let lease = Duration::from_secs(self.engine.settings.webhooks.timeout_secs) + LEASE_GRACE;
        let mut attempted = 0;
        loop {
            let now = now_millis();
            let batch = self
                .engine
                .store
                .claim_due_deliveries(&self.node, now, now + lease.as_millis() as i64, BATCH)
                .await?;
            let n = batch.len();
            attempted += n;
            futures::stream::iter(batch)
                .for_each_concurrent(CONCURRENCY, |d| async move {
                    if let Err(e) = self.attempt(&d).await {
                        // The lease runs out and the delivery is tried again.
                        tracing::warn!(delivery_id = d.id, error = %e, "recording a webhook attempt failed");
                    }
                })
                .await;
            if (n as i64) < BATCH {
                return Ok(attempted);
            }
        }
    }

    async fn attempt(&self, d: &ClaimedDelivery) -> Result<(), StoreError> {
        let body = envelope(d, &self.engine.settings.public_base_url())?.to_string();
        let sent_at = chrono::Utc::now().timestamp();
        let headers = [
            ("Content-Type", "application/json".to_owned()),
            ("Parley-Event", d.event_type.clone()),
            ("Parley-Event-Id", d.event_id.clone()),
            ("Idempotency-Key", d.event_id.clone()),
            ("Parley-Delivery", d.id.to_string()),
            ("Parley-Attempt", d.attempts.to_string()),
            (
                signature::HEADER,
                signature::sign(&d.secret, sent_at, body.as_bytes()),
            ),
        ];
        let started = Instant::now();
        let (status, error) = match self.refusal(&d.url) {
            // Subscriptions made before the policy, or under an allowed host since removed.
            Some(refused) => (None, Some(refused.to_string())),
            None => {
                let mut request = self.http.post(&d.url).body(body);
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let error =
                            (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
                        (Some(i64::from(status.as_u16())), error)
                    }
                    Err(e) => (
                        None,
                        Some(describe(&e, self.engine.settings.webhooks.timeout_secs)),
                    ),
                }
            }
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        // A subscriber's error text is not ours: keep phone numbers out of logs and the
        // delivery log.
        let error = error.map(|e| parley_domain::mask_phone_numbers(&e).into_owned());
        let verdict = match &error {
            None => AttemptVerdict::Delivered,
            Some(_) => {
                let settings = &self.engine.settings.webhooks;
                match retry_after(
                    &settings.retry_schedule(),
                    d.attempts.max(0) as u32,
                    settings.jitter,
                    rand::random::<f64>(),
                ) {
                    Retry::After(wait) => {
                        AttemptVerdict::RetryAt(now_millis() + wait.as_millis() as i64)
                    }
                    Retry::GiveUp => AttemptVerdict::Dead,
                }
            }
        };
        let result = match verdict {
            AttemptVerdict::Delivered => "delivered",
            AttemptVerdict::RetryAt(_) => "retrying",
            AttemptVerdict::Dead => "dead",
        };
        metrics::counter!("parley_webhook_deliveries_total", "result" => result).increment(1);
        metrics::histogram!("parley_webhook_delivery_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        match (&verdict, status) {
            (AttemptVerdict::Delivered, _) => {
                tracing::info!(delivery_id = d.id, event_type = %d.event_type, attempt = d.attempts, duration_ms, "webhook delivered")
            }
            (AttemptVerdict::Dead, _) => {
                tracing::warn!(delivery_id = d.id, event_type = %d.event_type, attempt = d.attempts, status, error = ?error, "webhook delivery dead: every attempt failed")
            }
            _ => {
                tracing::info!(delivery_id = d.id, event_type = %d.event_type, attempt = d.attempts, status, error = ?error, "webhook attempt failed; will retry")
            }
        }
        let record = AttemptRecord {
            url: d.url.clone(),
            request_headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            response_status: status,
            duration_ms,
            error,
        };
        self.engine
            .store
            .finish_delivery_attempt(d, &self.node, &record, verdict)
            .await?;
        // The deliveries page (and a test) sees the attempt at once.
        self.engine
            .publish(LiveEvent::WebhookDeliveryChanged { delivery_id: d.id });
        Ok(())
    }
}

impl WebhookWorker {
    /// Why the policy refuses `url` before any connection, if it does. IP-literal hosts
    /// are checked here: the resolver only sees names.
    fn refusal(&self, url: &str) -> Option<EgressRefused> {
        match url::Url::parse(url) {
            Ok(url) => self.egress.check_url(&url).err().map(EgressRefused),
            Err(_) => Some(EgressRefused(egress::Refusal::Scheme)),
        }
    }
}

/// Live events that follow the changes which write webhook events.
fn wakes(event: &LiveEvent) -> bool {
    matches!(
        event,
        LiveEvent::ProgressChanged { .. }
            | LiveEvent::CallAnalyzed { .. }
            | LiveEvent::CampaignChanged { .. }
            | LiveEvent::ContactOptedOut { .. }
    )
}

/// The request body: `{event_id, type, created_at, data}`, with a dashboard link added to
/// call events.
fn envelope(d: &ClaimedDelivery, base: &url::Url) -> Result<Value, StoreError> {
    let mut data: Value = serde_json::from_str(&d.payload)
        .map_err(|e| StoreError::Corrupt(format!("webhook event {}: {e}", d.event_id)))?;
    if let Some(call_id) = data.get("call_id").and_then(Value::as_i64) {
        data["url"] = json!(format!(
            "{}/calls/{call_id}",
            base.as_str().trim_end_matches('/')
        ));
    }
    Ok(json!({
        "event_id": d.event_id,
        "type": d.event_type,
        "created_at": parley_domain::time::from_millis(d.event_created_at),
        "data": data,
    }))
}

/// What went wrong, without the URL (it may carry the receiver's token). A connection the
/// egress policy refused says so, and nothing about the port.
fn describe(e: &reqwest::Error, timeout_secs: u64) -> String {
    let text = if let Some(refused) = EgressRefused::find(e) {
        refused.to_string()
    } else if e.is_timeout() {
        format!("no answer within {timeout_secs} s")
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        let mut text = e.to_string();
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        text
    };
    text.chars().take(MAX_ERROR_CHARS).collect()
}
