//! Structured results: a campaign's counts per field, and the `result` filter of the
//! calls list and export.
use crate::error::extract::Path;
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use parley_domain::call_result::{ResultFilter, ResultSummary, MAX_FILTERS};
use serde::Serialize;
use utoipa::ToSchema;

/// Every field found in the campaign's calls' analyses.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignResults {
    /// By kind (data collection first), then name.
    pub fields: Vec<ResultSummary>,
}

/// The `result` filters of a raw query string (`result=a:b&result=c:d`): each must
/// parse (else 400), within the length rules and at most [`MAX_FILTERS`] of them (else
/// 422). Other parameters are the typed query's.
pub fn result_filters(raw_query: Option<&str>) -> ApiResult<Vec<ResultFilter>> {
    let mut filters = Vec::new();
    for (key, value) in form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes()) {
        if key != "result" {
            continue;
        }
        if filters.len() == MAX_FILTERS {
            return Err(ApiError::field(
                "result",
                format!("at most {MAX_FILTERS} result filters"),
            ));
        }
        let filter = ResultFilter::parse(&value).map_err(|e| match e.is_malformed() {
            true => ApiError::bad_request(format!("result {e}")),
            false => ApiError::field("result", e.to_string()),
        })?;
        filters.push(filter);
    }
    Ok(filters)
}

/// The campaign's calls' data-collection values and evaluation verdicts, counted per
/// field: how many calls have each field, the 10 most frequent values with their counts,
/// and the rest together as `other` (how many distinct values, how many calls). At most
/// 200 fields.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/results", tag = "campaigns",
    params(("id" = i64, Path)),
    responses((status = 200, body = CampaignResults), (status = 404, body = crate::error::ErrorBody)))]
pub async fn campaign_results(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CampaignResults>> {
    state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let fields = state.store.campaign_results(id).await?;
    Ok(Json(CampaignResults { fields }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_filters_are_read_from_every_repeated_parameter() {
        let f = result_filters(Some("limit=5&result=interested%3Ayes&result=seats:2")).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].name.as_str(), f[0].value.as_str()),
            ("interested", "yes")
        );
        assert_eq!(f[1].value, "2");
        assert!(result_filters(None).unwrap().is_empty());
        assert!(result_filters(Some("result=nocolon")).is_err());
        let many = ["result=a:b"; MAX_FILTERS + 1].join("&");
        assert!(result_filters(Some(&many)).is_err());
    }
}
