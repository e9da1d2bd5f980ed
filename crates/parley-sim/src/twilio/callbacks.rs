//! Webhooks Twilio sends: form-encoded, signed with `X-Twilio-Signature` over the exact URL
//! called (reference B.1, C.1). Each call has one dispatcher task delivering its callbacks
//! in order, retrying failures a couple of times; with a chaos seed it sometimes delivers
//! one twice or swaps two adjacent ones, as real callbacks can arrive.

use std::time::Duration;

use chrono::Utc;
use parley_twilio::signature::{sign, SIGNATURE_HEADER};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use crate::net_delay::NetworkDelay;

/// Twilio's webhook timeout is commonly cited as 15 s.
pub(crate) const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
const RETRIES: u32 = 2;
const RETRY_DELAY: Duration = Duration::from_millis(200);
const QUEUE: usize = 16;
const CHAOS_DUPLICATE: f64 = 0.15;
const CHAOS_SWAP: f64 = 0.15;

/// A webhook target and its method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Webhook {
    pub url: String,
    pub method_get: bool,
}

/// One callback to deliver.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub hook: Webhook,
    pub params: Vec<(String, String)>,
}

/// Why a webhook request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    #[error("webhook request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("webhook answered http {0}")]
    Status(u16),
    #[error("invalid webhook url {0:?}")]
    Url(String),
}

impl WebhookError {
    fn retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status(status) => *status >= 500,
            Self::Url(_) => false,
        }
    }
}

/// The URL actually requested and its form body: GET moves the params into the query
/// string, and then only the URL is signed.
pub(crate) fn prepare(
    hook: &Webhook,
    params: &[(String, String)],
) -> Result<(String, Vec<(String, String)>), WebhookError> {
    if !hook.method_get {
        return Ok((hook.url.clone(), params.to_vec()));
    }
    let mut url = url::Url::parse(&hook.url).map_err(|_| WebhookError::Url(hook.url.clone()))?;
    url.query_pairs_mut().extend_pairs(params);
    Ok((url.to_string(), Vec::new()))
}

/// Sends one signed webhook request and returns the response.
/// The request crosses the simulated network one way, and so does the response head.
pub(crate) async fn request(
    (http, delay): (&reqwest::Client, NetworkDelay),
    auth_token: &str,
    hook: &Webhook,
    params: &[(String, String)],
) -> Result<reqwest::Response, WebhookError> {
    let (url, body) = prepare(hook, params)?;
    let signature = sign(auth_token, &url, &body);
    let builder = if hook.method_get {
        http.get(&url)
    } else {
        http.post(&url).form(&body)
    };
    tokio::time::sleep(delay.one_way).await;
    let response = builder
        .header(SIGNATURE_HEADER, signature)
        .header(reqwest::header::USER_AGENT, "TwilioProxy/1.1")
        .timeout(WEBHOOK_TIMEOUT)
        .send()
        .await?;
    tokio::time::sleep(delay.one_way).await;
    Ok(response)
}

