//! Campaigns: settings, state changes, enrolled contacts.
use super::{List, PageParams};
use crate::auth::Principal;
use crate::error::extract::{Bytes, Json, Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use parley_domain::activity::CampaignActivity;
use parley_domain::campaign::{
    Campaign, CampaignAction, CampaignContact, CampaignSettings, CampaignState, ProgressState,
};
use parley_domain::quality::CampaignQuality;
use parley_engine::events::LiveEvent;
use parley_store::{CampaignUpdate, ContactSelector, NewCampaign};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub name: String,
    pub description: Option<String>,
    /// Left-out settings take their defaults.
    #[serde(default)]
    pub settings: CampaignSettings,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaign {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces all settings (send the full object; left-out ones take their defaults).
    pub settings: Option<CampaignSettings>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// Recorded in the audit log and shown as the campaign's state reason.
    pub reason: Option<String>,
}

/// Contacts to add or remove: by ids, or every contact with a tag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsSelection {
    pub contact_ids: Option<Vec<i64>>,
    pub tag: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactsChanged {
    /// Contacts added (or removed) by this request; ones already there are not counted.
    pub count: u64,
    pub campaign: Campaign,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    pub state: Option<CampaignState>,
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignContactQuery {
    pub state: Option<ProgressState>,
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Reads a campaign body. A dynamic variable mapped to a list or an object is named first
/// (422): the agent takes strings, numbers and booleans, and the mapping names a contact
/// field. Anything else unreadable is 400, as for every body.
fn read_body<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> ApiResult<T> {
    if let Some(serde_json::Value::Object(variables)) = body
        .get("settings")
        .and_then(|s| s.get("dynamic_variables"))
    {
        let mut errors = parley_domain::FieldErrors::new();
        super::calls::check_dynamic_variables(variables, "settings.dynamic_variables", &mut errors);
        errors.into_result().map_err(ApiError::validation)?;
    }
    serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!(
            "Failed to deserialize the JSON body into the target type: {e}"
        ))
    })
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("name", "must be 1-200 characters"));
    }
    Ok(name.to_string())
}

fn check_settings(s: &CampaignSettings) -> ApiResult<()> {
    s.validate().map_err(|errors| {
        // Settings fields are nested under `settings` in the request body.
        let mut prefixed = parley_domain::FieldErrors::new();
        for e in errors.0 {
            prefixed.add(format!("settings.{}", e.field), e.message);
        }
        ApiError::validation(prefixed)
    })
}

impl ContactsSelection {
    fn selector(self) -> ApiResult<ContactSelector> {
        match (self.contact_ids, self.tag) {
            (Some(ids), None) if ids.len() <= 10_000 => Ok(ContactSelector::Ids(ids)),
            (Some(_), None) => Err(ApiError::field(
                "contact_ids",
                "at most 10000 ids per request; use a tag for more",
            )),
            (None, Some(tag)) if !tag.trim().is_empty() => {
                Ok(ContactSelector::Tag(tag.trim().to_string()))
            }
            _ => Err(ApiError::field(
                "contact_ids",
                "give either `contact_ids` or a non-empty `tag`",
            )),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CreateCampaign,
    responses((status = 201, body = Campaign), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    let body: CreateCampaign = read_body(body)?;
    let name = check_name(&body.name)?;
    check_settings(&body.settings)?;
    let campaign = state
        .store
        .create_campaign(
            &NewCampaign {
                name,
                description: body.description,
                settings: body.settings,
            },
            &principal.actor,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(campaign)))
}

/// The settings a campaign gets for every one left out (what a new-campaign form starts from).
#[utoipa::path(get, path = "/api/v1/campaign-defaults", tag = "campaigns",
    responses((status = 200, body = CampaignSettings)))]
