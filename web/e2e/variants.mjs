// Browser e2e step: "an A/B campaign shows results per variant". A campaign with two
// variants is made in the form, its contacts called in the sandbox, and its page shows
// each variant's calls with the significance column; a call's page names its variant.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Six sandbox callees that converse, tagged `ab`, with the written consent campaigns need. */
function abCsv() {
  const rows = ["phone,first_name,tags,consent_type,consent_at"];
  for (let i = 0; i < 6; i++) rows.push(`+1555030${String(1000 + i)},Ab${i},ab,express_written,2026-01-15`);
  return rows.join("\n") + "\n";
}

export async function abCampaignShowsResultsPerVariant({ page, step, shot, waitMs }) {
  await step("an A/B campaign shows results per variant", async () => {
    await page.getByRole("link", { name: "Contacts", exact: true }).click();
    // Whichever source the page shows, import from a file.
    await page.getByLabel("A file", { exact: true }).check();
    const file = join(tmpdir(), `parley-e2e-ab-${process.pid}.csv`);
    writeFileSync(file, abCsv());
    await page.getByLabel("CSV or XLSX file").setInputFiles(file);
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByTestId("import-result").getByText("6 new contacts").waitFor();

    await page.getByRole("link", { name: "Campaigns", exact: true }).click();
    await page.getByRole("link", { name: "New campaign" }).click();
    await page.getByLabel("Name").fill("A/B campaign");
    await page.getByLabel("Calls at once").fill("6");
    // Any hour of any day, so the step passes whenever it runs (every callee converses:
    // no retries to wait for).
    await page.getByLabel("From", { exact: true }).fill("00:00");
    await page.getByLabel("Until", { exact: true }).fill("23:59");
    for (const day of ["Sat", "Sun"]) await page.getByLabel(day, { exact: true }).check();
    await page.getByLabel("Allow calls outside").check();
    await page.getByRole("button", { name: "Add a variant" }).click();
    await page.getByRole("button", { name: "Add a variant" }).click();
    // Named A and B by default, an equal share each.
    await page.getByText("50% of contacts").first().waitFor();
    await page.getByLabel("Variant 1: first message").fill("Hi, this is variant A.");
    await page.getByLabel("Variant 2: first message").fill("Hello, this is variant B.");
    await shot("campaign-form-variants");
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.getByRole("heading", { name: "A/B campaign" }).waitFor();

    await page.getByLabel("Add every contact tagged").selectOption("ab");
    await page.getByRole("button", { name: "Add contacts" }).click();
    await page.getByText("6 contacts added.").waitFor();
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByTestId("campaign-state").getByText("Running").waitFor();
    const completed = page.getByTestId("campaign-progress").getByTestId("stat-Done");
    await page.waitForFunction((el) => Number(el.textContent.replace(/\D/g, "")) >= 6, await completed.elementHandle(), {
      timeout: waitMs,
    });

    // Both variants' rows; their dialled calls add up to the campaign's six.
    const table = page.getByTestId("campaign-variants");
    await table.locator('tr[data-variant="A"]').getByText("control").waitFor();
    await page.waitForFunction(
      () => {
        const cells = [...document.querySelectorAll('[data-testid="campaign-variants"] tbody tr')].map(
          (r) => Number(r.children[2].textContent.replace(/\D/g, "")) || 0,
        );
        return cells.length === 2 && cells.reduce((a, b) => a + b, 0) === 6;
      },
      null,
      { timeout: waitMs },
    );
    const b = await table.locator('tr[data-variant="B"]').innerText();
    if (!/difference|significant|nothing to test/.test(b)) throw new Error(`no significance note for B: ${b}`);
    await shot("campaign-variants");

    // A call of the campaign names its variant and the first message it said.
    await page.getByRole("link", { name: "Calls", exact: true }).click();
    await page.getByRole("heading", { name: "Calls" }).waitFor();
    const row = page.locator("tbody tr", { hasText: "A/B campaign" }).first();
    await row.getByRole("link").first().click();
    const variant = (await page.getByTestId("call-variant").innerText()).trim();
    const said = await page.getByTestId("override-first-message").innerText();
    if (!said.includes(`variant ${variant}`)) throw new Error(`variant ${variant} said "${said}"`);
  });
}
