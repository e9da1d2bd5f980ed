-- Nothing changes on SQLite: contact_tags keeps its foreign keys, which SQLite checks as
-- plain index lookups. (On PostgreSQL, migration 0018 checks the same rules once per
-- statement instead of once per row; see migrations/postgres/0018_contact_tags_checks.sql.)
SELECT 1;
