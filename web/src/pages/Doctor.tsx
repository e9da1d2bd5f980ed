import { useQuery } from "@tanstack/react-query";
import { api, must, type Schema } from "../api/client";
import { ErrorMessage, Loading } from "../components/States";

type Finding = Schema<"Finding">;

const LABEL: Record<Finding["severity"], string> = { ok: "OK", warning: "Warning", problem: "Problem" };
const BADGE: Record<Finding["severity"], string> = { ok: "badge-ok", warning: "badge-warn", problem: "badge-danger" };

/// What `parley doctor` reports, checked from this server: each finding with its fix,
/// problems first.
export function Doctor() {
  const report = useQuery({
    queryKey: ["doctor"],
    queryFn: () => must(api.GET("/api/v1/doctor")),
    staleTime: 30_000,
  });
  const order = { problem: 0, warning: 1, ok: 2 } as const;
  return (
    <div className="card" aria-labelledby="doctor-title">
      <h2 id="doctor-title">Configuration check</h2>
      {report.isPending ? (
        <Loading />
      ) : report.isError ? (
        <ErrorMessage error={report.error} retry={() => report.refetch()} />
      ) : (
        <>
          <p data-testid="doctor-summary">
            {report.data.healthy
              ? "Nothing needs fixing."
              : `${report.data.findings.filter((f) => f.severity === "problem").length} problem(s) to fix before real calls.`}{" "}
            <button type="button" className="link" onClick={() => report.refetch()} disabled={report.isFetching}>
              {report.isFetching ? "Checking…" : "Check again"}
            </button>
          </p>
          <ul className="findings">
            {[...report.data.findings]
              .sort((a, b) => order[a.severity] - order[b.severity])
              .map((f, i) => (
                <li key={i}>
                  <span className={`badge ${BADGE[f.severity]}`}>{LABEL[f.severity]}</span> <code>{f.check}</code>{" "}
                  {f.message}
                  {f.fix && <div className="muted small">Fix: {f.fix}</div>}
                </li>
              ))}
          </ul>
        </>
      )}
    </div>
  );
}
