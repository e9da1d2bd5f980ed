// On a phone screen: a campaign whose agent and caller ID are picked from the account's
// lists, started outside its calling window, says why nothing is dialled and when the
// next call is.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const pad = (n) => String(n).padStart(2, "0");

export async function outsideItsWindow(page, shot) {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    // Three contacts whose clock is UTC, so the window below is shut for all of them.
    const rows = ["phone,first_name,timezone,tags,consent_type,consent_at"];
    for (let i = 0; i < 3; i++) rows.push(`+15550100${300 + i},Night${i},UTC,night,express_written,2026-01-15`);
    const file = join(tmpdir(), `parley-e2e-night-${process.pid}.csv`);
    writeFileSync(file, rows.join("\n") + "\n");
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("link", { name: "Contacts", exact: true }).click();
    await page.getByLabel("CSV or XLSX file").setInputFiles(file);
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByTestId("import-result").getByText("3 new contacts").waitFor();

    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("link", { name: "Campaigns", exact: true }).click();
    await page.getByRole("link", { name: "New campaign" }).click();
    await page.getByLabel("Name").fill("Night campaign");
    // The agent and the number come from the account's own lists.
    const agent = page.locator("#account-agents option").first();
    await agent.waitFor({ state: "attached" });
    await page.getByLabel("ElevenLabs agent").fill(await agent.getAttribute("value"));
    const addNumber = page.getByRole("button", { name: /^Add \+\d+/ }).first();
    const number = (await addNumber.textContent()).replace("Add ", "").trim();
    await addNumber.click();
    const callerIds = await page.getByLabel("Caller ids").inputValue();
    if (!callerIds.split("\n").includes(number)) throw new Error(`caller ids: ${callerIds}`);
    // An hour's window twelve hours from now, every day.
    const start = (new Date().getUTCHours() + 12) % 24;
    await page.getByLabel("From", { exact: true }).fill(`${pad(start)}:00`);
    await page.getByLabel("Until", { exact: true }).fill(start === 23 ? "23:59" : `${pad(start + 1)}:00`);
    for (const day of ["Sat", "Sun"]) await page.getByLabel(day, { exact: true }).check();
    await page.getByLabel("Allow calls outside").check();
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.getByRole("heading", { name: "Night campaign" }).waitFor();

    await page.getByLabel("Add every contact tagged").selectOption("night");
    await page.getByRole("button", { name: "Add contacts" }).click();
    await page.getByText("3 contacts added.").waitFor();
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByTestId("campaign-state").getByText("Running").waitFor();
    await page
      .getByTestId("campaign-activity")
      .getByText(/Outside .*calling hours: it is .* in UTC; the next call is at .* their time/)
      .waitFor();
    await shot("campaign-outside-window-390");
    // Nothing was dialled.
    const id = page.url().split("/").pop();
    const campaign = await (await page.request.get(new URL(`/api/v1/campaigns/${id}`, page.url()).toString())).json();
    if (campaign.progress.attempts !== 0) throw new Error(`dialled outside the window: ${JSON.stringify(campaign.progress)}`);
  } finally {
    await page.setViewportSize({ width: 1280, height: 860 });
  }
}