pub async fn defaults() -> Json<CampaignSettings> {
    Json(CampaignSettings::default())
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(CampaignQuery),
    responses((status = 200, body = List<Campaign>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<List<Campaign>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    Ok(Json(
        state.store.list_campaigns(q.state, page).await?.into(),
    ))
}

/// A campaign with its call quality over the last 30 days.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDetail {
    #[serde(flatten)]
    pub campaign: Campaign,
    /// Its bridged calls answered in the last 30 days: the abandonment rate (47 CFR
    /// 64.1200(a)(7); the campaign pauses itself over `settings.max_abandonment_rate_pct`)
    /// and the calls with a slow first audio or a slow relay.
    pub quality: CampaignQuality,
}

/// The start of the rolling abandonment window, epoch ms.
pub(crate) fn quality_window_start() -> i64 {
    use parley_domain::quality::ABANDONMENT_WINDOW_DAYS;
    parley_domain::time::now_millis() - ABANDONMENT_WINDOW_DAYS * 86_400_000
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 200, body = CampaignDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CampaignDetail>> {
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let counts = state
        .store
        .campaign_quality_counts(id, quality_window_start())
        .await?;
    Ok(Json(CampaignDetail {
        campaign,
        quality: counts.campaign_quality(),
    }))
}

/// Changes a campaign that is draft, scheduled or paused.
#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "campaigns", request_body = UpdateCampaign,
    params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Json<Campaign>> {
    let body: UpdateCampaign = read_body(body)?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    if let Some(s) = &body.settings {
        check_settings(s)?;
    }
    let update = CampaignUpdate {
        name,
        description: body.description,
        settings: body.settings,
    };
    Ok(Json(
        state
            .store
            .update_campaign(id, &update, &principal.actor)
            .await
            .or_not_found("campaign")?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_campaign(id, &principal.actor)
        .await
        .or_not_found("campaign")?;
    Ok(StatusCode::NO_CONTENT)
}

async fn transition(
    state: AppState,
    principal: Principal,
    id: i64,
    action: CampaignAction,
    body: Option<StateChange>,
) -> ApiResult<Json<Campaign>> {
    let reason = body.and_then(|b| b.reason);
    if matches!(action, CampaignAction::Start | CampaignAction::Resume) {
        check_account(&state, id).await?;
    }
    let campaign = state
        .store
        .transition_campaign(id, action, &principal.actor, reason.as_deref())
        .await
        .or_not_found("campaign")?;
    // Dashboards show it at once, and the webhook worker sends `campaign.state_changed`
    // now rather than at its next poll.
    state.engine.events.publish(LiveEvent::CampaignChanged {
        campaign_id: id,
        state: campaign.state,
    });
    tracing::info!(
        campaign_id = id,
        action = action.as_str(),
        state = campaign.state.as_str(),
        "campaign state changed"
    );
    Ok(Json(campaign))
}

/// A campaign starts or resumes only with agents (its own and its A/B variants') and
/// caller IDs its accounts have (422 naming the setting otherwise); every call would fail
/// at the service if it did.
async fn check_account(state: &AppState, id: i64) -> ApiResult<()> {
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let telephony = &state.engine.telephony;
    state
        .engine
        .directory
        .check_campaign(telephony, &campaign.settings)
        .await
        .map_err(|m| ApiError::field(&m.field(), m.to_string()))
}

/// The state-change body is optional: an empty body or `null` means no reason. One that
/// is not a `StateChange` cannot be read: 400, as for every JSON body.
fn optional_body(bytes: &[u8]) -> ApiResult<Option<StateChange>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

macro_rules! state_change_handler {
    ($name:ident, $action:expr, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "campaigns", params(("id" = i64, Path)),
            request_body(content = Option<StateChange>),
            responses((status = 200, body = Campaign), (status = 404, body = crate::error::ErrorBody),
                      (status = 409, description = "not allowed from the current state, which `details.current_state` names",
                       body = crate::error::ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            Extension(principal): Extension<Principal>,
            Path(id): Path<i64>,
            Bytes(body): Bytes,
        ) -> ApiResult<Json<Campaign>> {
            transition(state, principal, id, $action, optional_body(&body)?).await
        }
    };
}

state_change_handler!(
    start,
    CampaignAction::Start,
    "/api/v1/campaigns/{id}/start",
    "Starts a draft campaign (it waits as `scheduled` until its start date)."
);
state_change_handler!(
    pause,
    CampaignAction::Pause,
    "/api/v1/campaigns/{id}/pause",
    "Pauses a running or scheduled campaign; calls in progress finish."
);
state_change_handler!(
    resume,
    CampaignAction::Resume,
    "/api/v1/campaigns/{id}/resume",
    "Resumes a paused campaign."
);
state_change_handler!(
    stop,
    CampaignAction::Stop,
    "/api/v1/campaigns/{id}/stop",
    "Stops a campaign for good."
);

/// Records who enrolled or removed which contacts (by tag, or how many ids).
async fn audit_enrolment(
    tx: &mut parley_store::Tx,
    principal: &Principal,
    campaign_id: i64,
    action: &str,
    selector: &ContactSelector,
    count: u64,
) -> ApiResult<()> {
    let by = match selector {
        ContactSelector::Tag(tag) => serde_json::json!({ "tag": tag }),
        ContactSelector::Ids(ids) => serde_json::json!({ "ids": ids.len() }),
    };
    tx.audit(
        &principal.actor,
        action,
        "campaign",
        Some(&campaign_id.to_string()),
        &serde_json::json!({ "selected": by, "count": count }),
    )
    .await?;
    Ok(())
}

/// Enrols contacts in the campaign.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/contacts", tag = "campaigns",
    params(("id" = i64, Path)), request_body = ContactsSelection,
    responses((status = 200, body = ContactsChanged), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn add_contacts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<ContactsSelection>,
) -> ApiResult<Json<ContactsChanged>> {
    let selector = body.selector()?;
    let mut tx = state.store.begin().await?;
    let count = tx
        .add_campaign_contacts(id, &selector)
        .await
        .or_not_found("campaign")?;
    audit_enrolment(
        &mut tx,
        &principal,
        id,
        "campaign.contacts_added",
        &selector,
        count,
    )
    .await?;
    tx.commit().await?;
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    Ok(Json(ContactsChanged { count, campaign }))
}

/// Takes contacts out of the campaign (their call history stays).
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/contacts/remove", tag = "campaigns",
    params(("id" = i64, Path)), request_body = ContactsSelection,
    responses((status = 200, body = ContactsChanged), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove_contacts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<ContactsSelection>,
) -> ApiResult<Json<ContactsChanged>> {
    let selector = body.selector()?;
    let mut tx = state.store.begin().await?;
    tx.get_campaign(id).await.or_not_found("campaign")?;
    let count = tx.remove_campaign_contacts(id, &selector).await?;
    audit_enrolment(
        &mut tx,
        &principal,
        id,
        "campaign.contacts_removed",
        &selector,
        count,
    )
    .await?;
    tx.commit().await?;
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    Ok(Json(ContactsChanged { count, campaign }))
}

/// The campaign's contacts with their progress.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/contacts", tag = "campaigns",
    params(("id" = i64, Path), CampaignContactQuery),
    responses((status = 200, body = List<CampaignContact>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn contacts(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<CampaignContactQuery>,
) -> ApiResult<Json<List<CampaignContact>>> {
    state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    Ok(Json(
        state
            .store
            .list_campaign_contacts(id, q.state, page)
            .await?
            .into(),
    ))
}

/// What the campaign does next and why: dialling, every call slot in use, waiting for its
/// contacts' calling windows, a retry or a callback (with the contact's local time), or
/// paused and why.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/activity", tag = "campaigns",
    params(("id" = i64, Path)),
    responses((status = 200, body = CampaignActivity), (status = 404, body = crate::error::ErrorBody)))]
pub async fn activity(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CampaignActivity>> {
    Ok(Json(
        state
            .engine
            .campaign_activity(id)
            .await
            .or_not_found("campaign")?,
    ))
}
