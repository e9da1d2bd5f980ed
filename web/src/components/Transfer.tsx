import type { Schema } from "../api/client";
import { humanize } from "../api/format";
import { label, TRANSFER_OUTCOME } from "../api/labels";

type CallTransfer = Schema<"CallTransfer">;

/// A call's warm transfer: the outcome, the whisper the person heard, and each number
/// rung in order with how its ring ended.
export function CallTransferCard({ transfer }: { transfer?: CallTransfer | null }) {
  if (!transfer) return null;
  return (
    <div className="card" data-testid="call-transfer">
      <h2>Transfer to a person</h2>
      <dl className="facts">
        <div className="fact">
          <dt>Outcome</dt>
          <dd data-testid="transfer-outcome">
            {label(TRANSFER_OUTCOME, transfer.outcome)}
            {transfer.outcome === "connected" && transfer.target_index != null && ` (number ${transfer.target_index + 1})`}
          </dd>
        </div>
        <div className="fact">
          <dt>Why</dt>
          <dd>{transfer.reason}</dd>
        </div>
        <div className="fact">
          <dt>Whisper</dt>
          <dd data-testid="transfer-whisper">{transfer.whisper}</dd>
        </div>
      </dl>
      <ol className="transfer-attempts" data-testid="transfer-attempts">
        {transfer.attempts.map((a) => (
          <li key={a.index}>
            <span className="mono">{a.number}</span>: {a.dial_status ? humanize(a.dial_status) : "ringing"}
            {a.whisper_heard && " · heard the whisper"}
          </li>
        ))}
      </ol>
      {transfer.attempts.length < transfer.targets.length && transfer.outcome !== "in_progress" && (
        <p className="muted small">
          Not rung: {transfer.targets.slice(transfer.attempts.length).join(", ")}
        </p>
      )}
    </div>
  );
}
