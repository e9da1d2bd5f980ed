-- Nothing changes on SQLite, which keeps contact_tags' foreign keys. (On PostgreSQL the
-- statement triggers of migration 0018 now plan their queries afresh each time; see
-- migrations/postgres/0024_contact_tags_checks_replanned.sql.)
SELECT 1;
