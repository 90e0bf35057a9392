// Uses Debian's WordPress in headless Chromium, as a person would, once per site: runs the
// install wizard, logs in, publishes a post with the block editor, sees it on the front page,
// and, as a visitor who is not logged in, leaves a comment on it. Saves a screenshot of every
// page it checks.
//
//   node wordpress.mjs BASE_URL SCREENSHOT_DIR ADMIN_PASSWORD SITE...
//
// The site SITE is at BASE_URL/SITE/, not installed yet. Chromium is Debian's (CHROMIUM
// overrides /usr/bin/chromium). Exits non-zero when anything a person would see is wrong, after
// trying everything.
import { launch, Report, screenshotsIn } from "./browser.mjs";

const [base, screenshots, password, ...sites] = process.argv.slice(2);
if (!base || !screenshots || !password || sites.length === 0) {
  console.error("usage: node wordpress.mjs BASE_URL SCREENSHOT_DIR ADMIN_PASSWORD SITE...");
  process.exit(2);
}
const screenshot = screenshotsIn(screenshots);

const report = new Report();
const check = report.check.bind(report);

async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response;
}

const browser = await launch();

async function useSite(site) {
  const url = `${base}${site}/`;
  const admin = await browser.newContext();
  const page = await admin.newPage();
  // Each request compiles the scripts it runs (no opcache): the editor's are many.
  page.setDefaultTimeout(120000);

  // The install wizard, which a fresh site redirects to.
  await page.goto(url);
  check(`${site}: a new site opens its install wizard`, page.url().includes("/wp-admin/install.php"), page.url());
  await screenshot(page, `${site}-install`);
  if (await page.locator("#language-continue").count()) {
    await submit(page, "#language-continue");
  }
  await page.fill("#weblog_title", `Sandboxed on ${site}`);
  await page.fill("#user_login", "admin");
  await page.fill("#pass1", password);
  if (await page.locator('input[name="pw_weak"]').isVisible()) {
    await page.check('input[name="pw_weak"]');
  }
  await page.fill("#admin_email", "admin@example.org");
  let response = await submit(page, "#submit");
  let text = await page.textContent("body");
  check(`${site}: install WordPress`, response.status() === 200 && text.includes("Success!"), text.slice(0, 300));
  await screenshot(page, `${site}-installed`);

  // Log in.
  await page.goto(`${url}wp-login.php`);
  await page.fill("#user_login", "admin");
  await page.fill("#user_pass", password);
  response = await submit(page, "#wp-submit");
  text = await page.textContent("body");
  check(
    `${site}: log in as the administrator`,
    response.status() === 200 && page.url().includes("/wp-admin/") && text.includes("Dashboard"),
    `${page.url()}: ${text.slice(0, 300)}`,
  );
  await screenshot(page, `${site}-dashboard`);

  // A post, written and published in the block editor, which saves it through the REST API.
  const title = `Published through mod_wasm on ${site}`;
  const paragraph = `Written in the block editor, stored in MariaDB, ${new Date().toISOString()}.`;
  await page.goto(`${url}wp-admin/post-new.php`);
  // The editor welcomes a first-time user with a guide, shown once the editor has loaded.
  await page.locator('[aria-label="Add title"]').waitFor();
  const guide = page.locator(".components-modal__screen-overlay");
  if (await guide.waitFor({ timeout: 15000 }).then(() => true, () => false)) {
    await page.keyboard.press("Escape");
    await guide.waitFor({ state: "detached" });
  }
  // Inserted, not typed key by key: the editor re-renders as it loads, and a keystroke then
  // can go astray.
  await page.locator('[aria-label="Add title"]').fill(title);
  await page.keyboard.press("Enter");
  await page.keyboard.insertText(paragraph);
  await page.click(".editor-post-publish-panel__toggle");
  await page.click(".editor-post-publish-panel .editor-post-publish-button");
  const published = await page
    .locator(".post-publish-panel__postpublish-header")
    .waitFor()
    .then(() => true, () => false);
  check(`${site}: publish a post`, published, await page.textContent("body").then((t) => t.slice(0, 300)));
  await screenshot(page, `${site}-published`);
  await admin.close();

  // The front page, as anybody sees it; and a comment from a visitor who is not logged in.
  const visitor = await browser.newContext();
  const reader = await visitor.newPage();
  reader.setDefaultTimeout(120000);
  response = await reader.goto(url);
  text = await reader.textContent("body");
  check(`${site}: the post is on the front page`, response.status() === 200 && text.includes(title), text.slice(0, 300));
  await screenshot(reader, `${site}-front-page`);
  await Promise.all([reader.waitForNavigation(), reader.getByRole("link", { name: title }).first().click()]);
  // No apostrophe: WordPress shows one typographic (wptexturize).
  const comment = `A comment from a visitor, ${new Date().toISOString()}`;
  await reader.fill("#comment", comment);
  await reader.fill("#author", "A Visitor");
  await reader.fill("#email", "visitor@example.org");
  response = await submit(reader, "#submit");
  text = await reader.textContent("body");
  check(
    `${site}: leave a comment as a visitor`,
    response.status() === 200 && text.includes(comment) && text.includes("Your comment is awaiting moderation."),
    `${reader.url()}: ${text.slice(0, 300)}`,
  );
  await screenshot(reader, `${site}-commented`);
  await visitor.close();
}

try {
  // The sites at once, as a busy server would see them.
  await Promise.all(
    sites.map((site) =>
      useSite(site).catch((error) => check(`${site}: the steps ran`, false, error.stack || String(error))),
    ),
  );
} finally {
  await browser.close();
}
report.finish();
