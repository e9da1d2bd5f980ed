-- contact_tags keeps its foreign keys' rules, checked once per statement instead of once
-- per row (issue 18 part 3).
--
-- PostgreSQL checks a foreign key with a trigger per inserted row: a lookup of the
-- referenced row and a key-share lock on it. An import of a million contacts with two
-- tags each spent two thirds of its time there. The same rules, as statement triggers
-- over all of a statement's rows at once:
-- * a link names an existing contact and an existing tag (checked after every INSERT or
--   UPDATE of links; a violation fails the statement with foreign_key_violation, 23503);
-- * deleting contacts or tags deletes their links (after every DELETE).
-- The row locks the foreign keys took are not needed: whoever writes a contact's links
-- writes (and so locks) the contact row in the same transaction (an import inserts or
-- updates it, create_contact inserts it, update_contact updates it), so a concurrent
-- delete waits for that transaction and then removes the links with the contact.
-- SQLite keeps its foreign keys: its checks are plain index lookups (no locks, no WAL).
ALTER TABLE contact_tags DROP CONSTRAINT contact_tags_contact_id_fkey;
ALTER TABLE contact_tags DROP CONSTRAINT contact_tags_tag_id_fkey;

CREATE FUNCTION contact_tags_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT contact_id FROM linked) l
               WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = l.contact_id))
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT tag_id FROM linked) l
                  WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = l.tag_id)) THEN
        RAISE EXCEPTION 'contact_tags: a link names a contact or a tag that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER contact_tags_check_insert AFTER INSERT ON contact_tags
    REFERENCING NEW TABLE AS linked
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tags_check();
CREATE TRIGGER contact_tags_check_update AFTER UPDATE ON contact_tags
    REFERENCING NEW TABLE AS linked
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tags_check();

-- Deleted contacts or tags (the transition table `gone`) lose their links.
CREATE FUNCTION contact_tags_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'contacts' THEN
        DELETE FROM contact_tags ct USING gone WHERE ct.contact_id = gone.id;
    ELSE
        DELETE FROM contact_tags ct USING gone WHERE ct.tag_id = gone.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER contacts_unlink_tags AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tags_unlink();
CREATE TRIGGER tags_unlink_contacts AFTER DELETE ON tags
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION contact_tags_unlink();
