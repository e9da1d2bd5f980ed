import { useMemo } from "react";
import { useQuery, type UseQueryResult } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { analytics, timelineBuckets, type HourPoint, type Summary } from "../api/analytics";
import { fmtDuration, fmtInt, fmtMoney, fmtPct, humanize, startOfToday } from "../api/format";
import { usePollInterval } from "../components/LiveSync";
import { ErrorMessage, Loading, Stat } from "../components/States";
import { api, must } from "../api/client";
import { HourlyChart } from "../components/LazyChart";

export function OverviewPage() {
  const poll = usePollInterval(10_000);
  const range = useMemo(() => ({ from: startOfToday(), to: new Date(Date.now() + 86_400_000).toISOString() }), []);
  const summary = useQuery({
    queryKey: ["analytics", "summary", range],
    queryFn: () => analytics.summary(range),
    refetchInterval: poll === false ? 30_000 : poll,
  });
  const timeline = useQuery({
    queryKey: ["analytics", "timeline", range],
    // Every hour of today so far, hours without calls at zero.
    queryFn: () =>
      analytics.timeline(range).then((p) => timelineBuckets(p, { from: range.from, to: new Date().toISOString() }).points),
    refetchInterval: poll === false ? 60_000 : poll,
  });

  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      {summary.isPending ? (
        <Loading label="Loading today's numbers" />
      ) : summary.isError ? (
        <ErrorMessage error={summary.error} retry={() => summary.refetch()} />
      ) : (
        <Today summary={summary.data} timeline={timeline} />
      )}
      <RunningCampaigns poll={poll === false ? 30_000 : poll} />
    </section>
  );
}

function Today({ summary, timeline }: { summary: Summary; timeline: UseQueryResult<HourPoint[]> }) {
  const totals = summary.totals;
  const inProgress = summary.calls_in_progress;
  const funnel = summary.funnel;
  const top = Math.max(1, ...funnel.map((f) => f.count));

  return (
    <>
      <div className="stats" data-testid="overview-stats">
        <Stat label="Calls in progress" value={fmtInt(inProgress)} />
        <Stat
          label="Capacity in use"
          value={`${fmtInt(summary.capacity.in_use)} of ${fmtInt(summary.capacity.limit)}`}
          hint="concurrent calls, all campaigns"
        />
        <Stat label="Dialed today" value={fmtInt(totals.dialed)} />
        <Stat label="Answered" value={fmtInt(totals.answered)} hint={`${fmtPct(totals.answer_rate)} of dialed`} />
        <Stat
          label="Successful"
          value={fmtInt(totals.successful)}
          hint={`${fmtPct(totals.success_rate)} of conversations`}
        />
        <Stat label="Average duration" value={fmtDuration(totals.average_duration_seconds)} />
        <Stat label="Cost" value={fmtMoney(totals.cost_usd)} />
      </div>
      <div className="grid-2">
        <div className="card">
          <h2>Calls per hour</h2>
          {timeline.isPending ? (
            <Loading />
          ) : timeline.isError ? (
            <ErrorMessage error={timeline.error} retry={() => timeline.refetch()} />
          ) : (
            <HourlyChart points={timeline.data} />
          )}
        </div>
        <div className="card">
          <h2>Outcome funnel</h2>
          {totals.dialed === 0 ? (
            <p className="muted">
              No calls yet today. <Link to="/campaigns">Start a campaign</Link> to see them here.
            </p>
          ) : (
            <ol className="funnel">
              {funnel.map((f) => (
                <li key={f.stage}>
                  <span className="funnel-label">{humanize(f.stage)}</span>
                  <span className="funnel-bar" style={{ width: `${(f.count / top) * 100}%` }} />
                  <span className="funnel-count">{fmtInt(f.count)}</span>
                </li>
              ))}
            </ol>
          )}
        </div>
      </div>
    </>
  );
}

/// Each running campaign with what it does next, so a quiet dashboard explains itself.
function RunningCampaigns({ poll }: { poll: number }) {
  const running = useQuery({
    queryKey: ["campaigns", "running-activity"],
    queryFn: async () => {
      const list = await must(api.GET("/api/v1/campaigns", { params: { query: { state: "running", limit: 20 } } }));
      return Promise.all(
        list.items.map(async (c) => ({
          campaign: c,
          activity: await must(api.GET("/api/v1/campaigns/{id}/activity", { params: { path: { id: c.id } } })),
        })),
      );
    },
    refetchInterval: poll,
  });
  if (!running.data || running.data.length === 0) return null;
  return (
    <div className="card" data-testid="running-campaigns">
      <h2>Running campaigns</h2>
      <ul className="plain-list">
        {running.data.map(({ campaign, activity }) => (
          <li key={campaign.id}>
            <Link to={`/campaigns/${campaign.id}`}>{campaign.name}</Link>: {activity.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
