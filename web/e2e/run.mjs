// End-to-end test of the dashboard in headless Chromium against a real `parley serve` in
// sandbox mode: sign in -> import a CSV -> create a campaign -> start it -> watch calls
// complete live -> open a call -> read the transcript -> play the recording -> pause and
// stop the campaign. Saves screenshots of every page, at desktop and phone sizes in light
// and dark, to e2e/screenshots/.
//
//   node e2e/run.mjs            (PARLEY_BIN defaults to ../target/debug/parley)
//
// Uses the system Chromium (PARLEY_CHROMIUM, default /usr/bin/chromium); it downloads
// nothing.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { outsideItsWindow } from "./outside.mjs";
import { everyPageAtBothSizes } from "./pages.mjs";
import { testCallStep } from "./testcall.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.env.PARLEY_BIN ?? join(here, "../../target/debug/parley"));
const browserPath = process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium";
const shots = join(here, "screenshots");
const EMAIL = "admin@example.com";
const PASSWORD = "a long e2e password";
// Upper bound for any one wait; the flow itself takes well under a minute.
const WAIT_MS = 60_000;

const results = { passed: 0, failed: 0 };

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.passed++;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
    throw e;
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/// Starts `parley serve` on a fresh data directory; resolves once it logs "listening".
async function startServer() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "parley-e2e-"));
  const child = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    env: {
      // The server warns about PARLEY_* variables that are not settings.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !["PARLEY_BIN", "PARLEY_CHROMIUM"].includes(k))),
      PARLEY_METRICS__LISTEN: "127.0.0.1:0",
      PARLEY_BOOTSTRAP_ADMIN_EMAIL: EMAIL,
      PARLEY_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      // The webhook subscription it makes points at loopback, refused unless allowed.
      PARLEY_EGRESS__ALLOWED_HOSTS: "127.0.0.1",
      PARLEY_SANDBOX__SPEED: "10",
    },
    // A parley.toml in the caller's directory must not change the test.
    cwd: dataDir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`parley serve did not start:\n${log}`)), WAIT_MS);
    const onData = (d) => {
      log += d;
      if (log.includes("listening")) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => rej(new Error(`parley serve exited with ${code}:\n${log}`)));
  });
  child.stderr.on("data", (d) => (log += d));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      child.kill("SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
    log: () => log,
  };
}

// Sandbox callees (README "Sandbox calls"): numbers outside the persona list converse and
// say goodbye; +15550100002 is a voicemail.
function csv() {
  // With the written consent a new campaign requires by default.
  const rows = ["phone,first_name,last_name,company,tags,consent_type,consent_at"];
  for (let i = 0; i < 14; i++) {
    const n = i === 3 ? "+15550100002" : `+1555010${String(100 + i).padStart(4, "0")}`;
    rows.push(`${n},Person${i},Test,Acme,e2e,express_written,2026-01-15`);
  }
  rows.push("not-a-phone,Bad,Row,Acme,e2e,express_written,2026-01-15");
  return rows.join("\n") + "\n";
}

