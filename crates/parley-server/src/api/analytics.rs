//! Call analytics for the dashboard: totals and a funnel, calls per hour, by hour of day,
//! and per campaign. Read from hourly counters the database keeps as calls change, so
//! every answer costs the same at any call volume.
use super::parse_time;
use crate::error::extract::{Json, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use chrono::{DateTime, Timelike, Utc};
use parley_domain::campaign::CampaignState;
use parley_domain::time::{from_millis, now_millis};
use parley_store::{CallCounts, StatsRange};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const DAY_MS: i64 = 86_400_000;
/// When `from` is not given: this long before `to`.
const DEFAULT_SPAN_MS: i64 = 7 * DAY_MS;

/// Which calls: created in `[from, to)`, counted by the UTC hour they were created in.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// RFC 3339; default 7 days before `to`. Rounded down to the start of its UTC hour.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Only this campaign's calls; default every call.
    pub campaign_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HourOfDayQuery {
    /// RFC 3339; default 7 days before `to`. Rounded down to the start of its UTC hour.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Only this campaign's calls; default every call.
    pub campaign_id: Option<i64>,
    /// IANA time zone whose clock the hours are read on, e.g. `America/New_York`;
    /// default `UTC`.
    pub tz: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignsQuery {
    /// RFC 3339; default 7 days before `to`. Rounded down to the start of its UTC hour.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339, exclusive; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// What happened to a set of calls. Every call is counted once, in the UTC hour it was
/// created (dialed) in, whatever order its callbacks arrived in.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Totals {
    /// Calls created (dialed, or about to be).
    pub dialed: i64,
    /// Calls answered: they reached `in-progress` or `completed`.
    pub answered: i64,
    /// Answered by a person, according to answering-machine detection (`answered_by` =
    /// `human`).
    pub human: i64,
    /// Answered by a machine (`answered_by` = `machine_*` or `fax`).
    pub machine: i64,
    /// The agent talked with a person: outcome `success`, `unsuccessful`, `conversation`
    /// or `opted_out`.
    pub conversations: i64,
    /// Outcome `success`.
    pub successful: i64,
    /// Outcome `failed`.
    pub failed: i64,
    /// Outcome `no_answer`.
    pub no_answer: i64,
    /// Outcome `busy`.
    pub busy: i64,
    /// Outcome `voicemail`.
    pub voicemail: i64,
    pub total_duration_seconds: i64,
    /// `total_duration_seconds / answered`; null without answered calls.
    pub average_duration_seconds: Option<f64>,
    /// `answered / dialed`; null without calls.
    pub answer_rate: Option<f64>,
    /// `human / answered`; null without answered calls.
    pub human_rate: Option<f64>,
    /// `successful / conversations`; null without conversations.
    pub success_rate: Option<f64>,
    /// Each call's duration rounded up to whole minutes, summed (how carriers bill).
    pub billed_minutes: i64,
    /// An estimate: `billed_minutes` times the setting `analytics.cost_per_minute_usd`
    /// (default 0.014). Carrier prices are not fetched.
    pub cost_usd: f64,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Totals {
    pub fn new(c: &CallCounts, cost_per_minute_usd: f64) -> Totals {
        // Rounded to a hundredth of a cent so float noise does not show.
        let cost = (c.billed_minutes as f64 * cost_per_minute_usd * 10_000.0).round() / 10_000.0;
        Totals {
            dialed: c.dialed,
            answered: c.answered,
            human: c.human,
            machine: c.machine,
            conversations: c.conversations,
            successful: c.successful,
            failed: c.failed,
            no_answer: c.no_answer,
            busy: c.busy,
            voicemail: c.voicemail,
            total_duration_seconds: c.duration_seconds,
            average_duration_seconds: ratio(c.duration_seconds, c.answered),
            answer_rate: ratio(c.answered, c.dialed),
            human_rate: ratio(c.human, c.answered),
            success_rate: ratio(c.successful, c.conversations),
            billed_minutes: c.billed_minutes,
            cost_usd: cost,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunnelStage {
    Dialed,
    Answered,
    Human,
    Conversation,
    Successful,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelStep {
    pub stage: FunnelStage,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Calls not over right now (queued, initiated, ringing or in progress), whatever
    /// `from` and `to` say.
    pub calls_in_progress: i64,
    /// The account's concurrent calls (every campaign and node, the dialer's count)
    /// against `dialer.max_concurrent_calls`, right now.
    pub capacity: parley_domain::activity::AccountCapacity,
    pub totals: Totals,
    /// `dialed`, `answered`, `human`, `conversation`, `successful`, in this order.
    pub funnel: Vec<FunnelStep>,
    /// Warm transfers of the calls in the range.
    pub transfers: Transfers,
}

/// Warm transfers (`transfer_to_human`) of a set of calls.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Transfers {
    /// Calls the agent transferred to a person.
    pub attempted: i64,
    /// Of those, calls a person answered (heard the whisper) and was connected to.
    pub connected: i64,
    /// `connected / attempted`; null without transfers.
    pub connect_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineHour {
    /// Start of the UTC hour.
    pub hour: DateTime<Utc>,
    pub dialed: i64,
    pub answered: i64,
    pub successful: i64,
}

/// Calls per UTC hour, oldest first; hours without calls are left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub items: Vec<TimelineHour>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct HourOfDay {
    /// 0-23 on the clock of `tz`.
    pub hour: u32,
    pub dialed: i64,
    pub answered: i64,
    pub successful: i64,
}

/// Calls by the hour of day they were created in, on the clock of `tz`: always 24 items,
/// hour 0 first. Counts are kept per UTC hour, so in zones offset by a fraction of an hour
/// each UTC hour counts toward the local hour it starts in.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursOfDay {
    pub items: Vec<HourOfDay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPerformance {
    pub campaign_id: i64,
    pub name: String,
    pub state: CampaignState,
    pub totals: Totals,
    /// Over the last 30 days whatever the range (the abandonment rule's window): the
    /// abandonment rate and the calls with a slow first audio or a slow relay.
    pub quality: parley_domain::quality::CampaignQuality,
}

/// Every campaign, newest first, with its calls in the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignsPerformance {
    pub items: Vec<CampaignPerformance>,
}

/// Checks the query and resolves its defaults.
pub(crate) async fn range(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
    campaign_id: Option<i64>,
) -> ApiResult<StatsRange> {
    let to = parse_time("to", to)?.unwrap_or_else(now_millis);
    let from = parse_time("from", from)?.unwrap_or(to - DEFAULT_SPAN_MS);
    if from >= to {
        return Err(ApiError::field("from", "must be before `to`"));
    }
    if let Some(id) = campaign_id {
        if id < 1 {
            return Err(ApiError::field("campaign_id", "must be a campaign's id"));
        }
        state
            .store
            .get_campaign(id)
            .await
            .or_not_found("campaign")?;
    }
    Ok(StatsRange {
        from,
        to,
        campaign_id,
    })
}

fn cost_per_minute(state: &AppState) -> f64 {
    state.settings.analytics.cost_per_minute_usd
}

/// Totals of calls created today (since 00:00 UTC), for live dashboards.
pub async fn today(state: &AppState, campaign_id: Option<i64>) -> ApiResult<Totals> {
    let now = now_millis();
    let counts = state
        .store
        .call_counts(&StatsRange {
            from: now - now.rem_euclid(DAY_MS),
            to: now + 1,
            campaign_id,
        })
        .await?;
    Ok(Totals::new(&counts, cost_per_minute(state)))
}

/// Totals, the conversion funnel and the calls in progress now.
#[utoipa::path(get, path = "/api/v1/analytics/summary", tag = "analytics", params(RangeQuery),
    responses((status = 200, body = Summary), (status = 400, body = crate::error::ErrorBody),
              (status = 404, description = "no such campaign", body = crate::error::ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<Summary>> {
    let range = range(&state, q.from.as_deref(), q.to.as_deref(), q.campaign_id).await?;
    let (counts, calls_in_progress, load, transfers) = tokio::try_join!(
        state.store.call_counts(&range),
        state.store.calls_in_progress(range.campaign_id),
        state.store.account_load(),
        state.store.transfer_counts(&range),
    )?;
    let capacity = parley_domain::activity::AccountCapacity {
        in_use: load.total(),
        limit: i64::from(state.settings.dialer.max_concurrent_calls),
    };
    let funnel = [
        (FunnelStage::Dialed, counts.dialed),
        (FunnelStage::Answered, counts.answered),
        (FunnelStage::Human, counts.human),
        (FunnelStage::Conversation, counts.conversations),
        (FunnelStage::Successful, counts.successful),
    ]
    .into_iter()
    .map(|(stage, count)| FunnelStep { stage, count })
    .collect();
    Ok(Json(Summary {
        from: from_millis(range.from),
        to: from_millis(range.to),
        calls_in_progress,
        capacity,
        totals: Totals::new(&counts, cost_per_minute(&state)),
        funnel,
        transfers: Transfers {
            attempted: transfers.attempted,
            connected: transfers.connected,
            connect_rate: ratio(transfers.connected, transfers.attempted),
        },
    }))
}

/// Calls per UTC hour.
#[utoipa::path(get, path = "/api/v1/analytics/timeline", tag = "analytics", params(RangeQuery),
    responses((status = 200, body = Timeline), (status = 400, body = crate::error::ErrorBody),
              (status = 404, description = "no such campaign", body = crate::error::ErrorBody)))]
pub async fn timeline(
    State(state): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<Timeline>> {
    let range = range(&state, q.from.as_deref(), q.to.as_deref(), q.campaign_id).await?;
    let items = state
        .store
        .call_counts_by_hour(&range)
        .await?
        .into_iter()
        .map(|h| TimelineHour {
            hour: from_millis(h.hour),
            dialed: h.counts.dialed,
            answered: h.counts.answered,
            successful: h.counts.successful,
        })
        .collect();
    Ok(Json(Timeline { items }))
}

/// Calls by hour of day in a time zone: when people answer.
#[utoipa::path(get, path = "/api/v1/analytics/hour-of-day", tag = "analytics", params(HourOfDayQuery),
    responses((status = 200, body = HoursOfDay), (status = 400, body = crate::error::ErrorBody),
              (status = 404, description = "no such campaign", body = crate::error::ErrorBody)))]
pub async fn hour_of_day(
    State(state): State<AppState>,
    Query(q): Query<HourOfDayQuery>,
) -> ApiResult<Json<HoursOfDay>> {
    let tz: chrono_tz::Tz = match q.tz.as_deref() {
        None => chrono_tz::UTC,
        Some(name) => name.parse().map_err(|_| {
            ApiError::field("tz", "must be an IANA time zone such as America/New_York")
        })?,
    };
    let range = range(&state, q.from.as_deref(), q.to.as_deref(), q.campaign_id).await?;
    let mut items: Vec<HourOfDay> = (0..24)
        .map(|hour| HourOfDay {
            hour,
            ..Default::default()
        })
        .collect();
    for h in state.store.call_counts_by_hour(&range).await? {
        let local = from_millis(h.hour).with_timezone(&tz).hour() as usize;
        let item = &mut items[local];
        item.dialed += h.counts.dialed;
        item.answered += h.counts.answered;
        item.successful += h.counts.successful;
    }
    Ok(Json(HoursOfDay { items }))
}

/// Every campaign's performance over the range.
#[utoipa::path(get, path = "/api/v1/analytics/campaigns", tag = "analytics", params(CampaignsQuery),
    responses((status = 200, body = CampaignsPerformance), (status = 400, body = crate::error::ErrorBody)))]
pub async fn campaigns(
    State(state): State<AppState>,
    Query(q): Query<CampaignsQuery>,
) -> ApiResult<Json<CampaignsPerformance>> {
    let range = range(&state, q.from.as_deref(), q.to.as_deref(), None).await?;
    let rate = cost_per_minute(&state);
    let since = super::campaigns::quality_window_start();
    let (counts, quality) = tokio::try_join!(
        state.store.campaign_call_counts(&range),
        state.store.all_campaign_quality_counts(since),
    )?;
    let quality: std::collections::HashMap<i64, _> = quality.into_iter().collect();
    let items = counts
        .into_iter()
        .map(|c| {
            let campaign_state = CampaignState::parse(&c.state).ok_or_else(|| {
                ApiError::internal(format!(
                    "campaign {} has state `{}`",
                    c.campaign_id, c.state
                ))
            })?;
            Ok(CampaignPerformance {
                campaign_id: c.campaign_id,
                name: c.name,
                state: campaign_state,
                totals: Totals::new(&c.counts, rate),
                quality: quality
                    .get(&c.campaign_id)
                    .copied()
                    .unwrap_or_default()
                    .campaign_quality(),
            })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(CampaignsPerformance { items }))
}
