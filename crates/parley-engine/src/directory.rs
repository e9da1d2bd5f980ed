//! The account's agents (ElevenLabs) and numbers (Twilio), listed for the campaign form
//! and checked before a campaign starts. Each list is cached briefly: the form opens often,
//! and accounts change rarely.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_domain::campaign::CampaignSettings;
use parley_domain::phone::mask_phone_numbers;
use parley_elevenlabs::rest::AgentSummary;
use parley_twilio::rest::AccountNumber;
use tokio::sync::Mutex;

use crate::telephony::Telephony;

/// How long a fetched list is used before it is fetched again.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// A list could not be fetched. The text is masked: upstream errors can quote numbers.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    #[error("ElevenLabs could not list the account's agents: {0}")]
    Agents(String),
    #[error("Twilio could not list the account's numbers: {0}")]
    Numbers(String),
}

/// Why a campaign may not start with its agent or caller IDs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountMismatch {
    #[error("agent {0:?} is not an agent of the ElevenLabs account")]
    UnknownAgent(String),
    #[error("variant {name:?}'s agent {agent:?} is not an agent of the ElevenLabs account")]
    UnknownVariantAgent {
        index: usize,
        name: String,
        agent: String,
    },
    #[error("caller ID {0} is neither a number of the Twilio account nor one of its verified caller IDs")]
    UnknownCallerId(String),
    #[error("caller ID {0} cannot place voice calls")]
    NotVoiceCapable(String),
}

impl AccountMismatch {
    /// The campaign setting at fault.
    pub fn field(&self) -> String {
        match self {
            AccountMismatch::UnknownAgent(_) => "agent_id".into(),
            AccountMismatch::UnknownVariantAgent { index, .. } => {
                format!("variants[{index}].agent_id")
            }
            AccountMismatch::UnknownCallerId(_) | AccountMismatch::NotVoiceCapable(_) => {
                "caller_ids".into()
            }
        }
    }
}

/// Why `caller` cannot be a caller ID of the account whose numbers are `numbers`.
pub fn caller_mismatch(numbers: &[AccountNumber], caller: &str) -> Option<AccountMismatch> {
    match numbers.iter().find(|n| n.phone_number == caller) {
        None => Some(AccountMismatch::UnknownCallerId(caller.to_owned())),
        Some(n) if !n.voice => Some(AccountMismatch::NotVoiceCapable(caller.to_owned())),
        Some(_) => None,
    }
}

/// One list, fetched at most once per [`CACHE_TTL`]; concurrent readers share one fetch.
struct Cached<T> {
    slot: Mutex<Option<(Instant, Arc<Vec<T>>)>>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl<T> Cached<T> {
    async fn get<F, E>(&self, fetch: F) -> Result<Arc<Vec<T>>, E>
    where
        F: std::future::Future<Output = Result<Vec<T>, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, list)) = slot.as_ref() {
            if at.elapsed() < CACHE_TTL {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(fetch.await?);
        *slot = Some((Instant::now(), list.clone()));
        Ok(list)
    }
}

/// The account's agents and numbers.
#[derive(Default)]
pub struct Directory {
    agents: Cached<AgentSummary>,
    numbers: Cached<AccountNumber>,
}

impl Directory {
    pub async fn agents(
        &self,
        telephony: &Telephony,
    ) -> Result<Arc<Vec<AgentSummary>>, DirectoryError> {
        self.agents
            .get(async {
                telephony.elevenlabs.list_agents().await.map_err(|e| {
                    DirectoryError::Agents(mask_phone_numbers(&e.to_string()).into_owned())
                })
            })
            .await
    }

    pub async fn numbers(
        &self,
        telephony: &Telephony,
    ) -> Result<Arc<Vec<AccountNumber>>, DirectoryError> {
        self.numbers
            .get(async {
                telephony.twilio.list_account_numbers().await.map_err(|e| {
                    DirectoryError::Numbers(mask_phone_numbers(&e.to_string()).into_owned())
                })
            })
            .await
    }

    /// Checks the agent and caller IDs a campaign will use (its own, else the defaults)
    /// against the account. A list that cannot be fetched is not a refusal: the check
    /// is skipped for it (and logged), and the dialer's breaker handles a service that
    /// is really down.
    pub async fn check_campaign(
        &self,
        telephony: &Telephony,
        settings: &CampaignSettings,
    ) -> Result<(), AccountMismatch> {
        let agent = settings
            .agent_id
            .clone()
            .or_else(|| telephony.default_agent_id.clone());
        // The campaign's agent, then each A/B variant's own.
        let variant_agents = settings
            .variants
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i, v, v.agent_id.clone()?)));
        if agent.is_some() || settings.variants.iter().any(|v| v.agent_id.is_some()) {
            match self.agents(telephony).await {
                Ok(agents) => {
                    let listed = |id: &str| agents.iter().any(|a| a.agent_id == id);
                    if let Some(agent) = agent.filter(|a| !listed(a)) {
                        return Err(AccountMismatch::UnknownAgent(agent));
                    }
                    if let Some((index, v, agent)) = variant_agents
                        .into_iter()
                        .find(|(_, _, agent)| !listed(agent))
                    {
                        return Err(AccountMismatch::UnknownVariantAgent {
                            index,
                            name: v.name.clone(),
                            agent,
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "agents not checked before start"),
            }
        }
        let callers: Vec<String> = if settings.caller_ids.is_empty() {
            telephony.default_caller_id.iter().cloned().collect()
        } else {
            settings
                .caller_ids
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect()
        };
        if callers.is_empty() {
            return Ok(());
        }
        match self.numbers(telephony).await {
            Ok(numbers) => {
                if let Some(mismatch) = callers.iter().find_map(|c| caller_mismatch(&numbers, c)) {
                    return Err(mismatch);
                }
            }
            Err(e) => tracing::warn!(error = %e, "caller IDs not checked before start"),
        }
        Ok(())
    }
}
