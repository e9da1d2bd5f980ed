//! Calls: the list and one call with everything recorded about it.
use super::contacts::{parse_phone, region};
use super::results::result_filters;
use super::{parse_time, List, PageParams};
use crate::auth::Principal;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult, ErrorCode, OrNotFound};
use crate::AppState;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use parley_domain::call::{
    Call, CallEvent, CallOutcome, CallStatus, Recording, TerminationSource, TranscriptTurn,
};
use parley_domain::call_result::CallResult;
use parley_domain::campaign::{AnsweringMachine, CampaignSettings};
use parley_domain::contact::Contact;
use parley_domain::tool::ToolCallRecord;
use parley_domain::FieldErrors;
use parley_engine::calls::place::{PlaceCall, PlaceError};
use parley_engine::calls::recordings::RecordingError;
use parley_engine::calls::{CallError, CallOptions};
use parley_store::{CallFilter, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tower::ServiceExt;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub status: Option<CallStatus>,
    pub outcome: Option<CallOutcome>,
    /// `true`: only test calls; `false`: none; absent: every call.
    pub test: Option<bool>,
    /// Created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Created before this RFC 3339 time.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A call with its events, transcript and recordings.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    pub events: Vec<CallEvent>,
    pub transcript: Vec<TranscriptTurn>,
    /// The playable recording, once it has been fetched from the carrier.
    pub recording: Option<RecordingLink>,
    /// Why the call was not recorded although its campaign records: the rule that needs
    /// every party's consent where the callee is (e.g. `Fla. Stat. 934.03`), with the
    /// campaign's `disclosures.all_party_recording` set to `do_not_record`.
    pub recording_withheld_by: Option<String>,
    pub recordings: Vec<Recording>,
    /// The contact's first and last name, as in the calls list.
    pub contact_name: Option<String>,
    /// The agent's tool calls, oldest first.
    pub tool_calls: Vec<ToolCallRecord>,
    /// The analysis' data-collection values and evaluation verdicts as typed fields (the
    /// raw analysis stays in `analysis`).
    pub results: Vec<CallResult>,
    /// What the bridge measured, once the bridged call is over; null for a call that was
    /// never bridged (or is still live).
    pub quality: Option<parley_domain::quality::CallQuality>,
    /// The dynamic variables the agent was given (contact fields, what earlier calls
    /// learned), as placed: secrets (`secret__...`) and the campaign's
    /// `hidden_variables` left out, texts over 500 characters cut. Parley adds `call_id`
    /// when the conversation starts. Null for calls placed before Parley kept them.
    #[schema(value_type = Option<Object>)]
    pub dynamic_variables: Option<Value>,
    /// The agent settings the call replaced for its conversation (its A/B variant is
    /// `variant`).
    pub agent_overrides: AgentOverrides,
    /// The warm transfer, when the agent transferred the call: targets tried, outcome,
    /// whisper.
    pub transfer: Option<parley_domain::transfer::CallTransfer>,
}

/// What a call told its agent instead of the agent's own settings.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct AgentOverrides {
    /// As said (with any recording notice before it); `{{variables}}` are filled in by
    /// ElevenLabs.
    pub first_message: Option<String>,
    /// Whether the agent's prompt was replaced (the text is in the campaign's settings).
    pub prompt: bool,
    pub language: Option<String>,
    pub voice_id: Option<String>,
    /// Which of `language`, `voice_id`, `first_message` came from the contact's fields
    /// (the campaign's `contact_overrides`).
    pub from_contact: Vec<String>,
}

/// A call in a list, with whom it was to.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallRow {
    #[serde(flatten)]
    pub call: Call,
    /// The contact's first and last name; null when the call has no contact or the
    /// contact no name.
    pub contact_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingLink {
    /// Fetch with the same credentials; supports HTTP range requests (seeking).
    pub url: String,
    pub content_type: Option<String>,
    pub channels: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub size_bytes: Option<i64>,
}

