// What the browser tests share: Debian's Chromium, headless and kept off the network it has no
// business with; a report of what was checked; and numbered screenshots of the pages checked.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

// Chromium is Debian's; CHROMIUM overrides /usr/bin/chromium.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // Root needs --no-sandbox; the rest keeps Chromium off the network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Each check is printed as it is made ("ok   what" or "FAIL what"), which the Rust tests read;
// finish() exits non-zero if any failed, after everything was tried.
export class Report {
  failures = [];

  check(what, ok, detail) {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) this.failures.push(`${what}: ${detail}`);
  }

  finish() {
    if (this.failures.length > 0) {
      console.error(`\n${this.failures.length} failed:\n${this.failures.join("\n")}`);
      process.exit(1);
    }
  }
}

// Saves full-page screenshots into `dir`, numbered in the order taken.
export function screenshotsIn(dir) {
  mkdirSync(dir, { recursive: true });
  let shots = 0;
  return async (page, name) => {
    shots += 1;
    const file = `${String(shots).padStart(2, "0")}-${name.replace(/[^A-Za-z0-9-]+/g, "_")}.png`;
    await page.screenshot({ path: `${dir}/${file}`, fullPage: true });
  };
}
