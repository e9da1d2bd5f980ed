//! Campaigns, their state changes, and the contacts enrolled in each.
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::waiting::{parse_wait_reason, wait_reason_sql};
use crate::{on_reader, Db, Page, PageRequest, Result, Store, StoreError, Tx};
use parley_domain::campaign::{
    Campaign, CampaignAction, CampaignContact, CampaignProgress, CampaignSettings, CampaignState,
    ProgressState,
};
use parley_domain::time::{from_millis, now_millis};
use parley_domain::timezones::contact_zone;
use parley_domain::vocabulary::{ContactStanding, Worded};
use parley_domain::webhook::EventType;
use parley_domain::Phone;

#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub description: Option<String>,
    pub settings: CampaignSettings,
}

#[derive(Debug, Clone, Default)]
pub struct CampaignUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub settings: Option<CampaignSettings>,
}

/// Which contacts to add to or remove from a campaign.
#[derive(Debug, Clone)]
pub enum ContactSelector {
    Ids(Vec<i64>),
    Tag(String),
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: i64,
    name: String,
    description: Option<String>,
    state: String,
    state_reason: Option<String>,
    settings: String,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    total: i64,
    pending: i64,
    scheduled: i64,
    in_progress: i64,
    completed: i64,
    failed: i64,
    cancelled: i64,
    attempts: i64,
}

const CAMPAIGN_COLUMNS: &str = "id, name, description, state, state_reason, settings, \
     created_at, updated_at, started_at, finished_at, total, pending, scheduled, in_progress, \
     completed, failed, cancelled, attempts";

pub(crate) fn parse_state(s: &str) -> Result<CampaignState> {
    CampaignState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("campaign state `{s}`")))
}

impl TryFrom<CampaignRow> for Campaign {
    type Error = StoreError;
    fn try_from(r: CampaignRow) -> Result<Campaign> {
        let settings: CampaignSettings = serde_json::from_str(&r.settings)
            .map_err(|e| StoreError::Corrupt(format!("campaign {} settings: {e}", r.id)))?;
        Ok(Campaign {
            id: r.id,
            state: parse_state(&r.state)?,
            name: r.name,
            description: r.description,
            state_reason: r.state_reason,
            settings,
            progress: CampaignProgress {
                total: r.total,
                pending: r.pending,
                scheduled: r.scheduled,
                in_progress: r.in_progress,
                completed: r.completed,
                failed: r.failed,
                cancelled: r.cancelled,
                attempts: r.attempts,
            },
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
            started_at: r.started_at.map(from_millis),
            finished_at: r.finished_at.map(from_millis),
        })
    }
}

/// What a campaign must satisfy before it may dial (or wait to), beyond its settings'
/// own validity.
fn check_dialable(s: &CampaignSettings) -> Result<()> {
    // With variants every call says one of theirs (or the campaign's, where a variant
    // has none): each must carry the disclosures.
    let mut errors = parley_domain::FieldErrors::new();
    for (field, first) in parley_domain::variants::first_messages(s) {
        if let Err(e) = s.disclosures.check_start(first, s.record_calls) {
            for mut f in e.0 {
                if f.field == "first_message" {
                    f.field = field.clone();
                }
                if !errors.0.contains(&f) {
                    errors.0.push(f);
                }
            }
        }
    }
    errors.into_result().map_err(StoreError::Invalid)
}

fn settings_json(s: &CampaignSettings) -> Result<String> {
    serde_json::to_string(s).map_err(|e| StoreError::Corrupt(format!("settings: {e}")))
}

impl Store {
    pub async fn create_campaign(&self, new: &NewCampaign, actor: &str) -> Result<Campaign> {
        let settings = settings_json(&new.settings)?;
        let now = now_millis();
        let mut tx = self.begin().await?;
        tx.point("create_campaign")?;
        let row: CampaignRow = on_conn!(tx, c => sqlx::query_as(&format!(
            "INSERT INTO campaigns (name, description, state, settings, created_at, updated_at) \
             VALUES ($1, $2, 'draft', $3, $4, $4) RETURNING {CAMPAIGN_COLUMNS}"
        ))
        .bind(&new.name)
        .bind(&new.description)
        .bind(&settings)
        .bind(now)
        .fetch_one(c)
        .await)?;
        let id = row.id.to_string();
        tx.audit(
            actor,
            "campaign.created",
            "campaign",
            Some(&id),
            &serde_json::json!({"name": new.name}),
        )
        .await?;
        tx.commit().await?;
        row.try_into()
    }

