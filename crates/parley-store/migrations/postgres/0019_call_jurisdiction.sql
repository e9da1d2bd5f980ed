-- Where the callee was, as the dialler judged it when the call was placed: the evidence
-- the compliance report counts by (`US-FL`; empty when the number and address name no
-- US state). NULL on calls placed before this column: the report reads their contacts.
ALTER TABLE calls ADD COLUMN jurisdiction TEXT;
