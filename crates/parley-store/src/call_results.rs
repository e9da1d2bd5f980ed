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

/// One group of the campaign counts: a listed value (bucket 1..) or the rest (0).
type CountRow = (String, String, i64, Option<String>, i64, i64);

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
        let campaign_id: Option<i64> = on_conn!(self, c => sqlx::query_scalar(
            "SELECT campaign_id FROM calls WHERE id = $1",
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
    /// [`MAX_SUMMARY_FIELDS`] fields, by kind and name. One query, grouped in the order
    /// of the `(campaign_id, kind, name, value)` index.
    pub async fn campaign_results(&self, campaign_id: i64) -> Result<Vec<ResultSummary>> {
        let backend = self.backend();
        let (name, value) = (bytewise(backend, "g.name"), bytewise(backend, "g.value"));
        let top = MAX_SUMMARY_VALUES;
        let sql = format!(
            "WITH g AS (SELECT kind, name, value, COUNT(*) AS n FROM call_results \
               WHERE campaign_id = $1 GROUP BY kind, name, value), \
             f AS (SELECT g.kind, g.name FROM g GROUP BY g.kind, g.name \
               ORDER BY g.kind, {name} LIMIT {MAX_SUMMARY_FIELDS}), \
             ranked AS (SELECT g.kind, g.name, g.value, g.n, ROW_NUMBER() OVER ( \
               PARTITION BY g.kind, g.name \
               ORDER BY g.n DESC, CASE WHEN g.value IS NULL THEN 1 ELSE 0 END, {value}) AS rk \
               FROM g JOIN f ON f.kind = g.kind AND f.name = g.name) \
             SELECT kind, name, CASE WHEN rk <= {top} THEN rk ELSE 0 END AS bucket, \
               MIN(value), CAST(SUM(n) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM ranked \
             GROUP BY kind, name, CASE WHEN rk <= {top} THEN rk ELSE 0 END"
        );
        let rows: Vec<CountRow> = on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(campaign_id)
            .fetch_all(pool)
            .await)?;
        Ok(summaries(rows))
    }
}

/// Folds the grouped rows into one summary per field, in kind and (bytewise) name order.
fn summaries(mut rows: Vec<CountRow>) -> Vec<ResultSummary> {
    rows.sort_by(|a, b| (&a.0, a.1.as_bytes(), a.2).cmp(&(&b.0, b.1.as_bytes(), b.2)));
    let mut out: Vec<ResultSummary> = Vec::new();
    for (kind, name, bucket, value, count, distinct) in rows {
        let Some(kind) = ResultKind::parse(&kind) else {
            continue; // not written by this version; a count is no place to fail
        };
        let same = out.last().is_some_and(|s| s.kind == kind && s.name == name);
        if !same {
            out.push(ResultSummary {
                kind,
                name,
                calls: 0,
                values: Vec::new(),
                other: None,
            });
        }
        let summary = out.last_mut().expect("pushed above");
        summary.calls += count;
        if bucket == 0 {
            summary.other = Some(OtherValues {
                values: distinct,
                count,
            });
        } else {
            summary.values.push(ValueCount { value, count });
        }
    }
    out
}
