// Uses Debian's DokuWiki in headless Chromium, as a person would, once per runtime: opens the
// wiki, logs in as its administrator, creates a page, edits it, and reads its old revisions;
// the runtimes' wikis at once.
// Saves a screenshot of every page it checks.
//
//   node dokuwiki.mjs BASE_URL SCREENSHOT_DIR ADMIN_PASSWORD RUNTIME...
//
// The wiki of RUNTIME is at BASE_URL/RUNTIME/. Chromium is Debian's (CHROMIUM overrides
// /usr/bin/chromium). Exits non-zero when anything a person would see is wrong, after trying
// everything.
import { launch, Report, screenshotsIn } from "./browser.mjs";

const [base, screenshots, password, ...runtimes] = process.argv.slice(2);
if (!base || !screenshots || !password || runtimes.length === 0) {
  console.error("usage: node dokuwiki.mjs BASE_URL SCREENSHOT_DIR ADMIN_PASSWORD RUNTIME...");
  process.exit(2);
}
const screenshot = screenshotsIn(screenshots);

const report = new Report();
const check = report.check.bind(report);

// Follows the link whose tooltip starts with `title` (DokuWiki's tools show icons with titles).
async function follow(page, title) {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.locator(`a[title^="${title}"]`).first().click(),
  ]);
  return response;
}

// Writes `text` into the editor with `summary`, and saves.
async function save(page, text, summary) {
  await page.fill('textarea[name="wikitext"]', text);
  await page.fill('input[name="summary"]', summary);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('button[name="do[save]"]'),
  ]);
  return response;
}

const browser = await launch();
// One wiki per runtime, each in a browser session of its own (its own login cookie), all at
// once: WasmEdge's interpreter takes seconds a page.
async function useWiki(runtime) {
  const context = await browser.newContext();
  const page = await context.newPage();
  // WasmEdge's interpreter takes seconds a page, more on a busy machine.
  page.setDefaultTimeout(180000);
  // What the pages load besides themselves: DokuWiki's styles and scripts are PHP too.
  const failed = [];
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  const wiki = `${base}${runtime}/`;
  const id = `made_under_${runtime}`;

  let response = await page.goto(wiki, { waitUntil: "load" });
  check(
    `${runtime}: the wiki opens`,
    response.status() === 200 && (await page.title()) === "start [Debian DokuWiki]",
    `status ${response.status()}, title ${JSON.stringify(await page.title())}`,
  );
  const styled = await page.evaluate(
    () => getComputedStyle(document.querySelector("#dokuwiki__site")).maxWidth,
  );
  check(`${runtime}: the wiki has its styles`, styled !== "none", `max-width ${styled}`);
  await screenshot(page, `${runtime}-start`);

  await follow(page, "Log In");
  await page.fill('input[name="u"]', "admin");
  await page.fill('input[name="p"]', password);
  [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('#dw__login button[type="submit"]'),
  ]);
  const user = await page.textContent("#dokuwiki__usertools");
  check(
    `${runtime}: log in as the administrator`,
    response.status() === 200 && user.includes("DokuWiki Administrator"),
    `status ${response.status()}, ${JSON.stringify(user.trim().slice(0, 200))}`,
  );
  await screenshot(page, `${runtime}-logged-in`);

  await page.goto(`${wiki}doku.php?id=${id}`);
  const missing = await page.textContent("#dokuwiki__content");
  check(
    `${runtime}: a page not written yet says so`,
    missing.includes("This topic does not exist yet"),
    JSON.stringify(missing.trim().slice(0, 200)),
  );
  await follow(page, "Create this page");
  response = await save(page, `====== Made under ${runtime} ======\nThe first version.\n`, "created");
  const created = await page.textContent("#dokuwiki__content");
  check(
    `${runtime}: create a page`,
    response.status() === 200 && created.includes(`Made under ${runtime}`) && created.includes("The first version."),
    `status ${response.status()}, ${JSON.stringify(created.trim().slice(0, 300))}`,
  );
  await screenshot(page, `${runtime}-created`);

  await follow(page, "Edit this page");
  const editing = await page.inputValue('textarea[name="wikitext"]');
  check(
    `${runtime}: the editor has the page's text`,
    editing.includes("The first version."),
    JSON.stringify(editing),
  );
  response = await save(
    page,
    `====== Made under ${runtime} ======\nThe second version, **edited**.\n`,
    "edited",
  );
  const edited = await page.textContent("#dokuwiki__content");
  check(
    `${runtime}: edit the page`,
    response.status() === 200 && edited.includes("The second version, edited.") && !edited.includes("first"),
    `status ${response.status()}, ${JSON.stringify(edited.trim().slice(0, 300))}`,
  );
  await screenshot(page, `${runtime}-edited`);

  response = await follow(page, "Old revisions");
  const revisions = await page.$$eval("#page__revisions li", (lis) => lis.map((li) => li.textContent));
  check(
    `${runtime}: the old revisions list both versions`,
    response.status() === 200 &&
      revisions.length === 2 &&
      revisions[0].includes("edited") &&
      revisions[1].includes("created"),
    `status ${response.status()}, ${JSON.stringify(revisions)}`,
  );
  await screenshot(page, `${runtime}-revisions`);

  check(`${runtime}: everything the pages loaded answered`, failed.length === 0, failed.join(", "));
  await context.close();
}

try {
  // A step that cannot be taken (a timeout) ends that runtime's visit, not the others'.
  await Promise.all(
    runtimes.map((runtime) =>
      useWiki(runtime).catch((e) => check(`${runtime}: use the wiki`, false, e.message)),
    ),
  );
} finally {
  await browser.close();
}
console.log(`screenshots in ${screenshots}`);
report.finish();
