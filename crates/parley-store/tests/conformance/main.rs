//! The store conformance suite: every case runs against SQLite and against PostgreSQL
//! (a fresh database per case, made from `PARLEY_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`).
mod analytics;
mod call_cases;
mod campaign_cases;
mod cases;
mod compliance_cases;
mod consent_cases;
mod contact_cases;
mod credential_cases;
mod dialing_cases;
mod dnc_cases;
mod export_cases;
mod frequency_cases;
mod history_cases;
mod import_bulk_cases;
mod import_cases;
mod import_turn_cases;
mod postgres_only;
mod quality_cases;
mod result_cases;
mod retention_cases;
mod sheet_write_cases;
mod test_call_cases;
mod transfer_cases;
mod user_cases;
mod variant_cases;
mod webhook_cases;

use parley_store::Store;
use std::future::Future;

/// Runs `case` on a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = Store::open(&url).await.expect("open sqlite store");
    case(store.clone()).await;
    store.close().await;
}

/// Runs `case` on a fresh PostgreSQL database, dropped afterwards (also when it fails).
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = parley_store::testing::TestDatabase::create("parley_test").await;
    let store = Store::open(&db.url).await.expect("open postgres store");
    case(store.clone()).await;
    store.close().await;
}

/// Declares each case once per backend.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_sqlite(super::cases::$case).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_postgres(super::cases::$case).await;
                }
            )+
        }
    };
}

conformance!(
    a_blocked_dial_is_kept_once_per_episode_and_again_after_an_attempt,
    consent_and_frequency_cap_holds_are_kept_by_the_claim_that_holds_them,
    the_report_counts_calls_by_jurisdiction_consent_and_opt_outs,
    a_call_counts_where_it_was_judged_to_be_when_it_was_placed,
    call_quality_is_stored_once_and_counted_per_campaign,
    the_abandoned_call_that_tips_the_rate_pauses_the_campaign_in_its_transaction,
    transcripts_then_call_records_past_retention_are_deleted_in_batches,
    users_sessions_and_api_keys,
    contact_names_are_read_in_one_go,
    the_last_enabled_admin_stays,
    imports_left_running_are_failed_once_abandoned,
    contacts_crud_tags_and_conflicts,
    contacts_filters_and_pagination,
    import_batches_merge_duplicates_and_count,
    import_rows_keep_their_text_and_report_alike,
    import_batches_merge_at_every_edge_alike,
    import_batches_written_at_once_end_as_written_in_order,
    a_batch_after_a_failed_one_commits_nothing,
    a_file_imported_again_updates_its_contacts,
    campaign_state_machine_and_audit,
    campaign_enrolment_keeps_counters_exact,
    dnc_lists_are_idempotent_and_scoped,
    calls_events_dedupe_and_filters,
    a_correction_replaces_the_turn_it_corrects,
    call_lifecycle_never_moves_backwards,
    claims_are_exclusive_and_attempts_start_once,
    concurrent_claimers_never_share_a_contact,
    lost_claims_come_back_and_opt_outs_cancel_everywhere,
    rate_buckets_limit_calls_per_second_for_everyone,
    claims_never_exceed_the_concurrency_limit,
    waiting_contacts_say_what_they_wait_for,
    failed_contacts_can_be_requeued,
    analytics_count_each_call_once,
    a_campaigns_calls_are_counted_per_variant,
    tool_calls_are_logged_per_call,
    webhook_outbox_fans_out_in_the_causing_transaction,
    webhook_deliveries_lease_retry_die_and_replay,
    finished_webhook_events_are_purged_after_retention,
    transfers_are_kept_per_call_and_counted_per_campaign,
    a_settled_transfer_is_never_rewritten_by_a_late_request,
    a_transfer_termination_says_how_the_transfer_went,
    past_calls_are_counted_like_live_ones,
    disabling_a_user_revokes_their_keys_and_sessions,
    a_new_password_ends_the_other_sessions,
    exports_page_calls_and_find_their_analysis_keys,
    exports_page_contacts_with_progress_and_custom_field_keys,
    a_florida_number_gets_three_calls_a_day_across_campaigns_and_single_calls,
    a_contacts_state_field_decides_its_cap,
    call_results_are_typed_and_a_second_copy_replaces_the_first,
    campaign_results_count_the_most_frequent_values_and_the_rest,
    calls_filter_by_results_and_every_filter_must_match,
    a_contact_without_the_required_consent_is_never_dialled_and_waits_for_consent,
    lowering_a_campaigns_required_consent_releases_the_contacts_it_held,
    an_opt_out_revokes_consent_in_the_same_transaction_or_not_at_all,
    the_global_do_not_call_list_revokes_and_a_campaigns_list_does_not,
    imported_consent_is_recorded_once_and_a_bad_one_keeps_the_contact,
    a_settled_call_queues_one_sheet_write_in_its_transaction,
    newer_values_replace_waiting_sheet_writes_and_leases_finish_their_version,
    a_contacts_history_pages_its_calls_with_callbacks_opt_outs_and_tool_actions,
    the_next_dial_reads_the_latest_conversation_results_and_callback_reason_with_the_contact,
    test_calls_stay_out_of_the_campaigns_counters_and_results,
    a_second_live_test_call_to_the_same_number_is_refused,
);
