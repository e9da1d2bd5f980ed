import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, must, type Schema } from "../api/client";
import { fmtInt } from "../api/format";
import { ErrorMessage, Loading } from "../components/States";

type Field = Schema<"ResultSummary">;

/** The `result` filter that selects a field's calls at one value. */
export function resultFilter(field: Pick<Field, "kind" | "name">, value: string) {
  return `${field.kind}.${field.name}:${value}`;
}

/** The agent's data-collection values and evaluation verdicts over the campaign's calls,
 * counted; each count links to those calls. */
export function CampaignResults({ campaignId, version }: { campaignId: number; version: number }) {
  const results = useQuery({
    queryKey: ["campaign-results", campaignId, version],
    queryFn: () => must(api.GET("/api/v1/campaigns/{id}/results", { params: { path: { id: campaignId } } })),
    placeholderData: (prev) => prev,
  });
  return (
    <div className="card">
      <h2>Results</h2>
      {results.isPending ? (
        <Loading />
      ) : results.isError ? (
        <ErrorMessage error={results.error} retry={() => results.refetch()} />
      ) : results.data.fields.length === 0 ? (
        <p className="muted">No collected data or evaluations yet: they come with each call&apos;s analysis.</p>
      ) : (
        <dl className="results" data-testid="campaign-results">
          {results.data.fields.map((f) => (
            <div key={`${f.kind}.${f.name}`}>
              <dt>
                {f.name} <span className="muted small">({f.kind === "evaluation" ? "evaluation" : "data"}, {fmtInt(f.calls)} calls)</span>
              </dt>
              <dd>
                <ul className="inline-list" aria-label={`Values of ${f.name}`}>
                  {f.values.map((v) => (
                    <li key={v.value ?? "\u0000null"}>
                      {v.value == null ? (
                        <span className="muted">none</span>
                      ) : (
                        <Link to={`/calls?campaign_id=${campaignId}&result=${encodeURIComponent(resultFilter(f, v.value))}`}>
                          {v.value}
                        </Link>
                      )}{" "}
                      {fmtInt(v.count)}
                    </li>
                  ))}
                  {f.other && (
                    <li className="muted">
                      other ({fmtInt(f.other.values)} values) {fmtInt(f.other.count)}
                    </li>
                  )}
                </ul>
              </dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}
