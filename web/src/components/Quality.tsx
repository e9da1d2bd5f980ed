import type { Schema } from "../api/client";
import { fmtInt, fmtPct } from "../api/format";
import { Stat } from "./States";

type CallQuality = Schema<"CallQuality">;
type CampaignQuality = Schema<"CampaignQuality">;

function ms(v: number | null | undefined): string {
  return v == null ? "—" : `${fmtInt(Math.round(v))} ms`;
}

function us(v: number | null | undefined): string {
  return v == null ? "—" : v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v} µs`;
}

/// What the bridge measured on one call (absent until the bridged call is over).
export function CallQualityCard({ quality, ended }: { quality: CallQuality | null | undefined; ended: boolean }) {
  return (
    <div className="card">
      <h2>Audio quality</h2>
      {quality ? (
        <dl className="facts" data-testid="call-quality">
          <div className="fact">
            <dt>Agent&apos;s first audio</dt>
            <dd>
              {quality.first_audio_ms == null ? "never" : `${ms(quality.first_audio_ms)} after the answer`}
              {quality.abandoned && (
                <span className="badge state-failed" title="No agent audio within 2 s of the answer (47 CFR 64.1200(a)(7))">
                  {" "}
                  abandoned
                </span>
              )}
            </dd>
          </div>
          <div className="fact">
            <dt>Agent response time</dt>
            <dd>
              {ms(quality.response_ms_mean)} mean over {fmtInt(quality.responses)} turns
            </dd>
          </div>
          <div className="fact">
            <dt>Frames</dt>
            <dd>
              {fmtInt(quality.frames_from_caller)} from the contact ({fmtInt(quality.frames_to_agent)} to the agent),{" "}
              {fmtInt(quality.frames_from_agent)} from the agent ({fmtInt(quality.frames_to_caller)} to the contact)
            </dd>
          </div>
          <div className="fact">
            <dt>Gaps over 60 ms in the contact&apos;s audio</dt>
            <dd>{fmtInt(quality.caller_gaps)}</dd>
          </div>
          <div className="fact">
            <dt>Interruptions</dt>
            <dd>{fmtInt(quality.interruptions)}</dd>
          </div>
          <div className="fact">
            <dt>Latency Parley added</dt>
            <dd>
              p50 {us(quality.added_latency_p50_us)}, p99 {us(quality.added_latency_p99_us)}
            </dd>
          </div>
        </dl>
      ) : (
        <p className="muted">{ended ? "This call was not bridged to the agent." : "Measured when the call ends."}</p>
      )}
    </div>
  );
}

/// A campaign's abandonment rate and slow calls over the last 30 days.
export function CampaignQualityCard({ quality, limitPct }: { quality: CampaignQuality | undefined; limitPct: number }) {
  if (!quality) return null;
  return (
    <div className="card">
      <h2>Call quality, last {quality.window_days} days</h2>
      <div className="stats" data-testid="campaign-quality">
        <Stat
          label="Abandonment rate"
          value={fmtPct(quality.abandonment_rate)}
          hint={`pauses above ${limitPct}% once 20 calls were answered live (47 CFR 64.1200(a)(7) allows 3%)`}
        />
        <Stat label="Abandoned" value={fmtInt(quality.abandoned)} />
        <Stat label="Answered live" value={fmtInt(quality.live_answered)} />
        <Stat label="First audio over 1 s" value={fmtInt(quality.slow_first_audio)} />
        <Stat label="Relay p99 over 5 ms" value={fmtInt(quality.slow_relay)} />
      </div>
    </div>
  );
}
