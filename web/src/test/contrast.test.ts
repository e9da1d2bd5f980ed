/// <reference types="vite/client" />
// Text on the dashboard's colours meets WCAG AA (4.5:1) in both themes: every pair of
// colour variables that the stylesheet puts text on, read from the stylesheet itself.
import { describe, expect, it } from "vitest";
import css from "../styles.css?raw";

type Palette = Record<string, string>;

function variables(block: string): Palette {
  const out: Palette = {};
  for (const m of block.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})/g)) out[m[1]] = m[2];
  return out;
}

/// The light palette (`:root`) and the dark one laid over it (`:root[data-theme="dark"]`).
function palettes(): { light: Palette; dark: Palette } {
  const light = variables(css.match(/^:root\s*\{([^}]*)\}/m)![1]);
  const dark = { ...light, ...variables(css.match(/:root\[data-theme="dark"\]\s*\{([^}]*)\}/)![1]) };
  return { light, dark };
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/// Foreground on background, as the stylesheet uses them.
const PAIRS: [string, string][] = [
  ["text", "bg"],
  ["text", "surface"],
  ["muted", "surface"],
  ["muted", "bg"],
  ["accent-text", "accent"], // primary buttons, the current page in the menu
  ["accent", "surface"], // links
  ["danger", "surface"],
  ["ok", "surface"],
  ["warn", "surface"],
];

describe("colour contrast", () => {
  it("is what WCAG's formula gives for known pairs", () => {
    expect(contrast("#ffffff", "#000000")).toBeCloseTo(21, 5);
    expect(contrast("#767676", "#ffffff")).toBeCloseTo(4.54, 2);
  });

  for (const [theme, palette] of Object.entries(palettes())) {
    it.each(PAIRS)(`${theme}: %s on %s is at least 4.5:1`, (fg, bg) => {
      expect(palette[fg], `--${fg}`).toBeDefined();
      expect(contrast(palette[fg], palette[bg])).toBeGreaterThanOrEqual(4.5);
    });
  }

  it("dark mode follows the system with the same palette as the chosen dark theme", () => {
    const system = variables(css.match(/:root:not\(\[data-theme="light"\]\)\s*\{([^}]*)\}/)![1]);
    const chosen = variables(css.match(/:root\[data-theme="dark"\]\s*\{([^}]*)\}/)![1]);
    expect(system).toEqual(chosen);
  });
});
