//! `GET /v1/convai/agents`: the account's agents, paged by an opaque cursor (here the
//! offset of the next agent), `page_size` 1–100 (default 30), as the real API pages them;
//! `GET /v1/convai/agents/{agent_id}`: one agent, with the simulator's audio formats.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::{authorize, ElevenLabsSim};

const DEFAULT_PAGE_SIZE: usize = 30;
const MAX_PAGE_SIZE: usize = 100;

pub(crate) async fn list_agents(
    State(sim): State<ElevenLabsSim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    authorize(&sim.inner.config, &headers)?;
    let page_size = match query.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or(ApiError::QueryOutOfRange("page_size"))?,
    };
    // An unknown cursor reads as the start, as an opaque token the server cannot place.
    let start = query
        .get("cursor")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let agents = &sim.inner.config.agents;
    let page: Vec<Value> = agents
        .iter()
        .skip(start)
        .take(page_size)
        .map(|a| {
            json!({
                "agent_id": a.agent_id,
                "name": a.name,
                "tags": [],
                "created_at_unix_secs": 1_764_000_000,
                "access_info": {"is_creator": true, "creator_name": "Sandbox",
                                "creator_email": "sandbox@example.com", "role": "admin"},
                "last_call_time_unix_secs": null,
                "archived": false,
            })
        })
        .collect();
    let next = start + page.len();
    let has_more = next < agents.len();
    Ok(Json(json!({
        "agents": page,
        "next_cursor": has_more.then(|| next.to_string()),
        "has_more": has_more,
    })))
}

pub(crate) async fn get_agent(
    State(sim): State<ElevenLabsSim>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let config = &sim.inner.config;
    authorize(config, &headers)?;
    let agent = config
        .agents
        .iter()
        .find(|a| a.agent_id == agent_id)
        .ok_or(ApiError::AgentNotFound)?;
    Ok(Json(json!({
        "agent_id": agent.agent_id,
        "name": agent.name,
        "conversation_config": {
            "asr": {"quality": "high", "provider": "elevenlabs",
                    "user_input_audio_format": config.user_input_format},
            "tts": {"model_id": "eleven_flash_v2", "agent_output_audio_format": config.agent_output_format},
            "agent": {"first_message": "Hello!", "language": "en"},
        },
        "platform_settings": {},
        "tags": [],
    })))
}
