import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, must } from "../api/client";
import { fmtInt, fmtTime, humanize } from "../api/format";
import { canOperate, useMe } from "../auth";
import { usePollInterval } from "../components/LiveSync";
import { Empty, ErrorMessage, Loading, ProgressBar } from "../components/States";

export default function CampaignsPage() {
  const me = useMe();
  const poll = usePollInterval();
  const campaigns = useQuery({
    queryKey: ["campaigns"],
    queryFn: () => must(api.GET("/api/v1/campaigns", { params: { query: { limit: 200 } } })),
    refetchInterval: poll,
  });
  return (
    <section aria-labelledby="campaigns-title">
      <div className="page-head">
        <h1 id="campaigns-title">Campaigns</h1>
        {canOperate(me) && (
          <Link className="button primary" to="/campaigns/new">
            New campaign
          </Link>
        )}
      </div>
      {campaigns.isPending ? (
        <Loading />
      ) : campaigns.isError ? (
        <ErrorMessage error={campaigns.error} retry={() => campaigns.refetch()} />
      ) : campaigns.data.items.length === 0 ? (
        <Empty title="No campaigns yet">
          Import contacts on the <Link to="/contacts">Contacts</Link> page, then create a campaign to
          call them.
        </Empty>
      ) : (
        <ul className="campaign-list">
          {campaigns.data.items.map((c) => {
            const p = c.progress;
            const done = p.completed + p.failed + p.cancelled;
            return (
              <li key={c.id} className="card">
                <div className="row">
                  <Link to={`/campaigns/${c.id}`} className="campaign-name">
                    {c.name}
                  </Link>
                  <span className={`badge state-${c.state}`}>{humanize(c.state)}</span>
                </div>
                <ProgressBar value={done} max={p.total} label={`${c.name} progress`} />
                <div className="muted small">
                  {fmtInt(done)} of {fmtInt(p.total)} contacts done · {fmtInt(p.in_progress)} on a
                  call · {fmtInt(p.attempts)} attempts · created {fmtTime(c.created_at)}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
