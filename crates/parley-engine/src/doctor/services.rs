//! Checks of the services Parley talks to: the Twilio account and its numbers, the
//! ElevenLabs key and agents (with their audio formats), and the clock against theirs.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parley_domain::campaign::CampaignState;
use parley_domain::mask_phone_numbers;
use parley_elevenlabs::ElevenLabsError;
use parley_store::PageRequest;
use parley_twilio::rest::ErrorClass;

use super::{Finding, Subject};
use crate::directory::{caller_mismatch, AccountMismatch};
use crate::telephony::Telephony;

/// The format on both sides of a Twilio media stream; any other makes the bridge transcode.
const STREAM_FORMAT: &str = "ulaw_8000";
/// Webhook signatures carry timestamps; beyond this skew they start to fail.
const CLOCK_PROBLEM: Duration = Duration::from_secs(60);
const CLOCK_WARNING: Duration = Duration::from_secs(5);
/// Agents whose configuration one report reads (one request each).
const MAX_AGENTS_CHECKED: usize = 25;
/// Campaigns read for the agents and caller IDs they use.
const CAMPAIGNS_READ: u32 = 500;

/// The agents and caller IDs calls will use: the defaults, and those of every campaign
/// that may still dial. Read once per report.
pub(super) struct InUse {
    pub agents: BTreeSet<String>,
    pub callers: BTreeSet<String>,
}

pub(super) async fn in_use(subject: &Subject<'_>) -> InUse {
    let telephony = subject.telephony;
    let mut found = InUse {
        agents: telephony.default_agent_id.iter().cloned().collect(),
        callers: telephony.default_caller_id.iter().cloned().collect(),
    };
    let page = PageRequest {
        before_id: None,
        limit: CAMPAIGNS_READ,
    };
    let Ok(store) = subject.store else {
        return found;
    };
    if let Ok(campaigns) = store.list_campaigns(None, page).await {
        let live = campaigns.items.into_iter().filter(|c| {
            !matches!(
                c.state,
                CampaignState::Completed | CampaignState::Stopped | CampaignState::Failed
            )
        });
        for campaign in live {
            found.agents.extend(campaign.settings.agent_id.clone());
            found.callers.extend(
                campaign
                    .settings
                    .caller_ids
                    .iter()
                    .map(|p| p.as_str().to_owned()),
            );
        }
    }
    found
}

pub(super) async fn twilio(subject: &Subject<'_>, in_use: &InUse) -> Vec<Finding> {
    let telephony = subject.telephony;
    let account = match telephony.twilio.fetch_account().await {
        Ok(account) => account,
        Err(e) => {
            let message = format!(
                "Twilio refused the account: {}",
                mask_phone_numbers(&e.to_string())
            );
            let fix = match e.class() {
                ErrorClass::Account | ErrorClass::Permanent => {
                    "check twilio.account_sid and twilio.auth_token (Twilio Console, Account Info)"
                }
                ErrorClass::Retryable => {
                    "check the network path to twilio.api_base_url and try again"
                }
            };
            return vec![Finding::problem("twilio.account", message, fix)];
        }
    };
    let mut findings = vec![if account.status == "active" {
        Finding::ok(
            "twilio.account",
            format!("Twilio account {} is active", account.sid),
        )
    } else {
        Finding::problem(
            "twilio.account",
            format!("Twilio account {} is {}", account.sid, account.status),
            "reactivate the account in the Twilio Console; no call can be placed until then",
        )
    }];
    let callers = &in_use.callers;
    let numbers = match subject.directory.numbers(telephony).await {
        Ok(numbers) => numbers,
        Err(e) => {
            findings.push(Finding::problem(
                "twilio.caller_id",
                e.to_string(),
                "check that the credentials may read IncomingPhoneNumbers",
            ));
            return findings;
        }
    };
    if callers.is_empty() {
        findings.push(Finding::warning(
            "twilio.caller_id",
            "no caller ID is set: calls and campaigns must each name one",
            "set twilio.caller_id to one of the account's numbers",
        ));
    }
    for caller in callers {
        findings.push(match caller_mismatch(&numbers, caller) {
            None => Finding::ok(
                "twilio.caller_id",
                format!("caller ID {caller} belongs to the account"),
            ),
            Some(m @ AccountMismatch::NotVoiceCapable(_)) => Finding::problem(
                "twilio.caller_id",
                m.to_string(),
                "use a voice-capable number, or enable voice on it",
            ),
            Some(m) => Finding::problem(
                "twilio.caller_id",
                format!("{m}; Twilio refuses calls from it (21210)"),
                "buy or verify the number in the Twilio Console, or use one of the account's numbers",
            ),
        });
    }
    findings
}

