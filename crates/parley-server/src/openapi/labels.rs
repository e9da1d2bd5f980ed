//! The domain's words for its enums, written into the document as each enum schema's
//! `x-labels` (`{wire value: words}`), so API clients and the dashboard (a vitest compares
//! its tables to these) read the same words the README's glossary lists.
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::{RefOr, Schema};
use utoipa::Modify;

pub struct Labels;

impl Modify for Labels {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (name, values) in parley_domain::vocabulary::labels() {
            let Some(RefOr::T(Schema::Object(schema))) = components.schemas.get_mut(name) else {
                continue; // a test checks that each is there
            };
            let words: serde_json::Map<_, _> = values
                .into_iter()
                .map(|(wire, label)| (wire, label.into()))
                .collect();
            schema
                .extensions
                .get_or_insert_with(Extensions::default)
                .merge(Extensions::from_iter([("x-labels", words)]));
        }
    }
}
