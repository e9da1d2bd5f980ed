-- The statement triggers of migration 0018 plan their queries afresh each time they run.
--
-- PL/pgSQL keeps a query's plan for the session until something invalidates it. An
-- import used to write through a staging table that made each batch plan the check
-- anew; once batches copied their contacts straight in, a session kept the plan it made
-- while `contacts` was small: a hash join reading the whole of `contacts`, for every
-- batch after. Batches grew slower as the table grew, and a million-row import took
-- 20 to 24 s instead of 10. Run through EXECUTE, each statement's check is planned for
-- the table as it is: once it is large, a lookup by primary key per linked contact. The
-- delete of the links of deleted contacts or tags is planned the same way, so that a
-- retention pass deleting a few contacts cannot come to read every link.
CREATE OR REPLACE FUNCTION contact_tags_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    dangling BOOLEAN;
BEGIN
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT contact_id FROM linked) l '
         || 'WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = l.contact_id)) '
         || 'OR EXISTS (SELECT 1 FROM (SELECT DISTINCT tag_id FROM linked) l '
         || 'WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = l.tag_id))'
        INTO dangling;
    IF dangling THEN
        RAISE EXCEPTION 'contact_tags: a link names a contact or a tag that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION contact_tags_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'contacts' THEN
        EXECUTE 'DELETE FROM contact_tags ct USING gone WHERE ct.contact_id = gone.id';
    ELSE
        EXECUTE 'DELETE FROM contact_tags ct USING gone WHERE ct.tag_id = gone.id';
    END IF;
    RETURN NULL;
END $$;