    pub async fn list_campaigns(
        &self,
        state: Option<CampaignState>,
        page: PageRequest,
    ) -> Result<Page<Campaign>> {
        let rows: Vec<CampaignRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE ($1 IS NULL OR state = $1) AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(state.map(CampaignState::as_str))
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        let page = Page::from_rows(rows, &page, |r| r.id);
        let items = page
            .items
            .into_iter()
            .map(Campaign::try_from)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            next_before_id: page.next_before_id,
        })
    }

    /// Changes name, description or settings; only while the campaign is editable
    /// (draft, scheduled or paused).
    pub async fn update_campaign(
        &self,
        id: i64,
        update: &CampaignUpdate,
        actor: &str,
    ) -> Result<Campaign> {
        let current = self.get_campaign(id).await?;
        if !current.state.is_editable() {
            return Err(StoreError::CampaignState {
                state: current.state,
                message:
                    "settings can be changed only while a campaign is draft, scheduled or paused",
            });
        }
        let name = update.name.clone().unwrap_or(current.name);
        let description = update.description.clone().unwrap_or(current.description);
        let new_settings = update.settings.as_ref().unwrap_or(&current.settings);
        // A scheduled campaign starts dialling with no further start to check it.
        if current.state == CampaignState::Scheduled {
            check_dialable(new_settings)?;
        }
        let settings = settings_json(new_settings)?;
        let mut tx = self.begin().await?;
        tx.point("update_campaign")?;
        // The state check repeats in SQL so a concurrent start cannot slip in between.
        let row: Option<CampaignRow> = on_conn!(tx, c => sqlx::query_as(&format!(
            "UPDATE campaigns SET name = $2, description = $3, settings = $4, updated_at = $5 \
             WHERE id = $1 AND state = $6 RETURNING {CAMPAIGN_COLUMNS}"
        ))
        .bind(id)
        .bind(&name)
        .bind(&description)
        .bind(&settings)
        .bind(now_millis())
        .bind(current.state.as_str())
        .fetch_optional(c)
        .await)?;
        if row.is_some() {
            let required = update.settings.as_ref().map(|s| s.required_consent);
            if required.is_some_and(|r| r != current.settings.required_consent) {
                // Contacts held for the old requirement are judged anew by the next claim.
                tx.release_consent_holds(id).await?;
            }
            let target = id.to_string();
            tx.audit(
                actor,
                "campaign.updated",
                "campaign",
                Some(&target),
                &serde_json::json!({"fields": {
                    "name": update.name.is_some(),
                    "description": update.description.is_some(),
                    "settings": update.settings.is_some(),
                }}),
            )
            .await?;
            tx.commit().await?;
        }
        match row {
            Some(row) => row.try_into(),
            // Lost a race with a state change: report the state as it is now.
            None => Err(StoreError::CampaignState {
                state: self.get_campaign(id).await?.state,
                message: "the campaign changed state while it was being edited",
            }),
        }
    }

    /// Deletes a campaign that is not placing calls (draft, paused or finished).
    pub async fn delete_campaign(&self, id: i64, actor: &str) -> Result<()> {
        let current = self.get_campaign(id).await?;
        if matches!(
            current.state,
            CampaignState::Running | CampaignState::Scheduled
        ) {
            return Err(StoreError::CampaignState {
                state: current.state,
                message: "pause or stop the campaign before deleting it",
            });
        }
        let mut tx = self.begin().await?;
        tx.point("delete_campaign")?;
        let done = execute!(
            tx,
            sqlx::query("DELETE FROM campaigns WHERE id = $1 AND state = $2")
                .bind(id)
                .bind(current.state.as_str())
        )?;
        if done == 0 {
            return Err(StoreError::Conflict(
                "the campaign changed while it was being deleted".into(),
            ));
        }
        let target = id.to_string();
        tx.audit(
            actor,
            "campaign.deleted",
            "campaign",
            Some(&target),
            &serde_json::json!({"name": current.name}),
        )
        .await?;
        tx.commit().await
    }
}

