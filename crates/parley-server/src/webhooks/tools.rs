//! ElevenLabs server (webhook) tools: `POST /tools/{name}` with the tool's parameters as a
//! JSON object and `Authorization: Bearer <tools.secrets.name>`. The call the tool acts on
//! comes as `call_id`, filled by ElevenLabs from the dynamic variable Parley passes at
//! conversation start. Answers `{"result": ...}`; a tool that ran but failed answers 200
//! with `"is_error": true` so the agent still hears the sentence.
use crate::auth::bearer_token;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use parley_domain::tool::ToolVia;
use parley_engine::secrets::constant_time_eq;
use parley_engine::tools::{ToolError, CALL_ID_VARIABLE};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

pub async fn call(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if state.engine.tools.get(&name).is_none() {
        return Err(ApiError::new(ErrorCode::NotFound, "no such tool"));
    }
    let secret = state.settings.tools.secrets.get(&name);
    let authorized = match (secret, bearer_token(&headers)) {
        (Some(secret), Some(given)) => constant_time_eq(secret.expose_secret(), given),
        _ => false,
    };
    if !authorized {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("send the tool's secret as `Authorization: Bearer <tools.secrets.{name}>`"),
        ));
    }
    let Ok(Value::Object(mut parameters)) = serde_json::from_slice::<Value>(&body) else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object of parameters",
        ));
    };
    let call_id = read_call_id(parameters.remove(CALL_ID_VARIABLE))?;
    let engine = &state.engine;
    let answer = async {
        let ctx = engine.tool_context(call_id).await?;
        engine
            .run_tool(&name, ctx, Value::Object(parameters), ToolVia::Server)
            .await
    };
    match answer.await {
        Ok(result) => Ok(Json(json!({ "result": result }))),
        Err(ToolError::InvalidParameter { field, message }) => Err(invalid(field, &message)),
        Err(ToolError::Failed(message)) => Ok(Json(json!({ "result": message, "is_error": true }))),
    }
}

/// The call id, as the string a dynamic variable is or a JSON number.
fn read_call_id(value: Option<Value>) -> Result<Option<i64>, ApiError> {
    let bad = || invalid(CALL_ID_VARIABLE, "must be a Parley call id");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::bad_request(format!("{field}: {message}")).with_details(json!({ "field": field }))
}
