-- Frequency caps count the calls to a number over a rolling period at every claim.
CREATE INDEX calls_to_number ON calls(to_number, created_at);
