//! Contacts: create, read, update, delete, list, tags.
use super::{parse_time, some, List, PageParams};
use crate::auth::Principal;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use parley_domain::contact::{
    clean, normalize_tag, validate_fields, Contact, ContactFields, CustomFields, NewContact,
};
use parley_domain::phone::Region;
use parley_domain::{FieldErrors, Phone};
use parley_store::{ContactFilter, ContactUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    /// Any common format; stored as E.164 (numbers without a country code are read in
    /// the configured default region).
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    /// IANA zone such as `America/Chicago`; derived from the number when absent.
    pub timezone: Option<String>,
    #[serde(default)]
    pub custom_fields: CustomFields,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Fields left out stay as they are; `null` clears a field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    pub custom_fields: Option<CustomFields>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Text contained in name, phone, email or company (case-insensitive).
    pub q: Option<String>,
    /// Only contacts enrolled in this campaign.
    pub campaign_id: Option<i64>,
    /// Created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub created_from: Option<String>,
    /// Created before this RFC 3339 time.
    #[param(format = DateTime)]
    pub created_to: Option<String>,
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TagCount {
    pub name: String,
    pub contacts: i64,
}

pub(crate) fn region(state: &AppState) -> ApiResult<Region> {
    Region::parse(&state.settings.import.default_region)
        .map_err(|e| ApiError::internal(format!("import.default_region: {e}")))
}

pub(crate) fn parse_phone(raw: &str, region: Region, errors: &mut FieldErrors) -> Option<Phone> {
    match Phone::parse(raw, region) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.add("phone", e.to_string());
            None
        }
    }
}

fn clean_tags(tags: &[String], errors: &mut FieldErrors) -> Vec<String> {
    let mut out = Vec::new();
    for t in tags {
        match normalize_tag(t) {
            Ok(t) if !out.contains(&t) => out.push(t),
            Ok(_) => {}
            Err(m) => errors.add("tags", m),
        }
    }
    out
}

fn clean_patch(v: Option<Option<String>>) -> Option<Option<String>> {
    v.map(|inner| clean(inner.as_deref()))
}

/// Creates a contact.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = CreateContact,
    responses((status = 201, body = Contact), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<CreateContact>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    let mut errors = FieldErrors::new();
    let phone = parse_phone(&body.phone, region(&state)?, &mut errors);
    let fields = ContactFields {
        first_name: clean(body.first_name.as_deref()),
        last_name: clean(body.last_name.as_deref()),
        email: clean(body.email.as_deref()),
        company: clean(body.company.as_deref()),
        timezone: clean(body.timezone.as_deref()),
        custom_fields: body.custom_fields,
        tags: clean_tags(&body.tags, &mut errors),
    };
    validate_fields(&fields, &mut errors);
    let (Some(phone), true) = (phone, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    // The contact and its audit row are one change (the number stays out of the log).
    let mut tx = state.store.begin().await?;
    let contact = tx.create_contact(&NewContact { phone, fields }).await?;
    tx.audit(
        &principal.actor,
        "contact.created",
        "contact",
        Some(&contact.id.to_string()),
        &serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// The filter of the contacts list (and export) from its query parameters.
pub(crate) fn contact_filter(
    tag: Option<String>,
    q: Option<String>,
    campaign_id: Option<i64>,
    created_from: Option<&str>,
    created_to: Option<&str>,
) -> ApiResult<ContactFilter> {
    Ok(ContactFilter {
        tag,
        q,
        campaign_id,
        created_from: parse_time("created_from", created_from)?,
        created_to: parse_time("created_to", created_to)?,
    })
}

/// Lists contacts, newest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = List<Contact>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ContactQuery>,
) -> ApiResult<Json<List<Contact>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let filter = contact_filter(
        q.tag,
        q.q,
        q.campaign_id,
        q.created_from.as_deref(),
        q.created_to.as_deref(),
    )?;
    Ok(Json(state.store.list_contacts(&filter, page).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path)), responses((status = 200, body = Contact), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Contact>> {
    Ok(Json(
        state.store.get_contact(id).await.or_not_found("contact")?,
    ))
}

/// Changes some fields of a contact.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", request_body = UpdateContact,
    params(("id" = i64, Path)),
    responses((status = 200, body = Contact), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<UpdateContact>,
) -> ApiResult<Json<Contact>> {
    let mut errors = FieldErrors::new();
    let phone = body
        .phone
        .as_deref()
        .and_then(|p| parse_phone(p, region(&state).ok()?, &mut errors));
    let update = ContactUpdate {
        phone,
        first_name: clean_patch(body.first_name),
        last_name: clean_patch(body.last_name),
        email: clean_patch(body.email),
        company: clean_patch(body.company),
        timezone: clean_patch(body.timezone),
        custom_fields: body.custom_fields,
        tags: body.tags.as_deref().map(|t| clean_tags(t, &mut errors)),
    };
    // Validate the fields being set, with the same rules as on create.
    let probe = ContactFields {
        email: update.email.clone().flatten(),
        timezone: update.timezone.clone().flatten(),
        first_name: update.first_name.clone().flatten(),
        last_name: update.last_name.clone().flatten(),
        company: update.company.clone().flatten(),
        ..Default::default()
    };
    validate_fields(&probe, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let changed = update.field_names();
    let mut tx = state.store.begin().await?;
    let contact = tx
        .update_contact(id, update)
        .await
        .or_not_found("contact")?;
    tx.audit(
        &principal.actor,
        "contact.updated",
        "contact",
        Some(&id.to_string()),
        &serde_json::json!({ "fields": changed }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(contact))
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.begin().await?;
    tx.delete_contact(id).await.or_not_found("contact")?;
    tx.audit(
        &principal.actor,
        "contact.deleted",
        "contact",
        Some(&id.to_string()),
        &serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every tag with its number of contacts.
#[utoipa::path(get, path = "/api/v1/tags", tag = "contacts", responses((status = 200, body = Vec<TagCount>)))]
pub async fn tags(State(state): State<AppState>) -> ApiResult<Json<Vec<TagCount>>> {
    let tags = state.store.list_tags().await?;
    Ok(Json(
        tags.into_iter()
            .map(|(name, contacts)| TagCount { name, contacts })
            .collect(),
    ))
}
