// Browser step: "Call me" on a draft campaign's page places a test call to a simulated
// callee; its transcript appears on the page while the call is still going, and the
// call page marks it as a test call. Starts and ends on the campaign's page.
const FINAL = ["completed", "busy", "no-answer", "failed", "canceled"];

export async function testCallStep(page, { shot, waitMs }) {
  const card = page.getByTestId("test-call");
  await card.getByRole("button", { name: "Call me" }).click();
  await card.getByLabel("Your number").fill("+15550100001"); // the simulators' conversing callee
  // Note, in the page, the call's status when the first turn shows: live means before the end.
  await page.evaluate(() => {
    window.__testCallFirstTurn = null;
    const seen = new MutationObserver(() => {
      const c = document.querySelector('[data-testid="test-call"]');
      if (c?.querySelector(".transcript .turn")) {
        window.__testCallFirstTurn = c.querySelector('[data-testid="test-call-status"]')?.dataset.status ?? "unknown";
        seen.disconnect();
      }
    });
    seen.observe(document.body, { childList: true, subtree: true });
  });
  await card.getByRole("button", { name: "Call me" }).click();
  await card.getByTestId("test-call-link").waitFor();
  await card.getByTestId("test-call-badge").waitFor();
  await card.locator(".transcript .turn-agent").first().waitFor({ timeout: waitMs });
  await card.locator(".transcript .turn-user").first().waitFor({ timeout: waitMs });
  await card.locator('[data-testid="test-call-status"][data-status="completed"]').waitFor({ timeout: waitMs });
  const whileLive = await page.evaluate(() => window.__testCallFirstTurn);
  if (!whileLive || FINAL.includes(whileLive))
    throw new Error(`the transcript did not appear while the call was live (status then: ${whileLive})`);
  await shot("campaign-test-call");
  const campaignUrl = page.url();
  await card.getByTestId("test-call-link").click();
  await page.getByTestId("test-call-badge").waitFor();
  await page.getByTestId("transcript").waitFor();
  if ((await page.locator(".transcript .turn").count()) < 2) throw new Error("the call page lacks the transcript");
  await page.goto(campaignUrl);
  await page.getByTestId("campaign-state").getByText("Draft").waitFor();
}
