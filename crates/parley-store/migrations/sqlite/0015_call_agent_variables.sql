-- The dynamic variables a call gave its agent, as its record shows them: secrets
-- (`secret__...`) and the campaign's hidden names left out, bounded in count and length
-- (see parley_domain::memory::shown_variables). NULL for calls placed before this.
-- Keep in step with ../postgres/0015_call_agent_variables.sql.
ALTER TABLE calls ADD COLUMN agent_variables TEXT;
