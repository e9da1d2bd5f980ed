// Charts are the largest dependency; they load after the numbers are on screen.
import { lazy, Suspense } from "react";
import type { HourPoint } from "../api/analytics";
import { Loading } from "./States";

const Chart = lazy(() => import("./charts"));

export function HourlyChart({ points, step }: { points: HourPoint[]; step?: "hour" | "day" }) {
  return (
    <Suspense fallback={<Loading label="Drawing the chart" />}>
      <Chart points={points} step={step} />
    </Suspense>
  );
}
