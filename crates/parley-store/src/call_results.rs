//! The typed results of calls (data collection and evaluation) and their counts per
//! campaign. The calls list filters by them (see `push_call_filter`).
use crate::tx::{on_conn, own_tx};
use crate::{on_reader, Backend, Result, Store, StoreError, Tx};
use parley_domain::call_result::{
    CallResult, OtherValues, ResultKind, ResultSummary, ValueCount, ValueType, MAX_SUMMARY_FIELDS,
    MAX_SUMMARY_VALUES,
};
use sqlx::QueryBuilder;

type Row = (String, String, String, Option<String>, Option<String>);

/// A field of a campaign's results: kind, name, calls, calls with a non-null value,
/// distinct non-null values.
type FieldRow = (String, String, i64, i64, i64);

fn result_of(call_id: i64, (kind, name, value_type, value, rationale): Row) -> Result<CallResult> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("result of call {call_id}: {what}"));
    Ok(CallResult {
        kind: ResultKind::parse(&kind).ok_or_else(|| corrupt("unknown kind"))?,
        name,
        value_type: ValueType::parse(&value_type).ok_or_else(|| corrupt("unknown value type"))?,
        value,
        rationale,
    })
}

impl Tx {
    /// Replaces the call's results with `results` (a second copy of an analysis writes
    /// the same rows again, never more of them), each with the call's campaign.
    pub async fn record_call_results(
        &mut self,
        call_id: i64,
        results: &[CallResult],
    ) -> Result<()> {
        self.point("record_call_results")?;
        // A test call's results are no campaign's: the campaign's summary leaves them out.
        let campaign_id: Option<i64> = on_conn!(self, c => sqlx::query_scalar(
            "SELECT CASE WHEN is_test THEN NULL ELSE campaign_id END FROM calls WHERE id = $1",
        )
        .bind(call_id)
        .fetch_optional(c)
        .await)?
        .ok_or(StoreError::NotFound)?;
        on_conn!(self, c => {
            sqlx::query("DELETE FROM call_results WHERE call_id = $1")
                .bind(call_id)
                .execute(&mut *c)
                .await?;
            for chunk in results.chunks(200) {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO call_results \
                     (call_id, campaign_id, kind, name, value_type, value, rationale) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(call_id)
                        .push_bind(campaign_id)
                        .push_bind(r.kind.as_str())
                        .push_bind(r.name.clone())
                        .push_bind(r.value_type.as_str())
                        .push_bind(r.value.clone())
                        .push_bind(r.rationale.clone());
                });
                qb.build().execute(&mut *c).await?;
            }
        });
        Ok(())
    }
}

own_tx! {
    fn record_call_results(call_id: i64, results: &[CallResult]) -> ();
}

/// `expr` in an order both backends agree on (bytewise, not the locale's).
fn bytewise(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Sqlite => expr.to_string(),
        Backend::Postgres => format!("{expr} COLLATE \"C\""),
    }
}

impl Store {
    /// The call's results: data collection first, each kind by name.
    pub async fn call_results(&self, call_id: i64) -> Result<Vec<CallResult>> {
        let order = bytewise(self.backend(), "name");
        let sql = format!(
            "SELECT kind, name, value_type, value, rationale FROM call_results \
             WHERE call_id = $1 ORDER BY kind, {order}"
        );
        let rows: Vec<Row> = on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(call_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(|r| result_of(call_id, r)).collect()
    }

    /// Each field found in the campaign's calls with its value counts: the
    /// [`MAX_SUMMARY_VALUES`] most frequent values, the rest as `other`; at most
    /// [`MAX_SUMMARY_FIELDS`] fields, by kind and name. One query for the fields, then one
    /// per field for its top values; each reads a range of the `(campaign_id, kind, name,
    /// value)` index in order, and the top values are kept with a bounded sort.
    pub async fn campaign_results(&self, campaign_id: i64) -> Result<Vec<ResultSummary>> {
        let backend = self.backend();
        let sql = format!(
            "SELECT kind, name, COUNT(*), COUNT(value), COUNT(DISTINCT value) FROM call_results \
             WHERE campaign_id = $1 GROUP BY kind, name ORDER BY kind, {} LIMIT {MAX_SUMMARY_FIELDS}",
            bytewise(backend, "name")
        );
        let fields: Vec<FieldRow> = on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(campaign_id)
            .fetch_all(pool)
            .await)?;
        let top = format!(
            "SELECT value, COUNT(*) AS n FROM call_results \
             WHERE campaign_id = $1 AND kind = $2 AND name = $3 GROUP BY value \
             ORDER BY n DESC, CASE WHEN value IS NULL THEN 1 ELSE 0 END, {} LIMIT {MAX_SUMMARY_VALUES}",
            bytewise(backend, "value")
        );
        let mut out = Vec::with_capacity(fields.len());
        for (kind, name, calls, non_null, distinct) in fields {
            let Some(kind) = ResultKind::parse(&kind) else {
                continue; // not written by this version; a count is no place to fail
            };
            let values: Vec<(Option<String>, i64)> = on_reader!(self, pool => sqlx::query_as(&top)
                .bind(campaign_id)
                .bind(kind.as_str())
                .bind(&name)
                .fetch_all(pool)
                .await)?;
            // A null is a value of its own, which COUNT(DISTINCT) leaves out.
            let distinct = distinct + i64::from(non_null < calls);
            let listed: i64 = values.iter().map(|(_, n)| n).sum();
            let other = (distinct > values.len() as i64).then(|| OtherValues {
                values: distinct - values.len() as i64,
                count: calls - listed,
            });
            out.push(ResultSummary {
                kind,
                name,
                calls,
                values: values
                    .into_iter()
                    .map(|(value, count)| ValueCount { value, count })
                    .collect(),
                other,
            });
        }
        out.sort_by(|a, b| (a.kind, a.name.as_bytes()).cmp(&(b.kind, b.name.as_bytes())));
        Ok(out)
    }
}
