//! The OpenAPI 3.1 document, generated from the handlers, and the browsable docs page.
use crate::api::{
    account, admin, analytics, audit, calls, campaigns, compliance, consent, contacts, dnc, events,
    exports, history, imports, results, sheet_writes, spreadsheets, status, test_call, webhooks,
    List,
};
use crate::auth::routes as auth;
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

mod labels;
mod responses;
use labels::Labels;
use responses::ErrorResponses;

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley API", description = "Outbound AI voice-call campaigns. \
        Authenticate with `Authorization: Bearer <api key>` or the dashboard's session cookie \
        (plus `X-CSRF-Token` on writes). Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        auth::sign_in, auth::sign_out, auth::me, crate::auth::password::change_password, status::status,
        contacts::create, contacts::list, contacts::get, contacts::update, contacts::delete,
        contacts::tags, consent::history, consent::record, consent::export_history, history::history, imports::import_csv, spreadsheets::import_sheets, imports::get, imports::errors,
        campaigns::defaults, campaigns::create, campaigns::list, campaigns::get, campaigns::update, campaigns::delete,
        campaigns::start, campaigns::pause, campaigns::resume, campaigns::stop, test_call::test_call,
        campaigns::add_contacts, campaigns::remove_contacts, campaigns::contacts,
        campaigns::activity, compliance::report, compliance::export_report, account::agents, account::phone_numbers, account::doctor,
        results::campaign_results, sheet_writes::status, sheet_writes::retry,
        calls::list, calls::get, calls::place, calls::hang_up, calls::recording,
        exports::calls, exports::contacts,
        dnc::list, dnc::add, dnc::remove, dnc::check,
        admin::list_users, admin::create_user, admin::update_user, admin::list_api_keys, admin::create_api_key,
        admin::revoke_api_key, audit::list,
        analytics::summary, analytics::timeline, analytics::hour_of_day, analytics::campaigns,
        crate::api::variant_analytics::variants,
        events::events,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::delivery, webhooks::replay,
    ),
    components(schemas(
        crate::error::ErrorBody,
        parley_engine::exports::Format,
        List<parley_domain::contact::Contact>,
        List<parley_domain::consent::ConsentRecord>,
        List<parley_domain::campaign::Campaign>,
        List<parley_domain::campaign::CampaignContact>,
        List<audit::AuditRecord>,
        List<calls::CallRow>,
        List<dnc::DncEntry>,
        events::LiveMessage,
        List<webhooks::Webhook>,
        List<webhooks::Delivery>,
    )),
    modifiers(&Security, &UniqueOperationIds, &ErrorResponses, &Labels),
    security(("api_key" = []), ("session" = [])),
    tags(
        (name = "contacts", description = "People to call, their tags, CSV import"),
        (name = "campaigns", description = "Campaign settings, state changes and enrolled contacts"),
        (name = "calls", description = "Calls and what was recorded about them"),
        (name = "dnc", description = "Do-not-call lists"),
        (name = "auth", description = "Signing in and out"),
        (name = "admin", description = "Users and API keys (admin only)"),
        (name = "webhooks", description = "Outbound webhooks to CRMs: subscriptions, deliveries, replays (admin only)"),
        (name = "system", description = "What this Parley is running as"),
        (name = "analytics", description = "Call counts, rates and cost over time, from counters kept as calls change"),
        (name = "events", description = "Live events over a WebSocket"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Handlers in different modules share names (`list`, `get`), and utoipa uses the name as
/// the operation id; ids must be unique (client generators key on them), so each is
/// prefixed with its tag (`campaigns_list`), or where two of a tag still clash, with its
/// path's first segment (`imports_get`).
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut taken = std::collections::HashSet::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let segment = path
                .trim_start_matches("/api/v1/")
                .split('/')
                .next()
                .unwrap_or_default()
                .replace('-', "_");
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let tag = operation.tags.as_ref().and_then(|t| t.first()).cloned();
                if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
                    let by_tag = format!("{tag}_{id}");
                    *id = if taken.contains(&by_tag) {
                        format!("{segment}_{id}")
                    } else {
                        by_tag
                    };
                    taken.insert(id.clone());
                }
            }
        }
    }
}

/// `GET /api/v1/openapi.json`, behind authentication like every `/api` route.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

pub fn pretty_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

/// Swagger UI at `/docs`, served from files bundled in the binary; it loads the document
/// with the browser's session.
pub fn docs_page<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let config = utoipa_swagger_ui::Config::from("/api/v1/openapi.json");
    axum::Router::from(utoipa_swagger_ui::SwaggerUi::new("/docs").config(config))
}

#[cfg(test)]
mod tests {
    /// The dashboard's TypeScript API types are generated from `web/openapi.json`; this
    /// keeps that copy equal to what the server serves, so the types cannot drift.
    #[test]
    fn operation_ids_are_unique() {
        let doc: serde_json::Value = serde_json::from_str(&super::pretty_json()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                if let Some(id) = operation["operationId"].as_str() {
                    assert!(seen.insert(id.to_string()), "duplicate operation id {id}");
                }
            }
        }
        assert!(seen.len() > 10);
    }

    /// Every operation that takes input can answer 400 and 422, one with a body 413, and
    /// every one 401; each error answer is the JSON error body.
    #[test]
    fn operations_document_their_error_answers() {
        let doc: serde_json::Value = serde_json::from_str(&super::pretty_json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let has = |status: &str| responses.contains_key(status);
                let params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
                let body = op.get("requestBody").is_some();
                let name = format!("{method} {path}");
                if params || body {
                    assert!(has("400") && has("422"), "{name}");
                }
                assert_eq!(has("413"), body, "{name}");
                // Sign-in needs no credentials, but answers 401 to wrong ones.
                assert!(has("401"), "{name}");
                for (status, response) in responses {
                    // (A refused `Range` on a recording is the one bodiless error.)
                    if status.starts_with(['4', '5']) && status != "416" {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{name} {status}"
                        );
                        assert_ne!(response["description"], "", "{name} {status}");
                    }
                }
            }
        }
        let description = doc["info"]["description"].as_str().unwrap();
        assert!(description.contains("**422**"), "{description}");
    }

    /// Each worded enum carries its words, one per value of the schema.
    #[test]
    fn enums_carry_the_domain_words() {
        let doc: serde_json::Value = serde_json::from_str(&super::pretty_json()).unwrap();
        for (name, values) in parley_domain::vocabulary::labels() {
            let schema = &doc["components"]["schemas"][name];
            let wire: Vec<_> = schema["enum"].as_array().expect(name).iter().collect();
            assert_eq!(wire.len(), values.len(), "{name}");
            for (value, label) in values {
                assert_eq!(schema["x-labels"][&value], label, "{name} {value}");
            }
        }
        let standing = &doc["components"]["schemas"]["ContactStanding"]["x-labels"];
        assert_eq!(standing["voicemail"], "Not reached: voicemail");
    }

    #[test]
    fn web_copy_of_the_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::pretty_json(),
            "web/openapi.json differs from the server's OpenAPI document; regenerate it with \
             `cargo run -p parley -- openapi > web/openapi.json`"
        );
    }
}