pub(super) async fn elevenlabs(subject: &Subject<'_>, in_use: &InUse) -> Vec<Finding> {
    let telephony = subject.telephony;
    let mut findings = Vec::new();
    match subject.directory.agents(telephony).await {
        Ok(agents) => findings.push(Finding::ok(
            "elevenlabs.key",
            format!(
                "the ElevenLabs key works; the account has {} agent(s)",
                agents.len()
            ),
        )),
        Err(e) => {
            findings.push(Finding::problem(
                "elevenlabs.key",
                e.to_string(),
                "check elevenlabs.api_key (ElevenLabs, Developers, API keys); it needs the Agents read permission",
            ));
            return findings;
        }
    }
    let agents = &in_use.agents;
    if agents.is_empty() {
        findings.push(Finding::warning(
            "elevenlabs.agent",
            "no agent is set: calls and campaigns must each name one",
            "set elevenlabs.agent_id to one of the account's agents",
        ));
    }
    // Each agent is one request: a bounded number of them, the rest said to be unchecked.
    for agent in agents.iter().take(MAX_AGENTS_CHECKED) {
        findings.push(agent_finding(telephony, agent).await);
    }
    if agents.len() > MAX_AGENTS_CHECKED {
        findings.push(Finding::warning(
            "elevenlabs.agent",
            format!(
                "{} more agents in use were not checked",
                agents.len() - MAX_AGENTS_CHECKED
            ),
            "check them in ElevenLabs, or finish the campaigns that no longer run",
        ));
    }
    findings.push(if telephony.elevenlabs_webhook_secret.is_some() {
        Finding::ok("elevenlabs.webhook_secret", "the post-call webhook secret is set")
    } else {
        Finding::problem(
            "elevenlabs.webhook_secret",
            "no post-call webhook secret: analyses arrive only by polling, late",
            format!(
                "add a post-call webhook to {}/elevenlabs/webhook in ElevenLabs and set elevenlabs.webhook_secret to its secret",
                telephony.public_base.as_str().trim_end_matches('/')
            ),
        )
    });
    findings
}

async fn agent_finding(telephony: &Telephony, agent: &str) -> Finding {
    const CHECK: &str = "elevenlabs.agent";
    let details = match telephony.elevenlabs.get_agent(agent).await {
        Ok(details) => details,
        Err(ElevenLabsError::NotFound { .. }) => {
            return Finding::problem(
                CHECK,
                format!("agent {agent:?} does not exist in the ElevenLabs account"),
                "pick an existing agent (GET /api/v1/agents lists them)",
            )
        }
        Err(e) => {
            return Finding::problem(
                CHECK,
                format!("cannot read agent {agent:?}: {e}"),
                "check elevenlabs.api_key and the network path to ElevenLabs",
            )
        }
    };
    let formats = [
        ("input", details.input_format.as_deref()),
        ("output", details.output_format.as_deref()),
    ];
    let other: Vec<String> = formats
        .iter()
        .filter(|(_, f)| f.is_some_and(|f| f != STREAM_FORMAT))
        .map(|(side, f)| format!("{side} {}", f.unwrap_or_default()))
        .collect();
    if other.is_empty() {
        Finding::ok(
            CHECK,
            format!(
                "agent {:?} ({}) speaks {STREAM_FORMAT}",
                details.agent_id, details.name
            ),
        )
    } else {
        Finding::warning(
            CHECK,
            format!(
                "agent {:?} ({}) uses {}: every call is transcoded",
                details.agent_id,
                details.name,
                other.join(", ")
            ),
            "set the agent's input and output audio format to μ-law 8000 Hz in ElevenLabs",
        )
    }
}

/// Compares this machine's clock with the `Date` the services answer with.
pub(super) async fn clock(telephony: &Telephony) -> Vec<Finding> {
    const CHECK: &str = "clock";
    let response = reqwest::Client::new()
        .get(telephony.twilio.base_url())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let theirs = response.ok().and_then(|r| {
        r.headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&Utc))
    });
    let Some(theirs) = theirs else {
        return vec![Finding::warning(
            CHECK,
            "the clock was not compared: Twilio sent no Date",
            "keep the clock synchronised (chrony or systemd-timesyncd)",
        )];
    };
    let skew = (Utc::now() - theirs).abs().to_std().unwrap_or_default();
    // `Date` has whole seconds: a second of skew is rounding.
    let seconds = skew.as_secs();
    if skew > CLOCK_PROBLEM {
        vec![Finding::problem(
            CHECK,
            format!("this clock is {seconds} s off Twilio's: webhook signatures will be refused"),
            "synchronise the clock (chrony or systemd-timesyncd)",
        )]
    } else if skew > CLOCK_WARNING {
        vec![Finding::warning(
            CHECK,
            format!("this clock is {seconds} s off Twilio's"),
            "synchronise the clock (chrony or systemd-timesyncd)",
        )]
    } else {
        vec![Finding::ok(
            CHECK,
            format!(
                "the clock agrees with Twilio's (within {} s)",
                CLOCK_WARNING.as_secs()
            ),
        )]
    }
}
