//! Why a campaign is or is not dialling, read from the database as the dialer left it.
use crate::Engine;
use parley_domain::activity::{explain, AccountCapacity, CampaignActivity, NextContact};
use parley_domain::jurisdiction::contact_jurisdiction;
use parley_domain::timezones::contact_zone;
use parley_domain::Phone;
use parley_store::StoreError;

impl Engine {
    /// The campaign's activity now: what it does next, why, and when.
    pub async fn campaign_activity(
        &self,
        campaign_id: i64,
    ) -> Result<CampaignActivity, StoreError> {
        let now = chrono::Utc::now();
        let campaign = self.store.get_campaign(campaign_id).await?;
        let waiting = self
            .store
            .waiting_contacts(campaign_id, now.timestamp_millis())
            .await?;
        let next = waiting.first.and_then(|first| {
            let phone = Phone::from_e164(&first.phone).ok()?;
            let zone = contact_zone(first.timezone.as_deref(), &phone);
            let place = contact_jurisdiction(&first.custom_fields, &phone);
            Some(
                NextContact::new(first.contact_id, first.reason, first.next_at, zone, now)
                    .in_state(place.state_name()),
            )
        });
        let account = AccountCapacity {
            in_use: self.store.account_load().await?.total(),
            limit: i64::from(self.settings.dialer.max_concurrent_calls),
        };
        Ok(explain(&campaign, account, waiting.groups, next))
    }
}
