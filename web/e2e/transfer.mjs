// The e2e step "a warm transfer in the sandbox reaches the human with a whisper": a
// campaign whose first transfer number never answers and whose second does, one contact
// who asks for a person; the call page shows both numbers tried, the outcome and the
// whisper the person heard.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/// The sim persona that asks the agent for a person.
const WANTS_A_HUMAN = "+15550100013";

export async function warmTransfer({ page, step, shot, waitMs }) {
  await step("a warm transfer in the sandbox reaches the human with a whisper", async () => {
    await page.getByRole("link", { name: "Contacts", exact: true }).click();
    const file = join(tmpdir(), `parley-e2e-transfer-${process.pid}.csv`);
    writeFileSync(
      file,
      `phone,first_name,last_name,tags,consent_type,consent_at\n${WANTS_A_HUMAN},Ada,Lovelace,transfer,express_written,2026-01-15\n`,
    );
    await page.getByLabel("A file", { exact: true }).check();
    await page.getByLabel("CSV or XLSX file").setInputFiles(file);
    await page.getByRole("button", { name: "Import", exact: true }).click();
    // The sandbox's sheet may have brought this contact in already.
    await page.getByTestId("import-result").getByText(/1 new contact|1 updated/).waitFor();

    await page.getByRole("link", { name: "Campaigns", exact: true }).click();
    await page.getByRole("link", { name: "New campaign" }).click();
    await page.getByLabel("Name").fill("Transfer campaign");
    await page.getByLabel("From", { exact: true }).fill("00:00");
    await page.getByLabel("Until", { exact: true }).fill("23:59");
    for (const day of ["Sat", "Sun"]) await page.getByLabel(day, { exact: true }).check();
    await page.getByLabel("Allow calls outside").check();
    await page.getByLabel("Consent a contact must have").selectOption("none");
    // The sim's +15550100003 never answers; any unlisted number does.
    await page.getByLabel("Transfer numbers").fill("+15550100003\n+15550109901");
    await page.getByLabel("Whisper").fill("Call from {{contact_name}}: {{reason}}");
    await page.getByLabel("Ring each number for (seconds)").fill("5");
    await page.getByLabel("If no one answers, say").fill("Sorry, no one is free. We will call you back.");
    await page.getByLabel("Then call the contact back after (minutes)").fill("60");
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.getByRole("heading", { name: "Transfer campaign" }).waitFor();
    const campaignId = page.url().split("/").pop();
    await page.getByLabel("Add every contact tagged").selectOption("transfer");
    await page.getByRole("button", { name: "Add contacts" }).click();
    await page.getByText("1 contacts added.").waitFor();
    await page.getByRole("button", { name: "Start" }).click();

    // The campaign's one call, listed (live) once it is placed.
    await page.goto(new URL(`/calls?campaign_id=${campaignId}`, page.url()).toString());
    await page.locator("tbody tr").first().getByRole("link").first().click({ timeout: waitMs });
    const card = page.getByTestId("call-transfer");
    // The page follows the call live: the outcome lands without a reload.
    await card.getByTestId("transfer-outcome").getByText("Connected (number 2)").waitFor({ timeout: waitMs });
    await card.getByTestId("transfer-whisper").getByText("Call from Ada Lovelace: callee asked for a person").waitFor();
    const tried = await card.getByTestId("transfer-attempts").locator("li").allInnerTexts();
    if (tried.length !== 2 || !/No answer/.test(tried[0]) || !/heard the whisper/.test(tried[1]))
      throw new Error(`unexpected numbers tried: ${JSON.stringify(tried)}`);
    await shot("call-transfer");
  });
}