/// One call outside any campaign. Give `to` or `contact_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceCallRequest {
    /// Number to call, any common format.
    pub to: Option<String>,
    /// Call this contact instead; its fields become dynamic variables.
    pub contact_id: Option<i64>,
    /// ElevenLabs agent (optional in sandbox mode or with `elevenlabs.agent_id` set).
    pub agent_id: Option<String>,
    /// Caller id, E.164 (default `twilio.caller_id`).
    pub from: Option<String>,
    /// Extra dynamic variables for the agent: strings, numbers or booleans (what the agent
    /// takes); a null is left out, and a list or object is refused (422, naming it).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub dynamic_variables: Map<String, Value>,
    pub first_message: Option<String>,
    pub prompt: Option<String>,
    /// Default: hang up on answering machines.
    pub answering_machine: Option<AnsweringMachine>,
    /// Record the call (default true).
    pub record: Option<bool>,
    /// Default 600.
    pub max_duration_seconds: Option<u32>,
}

/// Names each variable ElevenLabs cannot take (a list or an object) under `field`; nulls
/// pass (they are left out when the conversation starts).
pub(crate) fn check_dynamic_variables(
    variables: &Map<String, Value>,
    field: &str,
    errors: &mut parley_domain::FieldErrors,
) {
    for (name, value) in variables {
        if !parley_elevenlabs::ws::DynamicValue::accepts(value) {
            errors.add(
                format!("{field}.{name}"),
                "must not be a list or an object: the agent takes strings, numbers and booleans",
            );
        }
    }
}

/// The contact's fields as dynamic variables: name, company, email and custom fields.
fn contact_variables(contact: &Contact) -> Map<String, Value> {
    let mut vars = Map::new();
    for (name, value) in [
        ("first_name", &contact.first_name),
        ("last_name", &contact.last_name),
        ("company", &contact.company),
        ("email", &contact.email),
    ] {
        if let Some(v) = value {
            vars.insert(name.into(), Value::String(v.clone()));
        }
    }
    for (k, v) in &contact.custom_fields {
        vars.entry(k.clone())
            .or_insert_with(|| Value::String(v.clone()));
    }
    vars
}

/// Places one call now and answers with its record (201). A number the carrier refuses
/// still gives a call record, with status `failed` and the carrier's error.
#[utoipa::path(post, path = "/api/v1/calls", tag = "calls", request_body = PlaceCallRequest,
    responses((status = 201, body = CallDetail), (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "the number is on the do-not-call list", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn place(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<PlaceCallRequest>,
) -> ApiResult<(StatusCode, Json<CallDetail>)> {
    let mut errors = FieldErrors::new();
    let (to, contact) = match (&body.to, body.contact_id) {
        (Some(raw), None) => (parse_phone(raw, region(&state)?, &mut errors), None),
        (None, Some(id)) => {
            let contact = state.store.get_contact(id).await.or_not_found("contact")?;
            let phone = parley_domain::Phone::from_e164(&contact.phone).ok();
            (phone, Some(contact))
        }
        _ => {
            errors.add("to", "give either `to` or `contact_id`");
            (None, None)
        }
    };
    if let Some(from) = &body.from {
        if parley_domain::Phone::from_e164(from).is_err() {
            errors.add("from", "must be an E.164 number such as +15005550006");
        }
    }
    let duration = body.max_duration_seconds.unwrap_or(600);
    if !(10..=parley_domain::campaign::MAX_CALL_DURATION_SECONDS).contains(&duration) {
        errors.add("max_duration_seconds", "must be between 10 and 14400");
    }
    let machine = body.answering_machine.clone().unwrap_or_default();
    if machine.policy == parley_domain::campaign::MachinePolicy::LeaveVoicemail
        && machine
            .voicemail_message
            .as_deref()
            .is_none_or(|m| m.trim().is_empty())
    {
        errors.add(
            "answering_machine.voicemail_message",
            "is required to leave a voicemail",
        );
    }
    check_dynamic_variables(&body.dynamic_variables, "dynamic_variables", &mut errors);
    let Some(to) = to.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    if state.store.check_dnc(&to, None).await?.global {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this number is on the do-not-call list",
        ));
    }
    let mut dynamic_variables = contact.as_ref().map(contact_variables).unwrap_or_default();
    dynamic_variables.extend(body.dynamic_variables);
    let request = PlaceCall {
        to: Some(to),
        contact_id: contact.as_ref().map(|c| c.id),
        campaign_id: None,
        attempt: 1,
        agent_id: body.agent_id,
        from: body.from,
        dynamic_variables,
        options: CallOptions {
            first_message: body.first_message,
            prompt: body.prompt,
            answering_machine: machine,
            short_call_seconds: CampaignSettings::default().retry.short_call_seconds,
            max_duration_seconds: None, // set from `max_duration_seconds` below
            recording_withheld_by: None, // decided where the call is placed
            ..Default::default()
        },
        record: body.record.unwrap_or(true),
        max_duration_seconds: duration,
        actor: principal.actor.clone(),
        ..PlaceCall::default()
    };
    let call = state
        .engine
        .place_call(request)
        .await
        .map_err(place_error)?;
    Ok((StatusCode::CREATED, Json(detail(&state, call).await?)))
}

