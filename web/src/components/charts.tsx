import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { HourPoint } from "../api/analytics";
import { Empty } from "./States";

function hourLabel(h: string | number): string {
  if (typeof h === "number") return `${String(h).padStart(2, "0")}:00`;
  const d = new Date(h);
  return Number.isNaN(d.getTime())
    ? h
    : d.toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

/// Dialed, answered and successful calls per hour or day (a timeline or hours of the day).
export function HourlyChart({ points, step = "hour" }: { points: HourPoint[]; step?: "hour" | "day" }) {
  if (!points.some((p) => p.dialed > 0)) return <Empty title="No calls in this period" />;
  const data = points.map((p) => ({ ...p, label: p.label ?? hourLabel(p.hour) }));
  return (
    <div className="chart" role="img" aria-label={`Calls per ${step}: dialed, answered and successful`}>
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={data} maxBarSize={36}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
          <XAxis dataKey="label" stroke="var(--muted)" fontSize={12} />
          <YAxis allowDecimals={false} stroke="var(--muted)" fontSize={12} />
          <Tooltip contentStyle={{ background: "var(--surface)", border: "1px solid var(--border)" }} />
          <Legend />
          <Bar dataKey="dialed" name="Dialed" fill="var(--chart-1)" isAnimationActive={false} />
          <Bar dataKey="answered" name="Answered" fill="var(--chart-2)" isAnimationActive={false} />
          <Bar dataKey="successful" name="Successful" fill="var(--chart-3)" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

export default HourlyChart;
