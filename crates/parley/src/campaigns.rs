//! `parley campaigns …`: operations on campaigns straight in the database, for when
//! something needs doing now (they are safe while nodes run: claims and attempts are
//! guarded in the database).
use crate::cli::CampaignsCommand;
use crate::database;
use anyhow::{bail, Context};
use parley_domain::campaign::{Campaign, CampaignAction, ProgressState};
use parley_engine::settings::Settings;
use parley_store::{PageRequest, Store};

pub async fn run(settings: Settings, command: CampaignsCommand) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    let result = match command {
        CampaignsCommand::List => list(&store).await,
        CampaignsCommand::StopAll { reason } => stop_all(&store, &reason).await,
        CampaignsCommand::ReleaseLeases => {
            let released = store.recover_expired_claims(i64::MAX).await?;
            println!("released {released} claimed contacts that had not been dialled");
            Ok(())
        }
        CampaignsCommand::Requeue { campaign, from } => {
            let Some(state) = ProgressState::parse(&from) else {
                bail!("unknown state `{from}` (failed, cancelled, scheduled)");
            };
            store
                .get_campaign(campaign)
                .await
                .context("no such campaign")?;
            let moved = store.requeue_contacts(campaign, state).await?;
            println!("requeued {moved} {from} contacts of campaign {campaign}");
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn all_campaigns(store: &Store) -> anyhow::Result<Vec<Campaign>> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(200);
    loop {
        let got = store.list_campaigns(None, page).await?;
        out.extend(got.items);
        match got.next_before_id {
            Some(id) => page.before_id = Some(id),
            None => return Ok(out),
        }
    }
}

async fn list(store: &Store) -> anyhow::Result<()> {
    println!(
        "{:>6}  {:<24} {:<10} {:>8} {:>8} {:>9} {:>8} {:>9} {:>7} {:>9} {:>8}",
        "id",
        "name",
        "state",
        "total",
        "pending",
        "scheduled",
        "calling",
        "completed",
        "failed",
        "cancelled",
        "attempts"
    );
    for c in all_campaigns(store).await? {
        let p = &c.progress;
        let name: String = c.name.chars().take(24).collect();
        println!(
            "{:>6}  {:<24} {:<10} {:>8} {:>8} {:>9} {:>8} {:>9} {:>7} {:>9} {:>8}",
            c.id,
            name,
            c.state.as_str(),
            p.total,
            p.pending,
            p.scheduled,
            p.in_progress,
            p.completed,
            p.failed,
            p.cancelled,
            p.attempts
        );
    }
    Ok(())
}

async fn stop_all(store: &Store, reason: &str) -> anyhow::Result<()> {
    let mut stopped = 0;
    for c in all_campaigns(store).await? {
        if c.state.is_final() {
            continue;
        }
        match store
            .transition_campaign(c.id, CampaignAction::Stop, "cli", Some(reason))
            .await
        {
            Ok(_) => {
                stopped += 1;
                println!("stopped campaign {} ({})", c.id, c.name);
            }
            Err(e) => eprintln!("campaign {}: {e}", c.id),
        }
    }
    println!("{stopped} campaigns stopped; calls in progress finish, no new ones start");
    Ok(())
}
