//! The error answers every operation can give, added to the document in one place rather
//! than repeated on each handler: 400/422 where the operation takes input, 413 where it
//! takes a body, 401 where it needs credentials, and 403 where a role or the CSRF check
//! applies. Handlers still list their own (404, 409, ...), often with a description.
use crate::error::STATUS_RULE;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::Modify;

/// Tags whose every operation needs the admin role (see the router's `require_admin`).
const ADMIN_TAGS: [&str; 2] = ["admin", "webhooks"];

pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let description = openapi.info.description.get_or_insert_with(String::new);
        description.push_str("\n\n");
        description.push_str(STATUS_RULE);
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (true, &mut item.get),
                (false, &mut item.put),
                (false, &mut item.post),
                (false, &mut item.delete),
                (false, &mut item.patch),
            ];
            for (read, operation) in operations {
                if let Some(operation) = operation {
                    add_error_responses(read, operation);
                }
            }
        }
    }
}

/// `read`: a GET, which the operator-for-writes and CSRF checks let through.
fn add_error_responses(read: bool, operation: &mut Operation) {
    let takes_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
        || operation.request_body.is_some();
    let authenticated = !operation
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
    let admin_only = operation
        .tags
        .iter()
        .flatten()
        .any(|t| ADMIN_TAGS.contains(&t.as_str()));
    let mut wanted = Vec::new();
    if takes_input {
        wanted.extend(["400", "422"]);
    }
    if operation.request_body.is_some() {
        wanted.push("413");
    }
    if authenticated {
        wanted.push("401");
        if admin_only || !read {
            wanted.push("403");
        }
    }
    let responses = &mut operation.responses.responses;
    for status in wanted {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(error_response(default_description(status))));
    }
    // Error answers listed by a handler without words get the general ones.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response {
            if response.description.is_empty() && status.starts_with(['4', '5']) {
                response.description = default_description(status).to_string();
            }
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn default_description(status: &str) -> &'static str {
    match status {
        "400" => "The request could not be read (a malformed body or parameter; see the rule in the API description)",
        "401" => "No credentials, or an API key or session that is no longer valid",
        "403" => "The role does not allow this (writes need operator, admin endpoints admin), or a session cookie came without its `X-CSRF-Token`",
        "404" => "Not found",
        "409" => "Conflicts with the current state",
        "413" => "The request body is larger than this server accepts",
        "422" => "A value breaks a rule; `details.fields` names the fields",
        "429" => "Too many requests; try again after `Retry-After` seconds",
        "502" => "A service Parley called failed",
        "503" => "This server is at a capacity limit; try again shortly",
        _ => "An error",
    }
}
