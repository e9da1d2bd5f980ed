//! The account's agents: `GET /v1/convai/agents` (paged by cursor, at most 100 per page)
//! and one agent's audio formats from `GET /v1/convai/agents/{agent_id}`.

use serde::{Deserialize, Serialize};

use super::{send, ElevenLabsClient, ElevenLabsError, REQUEST_TIMEOUT};

/// Largest page the API serves.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Pages read per listing: 20 × 100 agents bounds one listing.
const MAX_PAGES: usize = 20;

/// An agent as the list endpoint summarises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub agent_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub created_at_unix_secs: Option<i64>,
    #[serde(default)]
    pub archived: bool,
}

/// One page of `GET /v1/convai/agents`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentPage {
    pub agents: Vec<AgentSummary>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

/// What Parley needs of one agent's configuration: its audio formats (`ulaw_8000` on both
/// sides spares the bridge any transcoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDetails {
    pub agent_id: String,
    pub name: String,
    /// `conversation_config.asr.user_input_audio_format`; `None` when not stated.
    pub input_format: Option<String>,
    /// `conversation_config.tts.agent_output_audio_format`; `None` when not stated.
    pub output_format: Option<String>,
}

#[derive(Deserialize)]
struct AgentResponse {
    agent_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    conversation_config: ConversationConfig,
}

#[derive(Default, Deserialize)]
struct ConversationConfig {
    #[serde(default)]
    asr: Option<AsrConfig>,
    #[serde(default)]
    tts: Option<TtsConfig>,
}

#[derive(Deserialize)]
struct AsrConfig {
    #[serde(default)]
    user_input_audio_format: Option<String>,
}

#[derive(Deserialize)]
struct TtsConfig {
    #[serde(default)]
    agent_output_audio_format: Option<String>,
}

impl ElevenLabsClient {
    /// One agent's name and audio formats; `ElevenLabsError` 404 when it does not exist.
    pub async fn get_agent(&self, agent_id: &str) -> Result<AgentDetails, ElevenLabsError> {
        let url = self.endpoint(&["v1", "convai", "agents", agent_id]);
        let body = send(self.get(url, REQUEST_TIMEOUT)).await?;
        let agent: AgentResponse = serde_json::from_slice(&body)
            .map_err(|e| ElevenLabsError::InvalidResponse(e.to_string()))?;
        let config = agent.conversation_config;
        Ok(AgentDetails {
            agent_id: agent.agent_id,
            name: agent.name,
            input_format: config.asr.and_then(|a| a.user_input_audio_format),
            output_format: config.tts.and_then(|t| t.agent_output_audio_format),
        })
    }

    /// One page of agents, from `cursor` (the previous page's `next_cursor`).
    pub async fn list_agents_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<AgentPage, ElevenLabsError> {
        let mut url = self.endpoint(&["v1", "convai", "agents"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("page_size", &MAX_PAGE_SIZE.to_string());
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
        }
        let body = send(self.get(url, REQUEST_TIMEOUT)).await?;
        serde_json::from_slice(&body).map_err(|e| ElevenLabsError::InvalidResponse(e.to_string()))
    }

    /// Every agent of the account that is not archived (at most [`MAX_PAGES`] pages).
    pub async fn list_agents(&self) -> Result<Vec<AgentSummary>, ElevenLabsError> {
        let mut agents = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.list_agents_page(cursor.as_deref()).await?;
            agents.extend(page.agents.into_iter().filter(|a| !a.archived));
            match page.next_cursor.filter(|c| page.has_more && !c.is_empty()) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(agents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_the_published_shape() {
        let json = r#"{"agents": [{"agent_id": "agent_01", "name": "Renewals",
            "tags": ["sales"], "created_at_unix_secs": 1764000000,
            "access_info": {"is_creator": true, "creator_name": "x", "creator_email": "x@example.com", "role": "admin"},
            "last_call_time_unix_secs": null, "archived": false}],
            "next_cursor": "c2", "has_more": true}"#;
        let page: AgentPage = serde_json::from_str(json).unwrap();
        assert_eq!(page.agents[0].name, "Renewals");
        assert!(page.has_more);
        assert_eq!(page.next_cursor.as_deref(), Some("c2"));
    }
}