/// A placing failure as the API reports it: what is missing, named as its field.
pub(crate) fn place_error(e: PlaceError) -> ApiError {
    match e {
        PlaceError::NoCallerId => ApiError::field("from", e.to_string()),
        PlaceError::NoAgent => ApiError::field("agent_id", e.to_string()),
        PlaceError::NoNumber => ApiError::field("to", e.to_string()),
        // The database's guard: one live test call per campaign and number.
        PlaceError::Call(CallError::Store(StoreError::Conflict(m))) => {
            ApiError::new(ErrorCode::Conflict, m)
        }
        PlaceError::Call(inner) => ApiError::internal(inner),
    }
}

/// Hangs up a call in progress.
#[utoipa::path(post, path = "/api/v1/calls/{id}/hangup", tag = "calls", params(("id" = i64, Path)),
    responses((status = 202), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn hang_up(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let call = state.store.get_call(id).await.or_not_found("call")?;
    if call.status.is_final() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("the call is already {}", call.status),
        ));
    }
    state
        .engine
        .hang_up(
            &call,
            TerminationSource::Api,
            Some("hung up through the API"),
        )
        .await
        .map_err(|e| match e {
            CallError::NotPlaced(_) => ApiError::new(
                ErrorCode::Conflict,
                "the call has not reached the carrier yet",
            ),
            other => ApiError::internal(other),
        })?;
    Ok(StatusCode::ACCEPTED)
}

/// The call's recording (WAV). Supports `Range` requests, so players can seek.
#[utoipa::path(get, path = "/api/v1/calls/{id}/recording", tag = "calls", params(("id" = i64, Path)),
    responses((status = 200, description = "the whole file", content_type = "audio/wav"),
              (status = 206, description = "the requested `Range`", content_type = "audio/wav"),
              (status = 304, description = "not changed since `If-Modified-Since`"),
              (status = 404, description = "no such call, or it has no recording", body = crate::error::ErrorBody),
              (status = 416, description = "the `Range` is outside the file"),
              (status = 502, description = "the recording could not be fetched from Twilio", body = crate::error::ErrorBody)))]
pub async fn recording(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    request: Request,
) -> ApiResult<Response> {
    let path = state
        .engine
        .local_recording(id)
        .await
        .map_err(|e| match e {
            RecordingError::Call(CallError::Store(StoreError::NotFound)) => {
                ApiError::not_found("recording")
            }
            e => {
                tracing::warn!(call_id = id, error = %e, "fetching a recording failed");
                ApiError::new(
                    ErrorCode::Upstream,
                    "the recording could not be fetched from Twilio; try again",
                )
            }
        })?;
    // Files are stored as .wav, so the type follows from the name.
    let file = tower_http::services::ServeFile::new(path);
    let response = file.oneshot(request).await.map_err(ApiError::internal)?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::not_found("recording file"));
    }
    Ok(response.into_response())
}

