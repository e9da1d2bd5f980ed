// Time to first render of the overview: from navigation start to today's numbers on
// screen, in headless Chromium against a running Parley (e.g. one seeded by
// `parley bench analytics --calls 100000 --keep`).
//
//   node e2e/measure-overview.mjs URL EMAIL PASSWORD [runs]
//
// Prints one JSON object: each run's milliseconds (cold cache for the first, warm after)
// and the median.
import { chromium } from "playwright-core";

const [url, email, password, runsArg] = process.argv.slice(2);
if (!url || !email || !password) {
  console.error("usage: node e2e/measure-overview.mjs URL EMAIL PASSWORD [runs]");
  process.exit(2);
}
const runs = Number(runsArg ?? 5);
const browser = await chromium.launch({
  executablePath: process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext();
  const signIn = await context.request.post(`${url}/api/v1/auth/sign-in`, { data: { email, password } });
  if (!signIn.ok()) throw new Error(`sign-in failed: ${signIn.status()}`);
  const page = await context.newPage();
  const times = [];
  for (let i = 0; i < runs; i++) {
    await page.goto(`${url}/`, { waitUntil: "commit" });
    await page.getByTestId("stat-Dialed today").waitFor({ timeout: 60_000 });
    times.push(Math.round(await page.evaluate(() => performance.now())));
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(JSON.stringify({ url, runs: times, median_ms: sorted[Math.floor(sorted.length / 2)] }));
} finally {
  await browser.close();
}
