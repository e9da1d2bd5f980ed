import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { analytics, browserTimeZone, timelineBuckets, type Range } from "../api/analytics";
import { api, must } from "../api/client";
import { fmtDuration, fmtInt, fmtMoney, fmtPct, humanize } from "../api/format";
import { HourlyChart } from "../components/LazyChart";
import { Empty, ErrorMessage, Loading, Stat } from "../components/States";

function dateInput(d: Date): string {
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

export default function AnalyticsPage() {
  const [from, setFrom] = useState(() => dateInput(new Date(Date.now() - 6 * 86_400_000)));
  const [to, setTo] = useState(() => dateInput(new Date()));
  const [campaignId, setCampaignId] = useState("");
  const invalid = from > to;
  const range: Range = useMemo(() => {
    const end = new Date(`${to}T00:00:00`);
    end.setDate(end.getDate() + 1);
    return {
      from: new Date(`${from}T00:00:00`).toISOString(),
      to: end.toISOString(),
      campaign_id: campaignId ? Number(campaignId) : undefined,
    };
  }, [from, to, campaignId]);
  const enabled = !invalid;
  const summary = useQuery({ queryKey: ["analytics", "summary", range], queryFn: () => analytics.summary(range), enabled });
  const volume = useQuery({
    queryKey: ["analytics", "timeline", "buckets", range],
    queryFn: () => analytics.timeline(range).then((points) => timelineBuckets(points, range)),
    enabled,
  });
  const byHour = useQuery({
    queryKey: ["analytics", "hour-of-day", range],
    queryFn: () => analytics.hourOfDay({ ...range, tz: browserTimeZone() }),
    enabled,
  });
  const perCampaign = useQuery({
    queryKey: ["analytics", "campaigns", range],
    queryFn: () => analytics.campaigns(range),
    enabled,
  });
  const campaigns = useQuery({
    queryKey: ["campaigns"],
    queryFn: () => must(api.GET("/api/v1/campaigns", { params: { query: { limit: 200 } } })),
  });

  const t = summary.data?.totals;
  return (
    <section aria-labelledby="analytics-title">
      <h1 id="analytics-title">Analytics</h1>
      <form className="filters" aria-label="Period and campaign" onSubmit={(e) => e.preventDefault()}>
        <label>
          From
          <input type="date" value={from} max={to} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="date" value={to} min={from} onChange={(e) => setTo(e.target.value)} />
        </label>
        <label>
          Campaign
          <select value={campaignId} onChange={(e) => setCampaignId(e.target.value)}>
            <option value="">All campaigns</option>
            {campaigns.data?.items.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      </form>
      {invalid && (
        <p className="form-error" role="alert">
          The start date must not be after the end date.
        </p>
      )}
      {summary.isError ? (
        <ErrorMessage error={summary.error} retry={() => summary.refetch()} />
      ) : !t ? (
        enabled && <Loading />
      ) : (
        <div className="stats" data-testid="analytics-stats">
          <Stat label="Calls" value={fmtInt(t.dialed)} />
          <Stat label="Answer rate" value={fmtPct(t.answer_rate)} hint={`${fmtInt(t.answered)} answered`} />
          <Stat label="Humans" value={fmtInt(t.human)} hint={`${fmtPct(t.human_rate)} of answered`} />
          <Stat label="Machines" value={fmtInt(t.machine)} />
          <Stat label="Average duration" value={fmtDuration(t.average_duration_seconds)} />
          <Stat label="Success rate" value={fmtPct(t.success_rate)} hint={`${fmtInt(t.successful)} of ${fmtInt(t.conversations)} conversations`} />
          <Stat label="Cost" value={fmtMoney(t.cost_usd)} />
        </div>
      )}
      <div className="card">
        <h2>Volume over time{volume.data && ` (per ${volume.data.step})`}</h2>
        {volume.isPending ? (
          enabled && <Loading />
        ) : volume.isError ? (
          <ErrorMessage error={volume.error} retry={() => volume.refetch()} />
        ) : (
          <HourlyChart points={volume.data.points} step={volume.data.step} />
        )}
      </div>
      <div className="card">
        <h2>Calls by hour of day ({browserTimeZone()})</h2>
        {byHour.isPending ? (
          enabled && <Loading />
        ) : byHour.isError ? (
          <ErrorMessage error={byHour.error} retry={() => byHour.refetch()} />
        ) : (
          <HourlyChart points={byHour.data} />
        )}
      </div>
      <div className="card">
        <h2>By campaign</h2>
        {perCampaign.isPending ? (
          enabled && <Loading />
        ) : perCampaign.isError ? (
          <ErrorMessage error={perCampaign.error} retry={() => perCampaign.refetch()} />
        ) : perCampaign.data.length === 0 ? (
          <Empty title="No campaign calls in this period" />
        ) : (
          <div className="table-wrap">
            <table className="table cards">
              <thead>
                <tr>
                  <th scope="col">Campaign</th>
                  <th scope="col">State</th>
                  <th scope="col">Calls</th>
                  <th scope="col">Answer rate</th>
                  <th scope="col">Human vs machine</th>
                  <th scope="col">Success rate</th>
                  <th scope="col">Avg duration</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {perCampaign.data.map((c) => (
                  <tr key={c.campaign_id}>
                    <td data-label="Campaign">{c.name}</td>
                    <td data-label="State">{humanize(c.state)}</td>
                    <td data-label="Calls">{fmtInt(c.totals.dialed)}</td>
                    <td data-label="Answer rate">{fmtPct(c.totals.answer_rate)}</td>
                    <td data-label="Human vs machine">
                      {fmtInt(c.totals.human)} / {fmtInt(c.totals.machine)}
                    </td>
                    <td data-label="Success rate">{fmtPct(c.totals.success_rate)}</td>
                    <td data-label="Avg duration">{fmtDuration(c.totals.average_duration_seconds)}</td>
                    <td data-label="Cost">{fmtMoney(c.totals.cost_usd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}