pub(crate) async fn detail(state: &AppState, call: Call) -> ApiResult<CallDetail> {
    let id = call.id;
    let contact_ids: Vec<i64> = call.contact_id.into_iter().collect();
    let (events, transcript, recordings, tool_calls, results, quality, shown, mut names) = tokio::try_join!(
        state.store.call_events(id),
        state.store.transcript(id),
        state.store.recordings(id),
        state.store.tool_calls(id),
        state.store.call_results(id),
        state.store.call_quality(id),
        state.store.call_shown_inputs(id),
        state.store.contact_names(&contact_ids),
    )?;
    let contact_name = call.contact_id.and_then(|c| names.remove(&c));
    let transfer = match state.store.call_transfer_state(id).await? {
        Some(at) => parley_engine::calls::transfer::call_transfer(at, &events),
        None => None,
    };
    let options: CallOptions = serde_json::from_value(shown.overrides).unwrap_or_default();
    let recording = recordings
        .iter()
        .rev()
        .find(|r| r.status == "completed" && r.size_bytes.is_some())
        .map(|r| RecordingLink {
            url: format!("/api/v1/calls/{id}/recording"),
            content_type: r.content_type.clone(),
            channels: r.channels,
            duration_seconds: r.duration_seconds,
            size_bytes: r.size_bytes,
        });
    Ok(CallDetail {
        call,
        events,
        transcript,
        recording,
        recording_withheld_by: options.recording_withheld_by,
        recordings,
        contact_name,
        tool_calls,
        results,
        quality,
        dynamic_variables: shown.variables,
        agent_overrides: AgentOverrides {
            first_message: options.first_message,
            prompt: options.prompt.is_some(),
            language: options.language,
            voice_id: options.voice_id,
            from_contact: options.from_contact,
        },
        transfer,
    })
}

/// The filter of the calls list (and export) from its query parameters; the `result`
/// filters are read from the raw query, where they may repeat.
pub(crate) fn call_filter(
    campaign_id: Option<i64>,
    contact_id: Option<i64>,
    status: Option<CallStatus>,
    outcome: Option<CallOutcome>,
    test: Option<bool>,
    (from, to): (Option<&str>, Option<&str>),
    raw_query: Option<&str>,
) -> ApiResult<CallFilter> {
    Ok(CallFilter {
        campaign_id,
        contact_id,
        status,
        outcome,
        created_from: parse_time("from", from)?,
        created_to: parse_time("to", to)?,
        results: result_filters(raw_query)?,
        test,
    })
}

/// Calls, newest first. `result` filters by typed results: `result=interested:yes`
/// (see the parameter); repeated, every one must match.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls",
    params(CallQuery, ("result" = Option<Vec<String>>, Query, explode, description = "A typed result field at a value: `NAME:VALUE` (`interested:yes`), or `data_collection.NAME:VALUE` / `evaluation.NAME:VALUE` for one kind. The name is what comes before the first `:`; the value (everything after it) must equal the stored text exactly (`true`, `42`, `success`). Repeat for AND, up to 10.")),
    responses((status = 200, body = List<CallRow>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<CallQuery>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<List<CallRow>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let filter = call_filter(
        q.campaign_id,
        q.contact_id,
        q.status,
        q.outcome,
        q.test,
        (q.from.as_deref(), q.to.as_deref()),
        raw.as_deref(),
    )?;
    let calls = state.store.list_calls(&filter, page).await?;
    let contact_ids: Vec<i64> = calls.items.iter().filter_map(|c| c.contact_id).collect();
    let names = state.store.contact_names(&contact_ids).await?;
    let list: List<Call> = calls.into();
    Ok(Json(List {
        items: list
            .items
            .into_iter()
            .map(|call| CallRow {
                contact_name: call.contact_id.and_then(|c| names.get(&c).cloned()),
                call,
            })
            .collect(),
        next_cursor: list.next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", params(("id" = i64, Path)),
    responses((status = 200, body = CallDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CallDetail>> {
    let call = state.store.get_call(id).await.or_not_found("call")?;
    Ok(Json(detail(&state, call).await?))
}
