//! Which contacts a campaign calls: enrolling and removing them, with the campaign's
//! counters (`total` and one per progress state) kept exact in the same transaction.
use crate::tx::{execute, on_conn, own_tx};
use crate::{Result, StoreError, Tx};
use parley_domain::campaign::ProgressState;
use parley_domain::time::now_millis;
use sqlx::QueryBuilder;

use crate::campaigns::ContactSelector;

/// Rows per multi-row statement: well under both backends' bind-parameter limits.
const CHUNK: usize = 1000;

impl Tx {
    /// Enrolls contacts (by id) in a campaign; returns how many were newly added. Only ids
    /// that exist count: a missing contact is skipped, not an error. A finished campaign
    /// takes no more contacts.
    pub async fn add_campaign_contacts(
        &mut self,
        campaign_id: i64,
        selector: &ContactSelector,
    ) -> Result<u64> {
        let campaign = self.get_campaign(campaign_id).await?;
        if campaign.state.is_final() {
            return Err(StoreError::CampaignState {
                state: campaign.state,
                message: "contacts cannot be added to a finished campaign",
            });
        }
        let now = now_millis();
        match selector {
            ContactSelector::Ids(ids) => {
                let mut existing: Vec<i64> = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(CHUNK) {
                    let found: Vec<(i64,)> = on_conn!(self, c => {
                        let mut qb = QueryBuilder::new("SELECT id FROM contacts WHERE id IN (");
                        let mut sep = qb.separated(", ");
                        for id in chunk {
                            sep.push_bind(*id);
                        }
                        sep.push_unseparated(")");
                        qb.build_query_as().fetch_all(&mut *c).await
                    })?;
                    existing.extend(found.into_iter().map(|(id,)| id));
                }
                self.enroll_contacts(campaign_id, &existing, now).await
            }
            ContactSelector::Tag(tag) => {
                self.point("enroll_contacts")?;
                let added = on_conn!(self, c => sqlx::query(
                    "INSERT INTO campaign_contacts (campaign_id, contact_id, state, priority, \
                     created_at, updated_at) \
                     SELECT $1, ct.contact_id, 'pending', 2, $3, $3 FROM contact_tags ct \
                     JOIN tags t ON t.id = ct.tag_id WHERE t.name = $2 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(campaign_id)
                .bind(tag.to_lowercase())
                .bind(now)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()))?;
                self.count_enrolled(campaign_id, added).await?;
                Ok(added)
            }
        }
    }

    /// Enrolls contacts known to exist as `pending`; contacts already enrolled are left
    /// alone. Returns how many were added.
    pub(crate) async fn enroll_contacts(
        &mut self,
        campaign_id: i64,
        contact_ids: &[i64],
        now: i64,
    ) -> Result<u64> {
        self.point("enroll_contacts")?;
        let mut added: u64 = 0;
        for chunk in contact_ids.chunks(CHUNK) {
            added += on_conn!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO campaign_contacts (campaign_id, contact_id, state, priority, \
                     created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, id| {
                    b.push_bind(campaign_id)
                        .push_bind(*id)
                        .push_bind("pending")
                        .push_bind(2_i64)
                        .push_bind(now)
                        .push_bind(now);
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }
        self.count_enrolled(campaign_id, added).await?;
        Ok(added)
    }

    async fn count_enrolled(&mut self, campaign_id: i64, added: u64) -> Result<()> {
        if added == 0 {
            return Ok(());
        }
        execute!(
            self,
            sqlx::query(
                "UPDATE campaigns SET total = total + $2, pending = pending + $2 WHERE id = $1",
            )
            .bind(campaign_id)
            .bind(added as i64)
        )?;
        Ok(())
    }

    /// Removes contacts from a campaign (their call history stays); returns how many.
    pub async fn remove_campaign_contacts(
        &mut self,
        campaign_id: i64,
        selector: &ContactSelector,
    ) -> Result<u64> {
        let ContactSelector::Ids(ids) = selector else {
            return self.remove_enrolled(campaign_id, selector).await;
        };
        // In chunks, as enrolment does: one statement per id list would pass the
        // backends' bind-parameter limits for a long list.
        let mut removed = 0;
        for chunk in ids.chunks(CHUNK) {
            let chunk = ContactSelector::Ids(chunk.to_vec());
            removed += self.remove_enrolled(campaign_id, &chunk).await?;
        }
        Ok(removed)
    }

    /// Removes the selected contacts (at most [`CHUNK`] ids) with the counters.
    async fn remove_enrolled(
        &mut self,
        campaign_id: i64,
        selector: &ContactSelector,
    ) -> Result<u64> {
        self.point("remove_campaign_contacts")?;
        let (groups, removed): (Vec<(i64, String, i64)>, u64) = on_conn!(self, c => {
            let scope = |qb: &mut QueryBuilder<'_, _>| {
                qb.push(" WHERE campaign_id = ").push_bind(campaign_id);
                match selector {
                    ContactSelector::Ids(ids) => {
                        qb.push(" AND contact_id IN (");
                        let mut sep = qb.separated(", ");
                        for id in ids {
                            sep.push_bind(*id);
                        }
                        sep.push_unseparated(")");
                    }
                    ContactSelector::Tag(tag) => {
                        qb.push(
                            " AND contact_id IN (SELECT ct.contact_id FROM contact_tags ct \
                             JOIN tags t ON t.id = ct.tag_id WHERE t.name = ",
                        )
                        .push_bind(tag.to_lowercase())
                        .push(")");
                    }
                }
            };
            let mut qb =
                QueryBuilder::new("SELECT campaign_id, state, COUNT(*) FROM campaign_contacts");
            scope(&mut qb);
            qb.push(" GROUP BY campaign_id, state");
            let groups = qb.build_query_as().fetch_all(&mut *c).await?;
            let mut qb = QueryBuilder::new("DELETE FROM campaign_contacts");
            scope(&mut qb);
            let removed = qb.build().execute(&mut *c).await?.rows_affected();
            Ok::<_, sqlx::Error>((groups, removed))
        })?;
        self.lower_progress(&groups).await?;
        Ok(removed)
    }

    /// Lowers `total` and the state's counter for each `(campaign_id, state, count)` group of
    /// progress rows about to be deleted (or just deleted, in the same transaction).
    pub(crate) async fn lower_progress(&mut self, groups: &[(i64, String, i64)]) -> Result<()> {
        for (campaign_id, state, n) in groups {
            let state = ProgressState::parse(state)
                .ok_or_else(|| StoreError::Corrupt(format!("progress state {state}")))?;
            let sql = format!(
                "UPDATE campaigns SET total = total - $2, {col} = {col} - $2 WHERE id = $1",
                col = state.as_str()
            );
            execute!(self, sqlx::query(&sql).bind(*campaign_id).bind(*n))?;
        }
        Ok(())
    }
}

own_tx! {
    /// Enrolls contacts; returns how many were newly added.
    fn add_campaign_contacts(campaign_id: i64, selector: &ContactSelector) -> u64;
    /// Removes contacts from a campaign (their call history stays); returns how many.
    fn remove_campaign_contacts(campaign_id: i64, selector: &ContactSelector) -> u64;
}