async fn deliver(http: (&reqwest::Client, NetworkDelay), auth_token: &str, item: &Outgoing) {
    for attempt in 0..=RETRIES {
        let result: Result<(), WebhookError> =
            match request(http, auth_token, &item.hook, &item.params).await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => Err(WebhookError::Status(response.status().as_u16())),
                Err(error) => Err(error),
            };
        if let Err(error) = result {
            if !error.retryable() || attempt == RETRIES {
                tracing::warn!(url = %item.hook.url, %error, "twilio sim: callback not delivered");
                return;
            }
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

/// The sending side of a call's callback dispatcher; dropping it lets the dispatcher
/// finish what is queued and exit.
pub(crate) struct CallbackQueue {
    tx: mpsc::Sender<Outgoing>,
}

impl CallbackQueue {
    pub fn spawn(
        http: (reqwest::Client, NetworkDelay),
        auth_token: String,
        chaos_seed: Option<u64>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(dispatch(
            http,
            auth_token,
            chaos_seed.map(StdRng::seed_from_u64),
            rx,
        ));
        Self { tx }
    }

    pub async fn send(&self, item: Outgoing) {
        // The dispatcher only stops when this queue is dropped.
        let _ = self.tx.send(item).await;
    }
}

async fn dispatch(
    (http, delay): (reqwest::Client, NetworkDelay),
    auth_token: String,
    mut chaos: Option<StdRng>,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    let mut held: Option<Outgoing> = None;
    while let Some(item) = rx.recv().await {
        let (swap, duplicate) = match chaos.as_mut() {
            Some(rng) => (rng.gen_bool(CHAOS_SWAP), rng.gen_bool(CHAOS_DUPLICATE)),
            None => (false, false),
        };
        if held.is_none() && swap {
            // Deliver it after the next one.
            held = Some(item);
            continue;
        }
        deliver((&http, delay), &auth_token, &item).await;
        if duplicate {
            deliver((&http, delay), &auth_token, &item).await;
        }
        if let Some(earlier) = held.take() {
            deliver((&http, delay), &auth_token, &earlier).await;
        }
    }
    if let Some(last) = held {
        deliver((&http, delay), &auth_token, &last).await;
    }
}

/// Immutable facts about a call that every webhook repeats.
#[derive(Debug, Clone)]
pub(crate) struct CallFacts {
    pub sid: String,
    pub account_sid: String,
    pub to: String,
    pub from: String,
    /// Base of `RecordingUrl`s: the address the API was reached at.
    pub api_base: String,
}

fn country(number: &str) -> &'static str {
    if number.starts_with("+1") {
        "US"
    } else {
        ""
    }
}

/// The standard voice request parameters (B.2) beyond what the typed callbacks carry.
pub(crate) fn push_voice_extras(facts: &CallFacts, params: &mut Vec<(String, String)>) {
    let extras = [
        ("Caller", facts.from.as_str()),
        ("Called", facts.to.as_str()),
        ("ForwardedFrom", ""),
        ("CallerName", ""),
        ("FromCountry", country(&facts.from)),
        ("CallerCountry", country(&facts.from)),
        ("ToCountry", country(&facts.to)),
        ("CalledCountry", country(&facts.to)),
    ];
    params.extend(
        extras
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
}

/// Parameters of the TwiML request made on answer (B.2).
pub(crate) fn twiml_request_params(
    facts: &CallFacts,
    amd: Option<(parley_twilio::AnsweredBy, u32)>,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("CallSid", facts.sid.as_str()),
        ("AccountSid", facts.account_sid.as_str()),
        ("From", facts.from.as_str()),
        ("To", facts.to.as_str()),
        ("CallStatus", "in-progress"),
        ("ApiVersion", "2010-04-01"),
        ("Direction", "outbound-api"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    push_voice_extras(facts, &mut params);
    if let Some((answered_by, ms)) = amd {
        params.push(("AnsweredBy".into(), answered_by.as_str().into()));
        params.push(("MachineDetectionDuration".into(), ms.to_string()));
    }
    params
}

/// A status callback skeleton with the fields every event has.
pub(crate) fn status_callback(
    facts: &CallFacts,
    status: parley_twilio::CallStatus,
    sequence: u32,
) -> parley_twilio::callbacks::StatusCallback {
    parley_twilio::callbacks::StatusCallback {
        account_sid: facts.account_sid.clone(),
        call_sid: facts.sid.clone(),
        call_status: status,
        sequence_number: Some(sequence),
        timestamp: Some(Utc::now()),
        callback_source: Some("call-progress-events".into()),
        from: Some(facts.from.clone()),
        to: Some(facts.to.clone()),
        direction: Some("outbound-api".into()),
        api_version: Some("2010-04-01".into()),
        parent_call_sid: None,
        call_duration_secs: None,
        billed_minutes: None,
        sip_response_code: None,
        answered_by: None,
        recording_url: None,
        recording_sid: None,
        recording_duration_secs: None,
        stir_status: None,
    }
}

/// `https://api.twilio.com/2010-04-01/Accounts/{AC}/Recordings/{RE}`, no extension.
pub(crate) fn recording_url(facts: &CallFacts, recording_sid: &str) -> String {
    format!(
        "{}/2010-04-01/Accounts/{}/Recordings/{recording_sid}",
        facts.api_base, facts.account_sid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_webhooks_carry_params_in_the_signed_url() {
        let hook = Webhook {
            url: "http://127.0.0.1:9/status?x=1".into(),
            method_get: true,
        };
        let params = vec![("CallStatus".to_owned(), "in-progress".to_owned())];
        let (url, body) = prepare(&hook, &params).unwrap();
        assert_eq!(url, "http://127.0.0.1:9/status?x=1&CallStatus=in-progress");
        assert!(body.is_empty());
        let post = Webhook {
            method_get: false,
            ..hook
        };
        assert_eq!(prepare(&post, &params).unwrap().1, params);
    }
}
