// Every page at a desktop and a phone width, in light and dark: a screenshot of each in
// e2e/screenshots/ (`<page>-<width>-<scheme>.png`), and on each a check that nothing makes
// the page wider than the screen (tables scroll inside their card or become cards).
import { join } from "node:path";

const SIZES = [
  { width: 1280, height: 860 },
  { width: 390, height: 844 },
];
const SCHEMES = ["light", "dark"];

/// Waits until a page has its heading and nothing on it is still loading.
async function settled(page) {
  await page.locator("main h1").first().waitFor();
  await page.waitForFunction(() => !document.querySelector("main .spinner"));
}

/// `pages`: [name, path] pairs. Returns the problems found, one line each.
export async function everyPageAtBothSizes(page, base, shots, pages) {
  const problems = [];
  for (const size of SIZES) {
    await page.setViewportSize(size);
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme });
      for (const [name, path] of pages) {
        await page.goto(new URL(path, base).toString());
        await settled(page);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (wide > 1) problems.push(`${name} at ${size.width}px (${colorScheme}) is ${wide}px wider than the screen`);
        await page.screenshot({ path: join(shots, `${name}-${size.width}-${colorScheme}.png`), fullPage: true });
      }
    }
  }
  await page.setViewportSize(SIZES[0]);
  await page.emulateMedia({ colorScheme: "light" });
  return problems;
}