async function main() {
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const server = await startServer();
  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(WAIT_MS);
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  // Anything the Content-Security-Policy blocks is a bug of the policy or of the app.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) {
      consoleErrors.push(`CSP: ${m.text()}`);
    }
  });
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  try {
    await step("unknown API paths stay JSON errors", async () => {
      const r = await fetch(`${server.url}/api/v1/no-such-thing`);
      const body = await r.json();
      if (r.status !== 401 || body.error?.code !== "unauthorized") throw new Error(`got ${r.status}`);
    });

    await step("sign in", async () => {
      await page.goto(`${server.url}/`);
      await page.getByLabel("Email").fill(EMAIL);
      await page.getByLabel("Password").fill("wrong password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("do not match an account").waitFor();
      await shot("sign-in");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Overview" }).waitFor();
    });

    await step("import a CSV", async () => {
      await page.getByRole("link", { name: "Contacts", exact: true }).click();
      const file = join(tmpdir(), `parley-e2e-${process.pid}.csv`);
      writeFileSync(file, csv());
      await page.getByLabel("CSV or XLSX file").setInputFiles(file);
      await page.getByRole("button", { name: "Import", exact: true }).click();
      const result = page.getByTestId("import-result");
      await result.getByText("14 new contacts").waitFor();
      await result.getByText("1 rejected").waitFor();
      await result.getByRole("cell", { name: "16", exact: true }).waitFor(); // the bad row's line
      await page.getByRole("cell", { name: "+15550100104", exact: true }).waitFor();
      await shot("contacts");
      // The do-not-call toggle holds across a reload.
      const blocked = page.waitForResponse((r) => r.url().endsWith("/api/v1/dnc") && r.request().method() === "POST");
      await page.getByRole("switch", { name: "Do not call +15550100113" }).check();
      await blocked;
      await page.reload();
      await page.getByRole("switch", { name: "Do not call +15550100113" }).and(page.locator(":checked")).waitFor();
      // Tags are edited in place, and the tag filter finds them.
      await page.getByRole("button", { name: "Edit tags of +15550100112" }).click();
      await page.getByLabel("Tags of +15550100112, separated by commas").fill("e2e, vip");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("combobox", { name: /^Tag/ }).selectOption("vip");
      await page.getByRole("cell", { name: "+15550100112", exact: true }).waitFor();
      await page.getByRole("cell", { name: "+15550100111", exact: true }).waitFor({ state: "detached" });
    });

    await step("create a campaign", async () => {
      await page.getByRole("link", { name: "Campaigns", exact: true }).click();
      await page.getByRole("link", { name: "New campaign" }).click();
      await page.getByLabel("Name").fill("");
      await page.getByLabel("Calls at once").fill("0");
      await page.getByRole("button", { name: "Create campaign" }).click();
      // Validation messages appear next to their fields.
      await page.getByText("Give the campaign a name").waitFor();
      await page.getByText("Must be at least 1").first().waitFor();
      await shot("campaign-form");
      await page.getByLabel("Name").fill("E2E campaign");
      await page.getByLabel("Calls at once").fill("2");
      await page.getByLabel("Calls per second").fill("2");
      await page.getByLabel("From", { exact: true }).fill("00:00");
      await page.getByLabel("Until", { exact: true }).fill("23:59");
      for (const day of ["Sat", "Sun"]) await page.getByLabel(day, { exact: true }).check();
      await page.getByLabel("Allow calls outside").check();
      // One attempt per contact, so every contact finishes in this run.
      for (const kind of ["No answer", "Busy", "Failed", "Voicemail", "Short call", "Unsuccessful conversation"]) {
        await page.getByLabel(`${kind}: attempts`).fill("1");
      }
      await page.getByRole("button", { name: "Create campaign" }).click();
      await page.getByRole("heading", { name: "E2E campaign" }).waitFor();
      await page.getByTestId("campaign-state").getByText("Draft").waitFor();
      await page.getByTestId("campaign-activity").getByText("Not started").waitFor();
    });

    await step("a test call plays and its transcript appears live", () => testCallStep(page, { shot, waitMs: WAIT_MS }));

    await step("add the imported contacts and start", async () => {
      await page.getByLabel("Add every contact tagged").selectOption("e2e");
      await page.getByRole("button", { name: "Add contacts" }).click();
      await page.getByText("14 contacts added.").waitFor();
      await page.getByRole("button", { name: "Start" }).click();
      await page.getByTestId("campaign-state").getByText("Running").waitFor();
    });

    await step("watch calls complete live", async () => {
      // No reload: the page updates from the live events (or its polling fallback).
      const completed = page.getByTestId("campaign-progress").getByTestId("stat-Done");
      await page.waitForFunction(
        (el) => Number(el.textContent.replace(/\D/g, "")) >= 2,
        await completed.elementHandle(),
        { timeout: WAIT_MS },
      );
      await shot("campaign-detail");
    });

    await step("read the campaign's compliance report and export it", async () => {
      const card = page.getByTestId("compliance");
      await card.getByTestId("compliance-rules-version").getByText(/Rules version \S+/).waitFor();
      const href = await card.getByRole("link", { name: "Export the compliance report as CSV" }).getAttribute("href");
      const download = await page.request.get(new URL(href, page.url()).toString());
      const csv = await download.text();
      if (!download.ok() || !csv.startsWith("section,jurisdiction,reason,rule,rules_version"))
        throw new Error(`compliance export failed: ${download.status()} ${csv.slice(0, 200)}`);
      if (!/^report,/m.test(csv)) throw new Error(`no report row: ${csv.slice(0, 200)}`);
    });

    let callUrl;
    await step("open a call and read the transcript", async () => {
      await page.getByRole("link", { name: "Calls", exact: true }).click();
      await page.getByRole("heading", { name: "Calls" }).waitFor();
      await page.getByLabel("Outcome").selectOption("success");
      const first = page.locator("tbody tr").first().getByRole("link").first();
      await first.waitFor();
      await shot("calls");
      // The export link carries the list's filter and downloads with the session.
      const csvLink = page.getByRole("link", { name: "Export calls as CSV" });
      const href = await csvLink.getAttribute("href");
      if (!href.includes("outcome=success")) throw new Error(`export ignores the filter: ${href}`);
      const download = await page.request.get(new URL(href, page.url()).toString());
      const csv = await download.text();
      if (!download.ok() || !download.headers()["content-type"].startsWith("text/csv"))
        throw new Error(`export failed: ${download.status()}`);
      const rows = csv.trim().split("\n");
      if (rows.length < 2 || !rows[0].includes("outcome")) throw new Error(`unexpected export: ${rows[0]}`);
      await first.click();
      await page.getByTestId("transcript").waitFor();
      const turns = await page.locator(".transcript .turn").count();
      if (turns < 2) throw new Error(`expected a conversation, got ${turns} turns`);
      await page.locator(".turn-agent").first().waitFor();
      await page.locator(".turn-user").first().waitFor();
      // The bridge's figures for this call: the agent answered in time, audio flowed.
      const quality = await page.getByTestId("call-quality").innerText();
      if (!/after the answer/.test(quality) || /abandoned|never/.test(quality))
        throw new Error(`unexpected call quality: ${quality}`);
      if (!/[1-9][\d,]* from the contact/.test(quality)) throw new Error(`no caller frames counted: ${quality}`);
      callUrl = page.url();
    });

    await step("play and seek the recording", async () => {
      const audio = page.getByTestId("recording");
      await audio.waitFor();
      const played = await audio.evaluate(async (el) => {
        await new Promise((res, rej) => {
          if (el.readyState >= 1) res();
          el.addEventListener("loadedmetadata", res, { once: true });
          el.addEventListener("error", () => rej(new Error("audio error")), { once: true });
        });
        await el.play();
        const target = Math.min(1, el.duration / 2);
        await new Promise((res) => {
          el.addEventListener("seeked", res, { once: true });
          el.currentTime = target;
        });
        el.pause();
        return { duration: el.duration, at: el.currentTime };
      });
      if (!(played.duration > 0 && played.at > 0)) throw new Error(`recording did not play: ${JSON.stringify(played)}`);
      await shot("call-detail");
    });

    await step("open the contact's page from the call", async () => {
      await page.getByTestId("call-contact").click();
      const calls = page.getByTestId("contact-calls");
      await calls.waitFor();
      const callId = callUrl.split("/").pop();
      await calls.getByRole("link", { name: `Call #${callId}`, exact: true }).waitFor();
      await calls.getByTestId("contact-call-summary").first().waitFor();
      await shot("contact-detail");
    });

    let campaignUrl, contactUrl;
    await step("pause and stop the campaign", async () => {
      contactUrl = page.url();
      await page.getByRole("link", { name: "Campaigns", exact: true }).click();
      await page.getByRole("link", { name: "E2E campaign" }).click();
      campaignUrl = page.url();
      const state = page.getByTestId("campaign-state");
      if ((await state.textContent()) === "Running") {
        await page.getByRole("button", { name: "Pause" }).click();
        await state.getByText("Paused").waitFor();
        await page.getByRole("button", { name: "Resume" }).waitFor();
      }
      page.once("dialog", (d) => d.accept());
      await page.getByRole("button", { name: "Stop" }).click();
      await state.getByText("Stopped").waitFor();
      // The page says why nothing more will happen, in words.
      await page.getByTestId("campaign-activity").getByText("Finished (stopped)").waitFor();
    });

    await step("read the audit log", async () => {
      await page.getByRole("link", { name: "Audit log", exact: true }).click();
      await page.getByLabel("What").fill("campaign.state_changed");
      await page.getByRole("button", { name: "Filter" }).click();
      // Started, paused (when it was still running), stopped: newest first.
      const log = page.getByTestId("audit-log");
      await log.getByText("campaign.state_changed").first().waitFor();
      await log.getByText('"to":"stopped"', { exact: false }).first().waitFor();
      await shot("audit");
    });

    await step("import a Google Sheet", async () => {
      await page.getByRole("link", { name: "Contacts", exact: true }).click();
      await page.getByLabel("Google Sheets").check();
      // Pasted as the browser shows it; the sandbox serves this spreadsheet.
      await page
        .getByLabel("Spreadsheet URL or id")
        .fill("https://docs.google.com/spreadsheets/d/parley-sandbox-contacts/edit#gid=0");
      await page.getByRole("button", { name: "Import", exact: true }).click();
      const result = page.getByTestId("import-result");
      // One simulated callee was in the CSV too: merged, not created twice.
      await result.getByText("12 new contacts, 1 updated").waitFor();
      await result.getByText("1 rejected").waitFor();
      await result.getByRole("cell", { name: "15", exact: true }).waitFor(); // the bad row, as the sheet numbers it
      await shot("contacts-sheets");
      // A spreadsheet Google does not have is refused in words, with nothing imported.
      await page.getByLabel("Spreadsheet URL or id").fill("no-such-spreadsheet");
      await page.getByRole("button", { name: "Import", exact: true }).click();
      await page.getByRole("alert").getByText(/no spreadsheet with this id/).waitFor();
    });

    await (await import("./variants.mjs")).abCampaignShowsResultsPerVariant({ page, step, shot, waitMs: WAIT_MS });
    await (await import("./transfer.mjs")).warmTransfer({ page, step, shot, waitMs: WAIT_MS });

    await step("screenshots of the other pages", async () => {
      await page.getByRole("link", { name: "Overview", exact: true }).click();
      await page.getByTestId("overview-stats").waitFor();
      await shot("overview");
      await page.getByRole("link", { name: "Campaigns", exact: true }).click();
      await page.locator(".campaign-list").waitFor();
      await shot("campaigns");
      await page.getByRole("link", { name: "Analytics", exact: true }).click();
      await page.getByTestId("analytics-stats").waitFor();
      await shot("analytics");
      await page.getByRole("link", { name: "Settings", exact: true }).click();
      await page.getByTestId("mode").getByText("Sandbox.").waitFor();
      await page.getByRole("form", { name: "Add a user" }).getByLabel("Email").fill("op@example.com");
      await page.getByRole("form", { name: "Add a user" }).getByLabel("Password").fill("operator password");
      await page.getByRole("button", { name: "Add user" }).click();
      const saved = page.waitForResponse((r) => r.url().includes("/api/v1/users/") && r.request().method() === "PATCH");
      await page.getByLabel("Role of op@example.com").selectOption("viewer");
      await saved;
      await page.reload();
      await page.waitForFunction(
        () => document.querySelector('select[aria-label="Role of op@example.com"]')?.value === "viewer",
      );
      await page.getByRole("form", { name: "Create an API key" }).getByLabel("Name").fill("crm sync");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.getByTestId("new-api-key").waitFor();
      await page.getByLabel("Address (URL)").fill("http://127.0.0.1:9/parley-events");
      await page.getByRole("button", { name: "Add subscription" }).click();
      await page.getByTestId("webhook-secret").waitFor();
      await page.getByRole("button", { name: "http://127.0.0.1:9/parley-events" }).waitFor();
      await shot("settings");
    });

    await step("on a phone: agent and number from the account's lists; started outside its window, the campaign says why and when", () =>
      outsideItsWindow(page, shot),
    );

    await step("every page at 1280 and 390 px, light and dark, fits the screen", async () => {
      const pages = [
        ["overview", "/"],
        ["campaigns", "/campaigns"],
        ["campaign", campaignUrl],
        ["campaign-edit", `${campaignUrl}/edit`],
        ["campaign-new", "/campaigns/new"],
        ["calls", "/calls"],
        ["call", callUrl],
        ["contacts", "/contacts"],
        ["contact", contactUrl],
        ["analytics", "/analytics"],
        ["audit", "/audit"],
        ["settings", "/settings"],
      ];
      const problems = await everyPageAtBothSizes(page, server.url, shots, pages);
      if (problems.length) throw new Error(problems.join("\n"));
    });

    if (consoleErrors.length) throw new Error(`page errors: ${consoleErrors.join("\n")}`);
  } catch (e) {
    await shot("failure").catch(() => {});
    console.log("--- server log (tail) ---\n" + server.log().split("\n").slice(-40).join("\n"));
    throw e;
  } finally {
    await browser.close();
    server.stop();
    console.log(`${results.passed} passed, ${results.failed} failed`);
  }
}

main().catch(() => process.exit(1));
