import { useMemo } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, must, type Schema } from "../api/client";
import { fmtInt, fmtPct } from "../api/format";
import { ErrorMessage, Loading } from "../components/States";

type Item = Schema<"VariantPerformance">;

/** How a variant's success rate compares with the control's, in words. */
export function significanceLabel(item: Item, isControl: boolean): string {
  if (isControl) return "control";
  const t = item.success_vs_control;
  if (!t) return "nothing to test yet (too few conversations, or all alike)";
  const p = t.p_value < 0.001 ? "p < 0.001" : `p = ${t.p_value.toFixed(3)}`;
  if (!t.significant) return `no clear difference (${p})`;
  return `${t.z > 0 ? "better" : "worse"}, significant at 95% (${p})`;
}

/** A campaign's A/B variants side by side, since the campaign was created. */
export function CampaignVariants({ campaign }: { campaign: Schema<"Campaign"> }) {
  const listed = campaign.settings.variants?.length ?? 0;
  const range = useMemo(
    () => ({
      campaign_id: campaign.id,
      from: campaign.created_at,
      to: new Date(Date.now() + 86_400_000).toISOString(),
    }),
    [campaign.created_at, campaign.id],
  );
  const result = useQuery({
    queryKey: ["analytics", "variants", campaign.id, campaign.progress.attempts],
    queryFn: () => must(api.GET("/api/v1/analytics/variants", { params: { query: range } })),
    placeholderData: (prev) => prev,
    enabled: listed > 0,
  });
  if (listed === 0) return null;
  return (
    <div className="card">
      <h2>A/B variants</h2>
      {result.isPending ? (
        <Loading />
      ) : result.isError ? (
        <ErrorMessage error={result.error} retry={() => result.refetch()} />
      ) : (
        <>
          <table className="table" data-testid="campaign-variants">
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col">Weight</th>
                <th scope="col">Dialed</th>
                <th scope="col">Answer rate</th>
                <th scope="col">Conversations</th>
                <th scope="col">Success rate</th>
                <th scope="col">Against {result.data.control ?? "the control"}</th>
              </tr>
            </thead>
            <tbody>
              {result.data.items.map((v, i) => (
                <tr key={v.name} data-variant={v.name}>
                  <th scope="row">{v.name}</th>
                  <td>{v.weight ?? <span className="muted">no longer listed</span>}</td>
                  <td>{fmtInt(v.totals.dialed)}</td>
                  <td>{fmtPct(v.totals.answer_rate)}</td>
                  <td>{fmtInt(v.totals.conversations)}</td>
                  <td>{fmtPct(v.totals.success_rate)}</td>
                  <td className={v.success_vs_control?.significant ? "significant" : "muted"}>
                    {significanceLabel(v, i === 0)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">
            Success rate: successful calls of the conversations. Each variant is compared with the first by a
            two-proportion z-test.
          </p>
        </>
      )}
    </div>
  );
}
