//! A campaign's A/B variants side by side: every rate per variant, and whether each
//! variant's success rate differs from the first variant's (the control) by more than
//! chance.
use super::analytics::{range, Totals};
use crate::error::extract::{Json, Query};
use crate::error::{ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use parley_domain::significance::{two_proportion_z_test, ZTest};
use parley_domain::time::from_millis;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VariantsQuery {
    /// The campaign whose variants to compare.
    pub campaign_id: i64,
    /// RFC 3339; default 7 days before `to`. Rounded down to the start of its UTC hour.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantPerformance {
    pub name: String,
    /// Its weight in the campaign's settings now; null for a variant its calls name
    /// that the settings no longer list.
    pub weight: Option<u32>,
    pub totals: Totals,
    /// Its success rate (`successful / conversations`) against the control's, by a
    /// two-proportion z-test; null for the control itself and when either has no
    /// conversations (or every one of both succeeded, or none did).
    pub success_vs_control: Option<ZTest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantsPerformance {
    pub campaign_id: i64,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// The first variant of the settings, which the others are tested against.
    pub control: Option<String>,
    /// The settings' variants in their order (with no calls yet: zeros), then any others
    /// the campaign's calls used, by name.
    pub items: Vec<VariantPerformance>,
}

/// A campaign's calls per variant, with a significance test of each success rate.
#[utoipa::path(get, path = "/api/v1/analytics/variants", tag = "analytics", params(VariantsQuery),
    responses((status = 200, body = VariantsPerformance), (status = 400, body = crate::error::ErrorBody),
              (status = 404, description = "no such campaign", body = crate::error::ErrorBody)))]
pub async fn variants(
    State(state): State<AppState>,
    Query(q): Query<VariantsQuery>,
) -> ApiResult<Json<VariantsPerformance>> {
    // Refuses a bad id or range, and answers 404 for no such campaign.
    let range = range(
        &state,
        q.from.as_deref(),
        q.to.as_deref(),
        Some(q.campaign_id),
    )
    .await?;
    let campaign = state
        .store
        .get_campaign(q.campaign_id)
        .await
        .or_not_found("campaign")?;
    let mut counted = state.store.variant_call_counts(&range).await?;
    let rate = state.settings.analytics.cost_per_minute_usd;
    let mut items: Vec<(String, Option<u32>, parley_store::CallCounts)> = Vec::new();
    for v in &campaign.settings.variants {
        let counts = counted
            .iter()
            .position(|c| c.variant == v.name)
            .map(|i| counted.swap_remove(i).counts)
            .unwrap_or_default();
        items.push((v.name.clone(), Some(v.weight), counts));
    }
    counted.sort_by(|a, b| a.variant.cmp(&b.variant));
    items.extend(counted.into_iter().map(|c| (c.variant, None, c.counts)));
    let control = items.first().map(|(name, _, c)| (name.clone(), *c));
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, (name, weight, counts))| VariantPerformance {
            success_vs_control: control.as_ref().filter(|_| i > 0).and_then(|(_, base)| {
                two_proportion_z_test(
                    (counts.successful, counts.conversations),
                    (base.successful, base.conversations),
                )
            }),
            name,
            weight,
            totals: Totals::new(&counts, rate),
        })
        .collect();
    Ok(Json(VariantsPerformance {
        campaign_id: q.campaign_id,
        from: from_millis(range.from),
        to: from_millis(range.to),
        control: control.map(|(name, _)| name),
        items,
    }))
}
