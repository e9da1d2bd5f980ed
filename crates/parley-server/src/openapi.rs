//! The OpenAPI 3.1 document, generated from the handlers, and the browsable docs page.
use crate::api::{
    admin, analytics, calls, campaigns, contacts, dnc, events, imports, status, webhooks, List,
};
use crate::auth::routes as auth;
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley API", description = "Outbound AI voice-call campaigns. \
        Authenticate with `Authorization: Bearer <api key>` or the dashboard's session cookie \
        (plus `X-CSRF-Token` on writes). Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        auth::sign_in, auth::sign_out, auth::me, status::status,
        contacts::create, contacts::list, contacts::get, contacts::update, contacts::delete,
        contacts::tags, imports::import_csv, imports::get, imports::errors,
        campaigns::create, campaigns::list, campaigns::get, campaigns::update, campaigns::delete,
        campaigns::start, campaigns::pause, campaigns::resume, campaigns::stop,
        campaigns::add_contacts, campaigns::remove_contacts, campaigns::contacts,
        calls::list, calls::get, calls::place, calls::hang_up, calls::recording,
        dnc::list, dnc::add, dnc::remove, dnc::check,
        admin::list_users, admin::create_user, admin::list_api_keys, admin::create_api_key,
        admin::revoke_api_key,
        analytics::summary, analytics::timeline, analytics::hour_of_day, analytics::campaigns,
        events::events,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::delivery, webhooks::replay,
    ),
    components(schemas(
        crate::error::ErrorBody,
        List<parley_domain::contact::Contact>,
        List<parley_domain::campaign::Campaign>,
        List<parley_domain::campaign::CampaignContact>,
        List<parley_domain::call::Call>,
        List<dnc::DncEntry>,
        events::LiveMessage,
        List<webhooks::Webhook>,
        List<webhooks::Delivery>,
    )),
    modifiers(&Security),
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

/// `GET /api/v1/openapi.json`, behind authentication like every `/api` route.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Swagger UI at `/docs`, served from files bundled in the binary; it loads the document
/// with the browser's session.
pub fn docs_page<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let config = utoipa_swagger_ui::Config::from("/api/v1/openapi.json");
    axum::Router::from(utoipa_swagger_ui::SwaggerUi::new("/docs").config(config))
}
