//! What the connected accounts offer a campaign: the ElevenLabs agents and the Twilio
//! numbers it can use. Lists come from the services (cached a minute); a service that
//! cannot be reached answers 502 with its error. Also the doctor's report on how this
//! node is set up to use them.

use axum::extract::State;
use axum::Json;
use parley_engine::directory::DirectoryError;
use parley_twilio::rest::NumberKind;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::AppState;

/// An agent of the ElevenLabs account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agent {
    pub agent_id: String,
    pub name: String,
    pub tags: Vec<String>,
    /// The agent calls use when a campaign names none.
    pub is_default: bool,
}

/// A number the Twilio account can call from.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPhoneNumber {
    /// E.164.
    pub phone_number: String,
    pub friendly_name: Option<String>,
    /// `purchased` from Twilio, or a `verified_caller_id` owned elsewhere.
    #[schema(value_type = String, example = "purchased")]
    pub kind: NumberKind,
    /// Whether it can place voice calls; one that cannot is refused as a caller ID.
    pub voice: bool,
    /// The caller ID calls use when a campaign names none.
    pub is_default: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Agents {
    pub items: Vec<Agent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPhoneNumbers {
    pub items: Vec<AccountPhoneNumber>,
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        ApiError::new(ErrorCode::Upstream, e.to_string())
    }
}

/// The ElevenLabs account's agents (archived ones left out).
#[utoipa::path(get, path = "/api/v1/agents", tag = "campaigns",
    responses((status = 200, body = Agents), (status = 502, body = crate::error::ErrorBody)))]
pub async fn agents(State(state): State<AppState>) -> ApiResult<Json<Agents>> {
    let telephony = &state.engine.telephony;
    let default = telephony.default_agent_id.as_deref();
    let listed = state.engine.directory.agents(telephony).await?;
    let items = listed
        .iter()
        .map(|a| Agent {
            agent_id: a.agent_id.clone(),
            name: a.name.clone(),
            tags: a.tags.clone(),
            is_default: default == Some(a.agent_id.as_str()),
        })
        .collect();
    Ok(Json(Agents { items }))
}

/// The Twilio account's numbers and verified caller IDs.
#[utoipa::path(get, path = "/api/v1/phone-numbers", tag = "campaigns",
    responses((status = 200, body = AccountPhoneNumbers), (status = 502, body = crate::error::ErrorBody)))]
pub async fn phone_numbers(State(state): State<AppState>) -> ApiResult<Json<AccountPhoneNumbers>> {
    let telephony = &state.engine.telephony;
    let default = telephony.default_caller_id.as_deref();
    let listed = state.engine.directory.numbers(telephony).await?;
    let items = listed
        .iter()
        .map(|n| AccountPhoneNumber {
            phone_number: n.phone_number.clone(),
            friendly_name: n.friendly_name.clone(),
            kind: n.kind,
            voice: n.voice,
            is_default: default == Some(n.phone_number.as_str()),
        })
        .collect();
    Ok(Json(AccountPhoneNumbers { items }))
}

/// The doctor's report on this node's configuration (admin only): what `parley doctor`
/// prints, checked from this server with the services it uses.
#[utoipa::path(get, path = "/api/v1/doctor", tag = "system",
    responses((status = 200, body = parley_engine::doctor::Report)))]
pub async fn doctor(State(state): State<AppState>) -> Json<parley_engine::doctor::Report> {
    let engine = &state.engine;
    let report = parley_engine::doctor::examine(&parley_engine::doctor::Subject {
        settings: &engine.settings,
        // Start-up warnings were logged then; the settings are the ones running.
        setting_warnings: &[],
        store: Ok(&engine.store),
        telephony: &engine.telephony,
        directory: &engine.directory,
    })
    .await;
    Json(report)
}
