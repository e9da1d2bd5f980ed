//! `POST /campaigns/{id}/test-call`: "Call me". One call with the campaign's agent and
//! settings to the operator's number, placed on the single-call path and kept out of
//! the campaign's results (see `parley_engine::calls::test_call`).
use super::calls::{check_dynamic_variables, detail, place_error, CallDetail};
use super::contacts::region;
use crate::auth::Principal;
use crate::error::extract::{Json, Path};
use crate::error::{ApiError, ApiResult, ErrorCode, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use parley_domain::{FieldErrors, Phone};
use parley_engine::calls::test_call::TestCall;
use parley_store::{CallFilter, PageRequest};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Typed variables a test may give, at most.
const MAX_VARIABLES: usize = 50;
/// Characters in a typed variable's name, and in its text, at most.
const MAX_NAME_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 2_000;
/// The campaign's latest test calls looked at for one already ringing the same number.
const LIVE_TESTS_READ: u32 = 20;

/// Who to call for a test, and with which variables.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCallRequest {
    /// Your number, E.164 (`+15005550006`; a national number is read in the
    /// `import.default_region`). Checked against the do-not-call lists.
    pub to: String,
    /// A contact whose fields fill the campaign's `dynamic_variables` mapping, as if the
    /// campaign called them; the contact is not called and its progress is not touched.
    pub contact_id: Option<i64>,
    /// Variables typed for the test (strings, numbers or booleans), over the contact's;
    /// up to 50.
    #[serde(default)]
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub variables: Map<String, Value>,
}

fn check_variables(variables: &Map<String, Value>, errors: &mut FieldErrors) {
    if variables.len() > MAX_VARIABLES {
        errors.add("variables", format!("at most {MAX_VARIABLES} variables"));
        return;
    }
    check_dynamic_variables(variables, "variables", errors);
    for (name, value) in variables {
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
            errors.add(
                "variables",
                format!("a name must have 1 to {MAX_NAME_CHARS} characters"),
            );
        } else if value
            .as_str()
            .is_some_and(|s| s.chars().count() > MAX_VALUE_CHARS)
        {
            errors.add(
                format!("variables.{name}"),
                format!("at most {MAX_VALUE_CHARS} characters"),
            );
        }
    }
}

/// Places a test call of the campaign, in any state (a draft can be tried before it
/// starts, a finished one checked afterwards), and answers with the call (201): follow
/// it on `/api/v1/events` (its `call_id`) or `GET /api/v1/calls/{id}`. The call has
/// `test: true`: the campaign's progress, analytics, results, compliance report and
/// exports (unless `include_test`) leave it out, and what it ends with (a callback, an
/// opt-out, a retry) touches no contact's progress or the do-not-call list.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/test-call", tag = "campaigns",
    params(("id" = i64, Path)), request_body = TestCallRequest,
    responses((status = 201, body = CallDetail),
              (status = 403, description = "viewers cannot place calls", body = crate::error::ErrorBody),
              (status = 404, description = "no such campaign or contact", body = crate::error::ErrorBody),
              (status = 409, description = "the number is on a do-not-call list (the global one or the campaign's), or a test call to it is still in progress", body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn test_call(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<TestCallRequest>,
) -> ApiResult<(StatusCode, Json<CallDetail>)> {
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let mut errors = FieldErrors::new();
    let to = match Phone::parse(&body.to, region(&state)?) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.add("to", e.to_string());
            None
        }
    };
    check_variables(&body.variables, &mut errors);
    let Some(to) = to.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let contact = match body.contact_id {
        Some(cid) => Some(state.store.get_contact(cid).await.or_not_found("contact")?),
        None => None,
    };
    if state.store.check_dnc(&to, Some(id)).await?.blocked() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this number is on a do-not-call list",
        ));
    }
    // A second click while the phone rings is the same test, not another call: said here
    // with the call's id; two requests that race are held by the database's guard
    // (migration 0023), answered 409 all the same.
    let recent = CallFilter {
        campaign_id: Some(id),
        test: Some(true),
        ..CallFilter::default()
    };
    let page = state
        .store
        .list_calls(&recent, PageRequest::first(LIVE_TESTS_READ))
        .await?;
    if let Some(live) = page
        .items
        .iter()
        .find(|c| c.to == to.as_str() && !c.status.is_final())
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "a test call to this number is in progress (call {})",
                live.id
            ),
        ));
    }
    let test = TestCall {
        to,
        contact,
        variables: body.variables,
        actor: principal.actor.clone(),
    };
    let call = state
        .engine
        .test_call(&campaign, test)
        .await
        .map_err(place_error)?;
    Ok((StatusCode::CREATED, Json(detail(&state, call).await?)))
}