impl Tx {
    /// Applies a state change under the campaign state machine, atomically: the row only
    /// changes if it is still in the state the decision was made on. Audited with `actor`
    /// and `reason`.
    pub async fn transition_campaign(
        &mut self,
        id: i64,
        action: CampaignAction,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<Campaign> {
        let today = chrono::Utc::now().date_naive();
        let current = self.get_campaign(id).await?;
        // Starting an empty campaign would complete it at once, for good.
        if action == CampaignAction::Start && current.progress.total == 0 {
            return Err(StoreError::Conflict(
                "the campaign has no contacts; add contacts before starting it".into(),
            ));
        }
        let starts_later = current.settings.start_date.is_some_and(|d| d > today);
        let next = current.state.apply(action, starts_later)?;
        let dials_next = matches!(next, CampaignState::Running | CampaignState::Scheduled);
        if dials_next {
            check_dialable(&current.settings)?;
        }
        self.point("transition_campaign")?;
        let now = now_millis();
        let started = (next == CampaignState::Running).then_some(now);
        let finished = next.is_final().then_some(now);
        // The empty-campaign rule is also the statement's guard: contacts removed since
        // the read above cannot let an empty campaign start.
        let has_contacts = if action == CampaignAction::Start {
            " AND total > 0"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE campaigns SET state = $2, state_reason = $3, updated_at = $4, \
             started_at = COALESCE(started_at, $5), finished_at = COALESCE(finished_at, $6) \
             WHERE id = $1 AND state = $7 AND updated_at = $8{has_contacts} \
             RETURNING {CAMPAIGN_COLUMNS}"
        );
        let row: Option<CampaignRow> = on_conn!(self, c => sqlx::query_as(&sql)
            .bind(id)
            .bind(next.as_str())
            .bind(reason)
            .bind(now)
            .bind(started)
            .bind(finished)
            .bind(current.state.as_str())
            // The row as read: the settings checked above are the settings that start (an
            // edit since the read moves `updated_at`, and makes this a conflict instead).
            .bind(current.updated_at.timestamp_millis())
            .fetch_optional(c)
            .await)?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(
                "the campaign changed concurrently; try again".into(),
            ));
        };
        let target = id.to_string();
        self.audit(
            actor,
            "campaign.state_changed",
            "campaign",
            Some(&target),
            &serde_json::json!({
                "action": action.as_str(),
                "from": current.state.as_str(),
                "to": next.as_str(),
                "reason": reason,
            }),
        )
        .await?;
        self.outbox(
            EventType::CampaignStateChanged,
            serde_json::json!({
                "campaign_id": id,
                "name": row.name,
                "from": current.state.as_str(),
                "to": next.as_str(),
                "actor": actor,
                "reason": reason,
            }),
        )
        .await?;
        Campaign::try_from(row)
    }
}

own_tx! {
    /// Applies a state change under the campaign state machine, atomically: the row only
    /// changes if it is still in the state the decision was made on. Audited with `actor`
    /// and `reason`, with `campaign.state_changed` queued.
    fn transition_campaign(id: i64, action: CampaignAction, actor: &str, reason: Option<&str>) -> Campaign;
}

impl Db {
    pub async fn get_campaign(&mut self, id: i64) -> Result<Campaign> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1");
        let row: CampaignRow =
            on_conn!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?.found()?;
        row.try_into()
    }
}

own_reader! {
    fn get_campaign(id: i64) -> Campaign;
}

impl Store {
    /// The contacts of a campaign, newest enrolment first by contact id.
    pub async fn list_campaign_contacts(
        &self,
        campaign_id: i64,
        state: Option<ProgressState>,
        page: PageRequest,
    ) -> Result<Page<CampaignContact>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            contact_id: i64,
            phone: String,
            first_name: Option<String>,
            last_name: Option<String>,
            state: String,
            attempts: i64,
            last_outcome: Option<String>,
            last_call_id: Option<i64>,
            next_attempt_at: Option<i64>,
            reason: Option<String>,
            waiting_for: Option<String>,
            timezone: Option<String>,
            updated_at: i64,
        }
        let sql = format!(
            "SELECT cc.contact_id, c.phone, c.first_name, c.last_name, cc.state, cc.attempts, \
                    cc.last_outcome, cc.last_call_id, cc.next_attempt_at, cc.reason, \
                    {} AS waiting_for, c.timezone, cc.updated_at \
             FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id \
             WHERE cc.campaign_id = $1 AND ($2 IS NULL OR cc.state = $2) AND cc.contact_id < $3 \
             ORDER BY cc.contact_id DESC LIMIT $4",
            wait_reason_sql("$5")
        );
        let rows: Vec<Row> = on_reader!(self, pool => sqlx::query_as(&sql)
        .bind(campaign_id)
        .bind(state.map(ProgressState::as_str))
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .bind(now_millis())
        .fetch_all(pool)
        .await)?;
        let page = Page::from_rows(rows, &page, |r| r.contact_id);
        let items = page
            .items
            .into_iter()
            .map(|r| {
                let timezone = Phone::from_e164(&r.phone)
                    .map(|p| contact_zone(r.timezone.as_deref(), &p).name().to_string())
                    .ok();
                let state = ProgressState::parse(&r.state)
                    .ok_or_else(|| StoreError::Corrupt(format!("progress state {}", r.state)))?;
                let standing =
                    ContactStanding::of(state, r.last_outcome.as_deref(), r.reason.as_deref());
                Ok(CampaignContact {
                    contact_id: r.contact_id,
                    phone: r.phone,
                    first_name: r.first_name,
                    last_name: r.last_name,
                    state,
                    standing,
                    standing_label: standing.label(),
                    attempts: r.attempts,
                    last_outcome: r.last_outcome,
                    last_call_id: r.last_call_id,
                    // Held for consent: due at no time in particular.
                    next_attempt_at: r
                        .next_attempt_at
                        .filter(|at| *at < crate::dialing::HELD_FOR_CONSENT)
                        .map(from_millis),
                    reason: r.reason,
                    waiting_for: parse_wait_reason(r.waiting_for)?,
                    timezone,
                    updated_at: from_millis(r.updated_at),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            next_before_id: page.next_before_id,
        })
    }
}
