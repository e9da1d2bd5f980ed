import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, describeError, must } from "../api/client";
import { fmtInt, fmtTime } from "../api/format";
import { ErrorMessage, Loading, Stat } from "../components/States";

/** The campaign's Google Sheets write-back queue: what waits, what was written, what was
 * given up and why. Shown only when the campaign writes back. */
export function SheetWrites({ campaignId, canRetry }: { campaignId: number; canRetry: boolean }) {
  const client = useQueryClient();
  const queue = useQuery({
    queryKey: ["sheet-writes", campaignId],
    queryFn: () => must(api.GET("/api/v1/campaigns/{id}/sheet-writes", { params: { path: { id: campaignId } } })),
  });
  const retry = useMutation({
    mutationFn: () =>
      must(api.POST("/api/v1/campaigns/{id}/sheet-writes/retry", { params: { path: { id: campaignId } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["sheet-writes", campaignId] }),
  });
  if (queue.isPending) return <Loading />;
  if (queue.isError) return <ErrorMessage error={queue.error} retry={() => queue.refetch()} />;
  const q = queue.data;
  if (!q.enabled && q.pending + q.written + q.failed === 0) return null;
  return (
    <div className="card" data-testid="sheet-writes">
      <h2>Google Sheets write-back</h2>
      {q.configuration_error && (
        <p className="form-error" role="alert">
          {q.configuration_error}
        </p>
      )}
      <div className="stats">
        <Stat label="Waiting" value={fmtInt(q.pending)} />
        <Stat label="Retrying" value={fmtInt(q.retrying)} />
        <Stat label="Written" value={fmtInt(q.written)} />
        <Stat label="Failed" value={fmtInt(q.failed)} />
      </div>
      {q.last_written_at && <p className="muted">Last written {fmtTime(q.last_written_at)}.</p>}
      {q.last_error && (
        <p className="form-error" data-testid="sheet-writes-error">
          Last error{q.last_error_at ? ` (${fmtTime(q.last_error_at)})` : ""}: {q.last_error}
        </p>
      )}
      {canRetry && q.failed > 0 && (
        <button type="button" disabled={retry.isPending} onClick={() => retry.mutate()}>
          Retry failed rows
        </button>
      )}
      {retry.isError && <p className="form-error">{describeError(retry.error)}</p>}
    </div>
  );
}
