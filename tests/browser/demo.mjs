// Clicks through the mod_wasm demo in headless Chromium, as a person would: opens the page,
// follows every link, lists a subdirectory, submits every echo form and the Python and PHP
// apps', signs every guestbook, adds a note through PHP on MariaDB, compares the sandbox demos
// with python3 and php-cgi under mod_cgid, and checks what a person would see. Saves a
// screenshot of every page it checks.
//
//   node demo.mjs http://127.0.0.1:PORT/ SCREENSHOT_DIR
//
// Chromium is Debian's (CHROMIUM overrides /usr/bin/chromium). Exits non-zero when anything a
// person would see is wrong, after trying everything.
import { launch, Report, screenshotsIn } from "./browser.mjs";

const [base, screenshots] = process.argv.slice(2);
if (!base || !screenshots) {
  console.error("usage: node demo.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
const screenshot = screenshotsIn(screenshots);

// What a person sees behind each link of the page, by the link's data-example.
const expected = {
  hello: { status: 200, sees: () => ["Hello from WebAssembly!"] },
  "cgi-env": {
    status: 200,
    sees: (runtime) => [
      `SCRIPT_NAME=/${runtime}/cgi-env`,
      "PATH_INFO=/some/path",
      "QUERY_STRING=x=1",
      "GREETING=set by WasmEnv",
    ],
  },
  ls: { status: 200, sees: () => ["/examples", "hello/"] },
  "redirect-status": { status: 418, sees: () => ["status 418"] },
  "redirect-to": { status: 200, sees: () => ["Hello from WebAssembly!"] },
  "http-hello": { status: 200, sees: () => ["Hello from a wasi:http component!"] },
  "http-headers": { status: 201, sees: () => ["headers"] },
  "hello-p2": { status: 200, sees: () => ["Hello from WebAssembly!"] },
  wasix: { status: 200, sees: () => ["cwd: /", "thread: "] },
  guestbook: { status: 200, sees: () => ["Guestbook"] },
  python: { status: 200, sees: (runtime) => ["Hello, Ada!", "CPython 3.12.0", `under ${runtime}`] },
  // The vulnerable script, asked for /etc/passwd: only its own directory exists for it.
  sandbox: { status: 200, sees: () => ["cannot read /etc/passwd"], hides: ["root:"] },
  "python-json": {
    status: 200,
    sees: (runtime) => ['"greeting": "Hello, Ada!"', `"runtime": "${runtime}"`],
  },
  php: { status: 200, sees: (runtime) => ["Hello, Ada!", "PHP 8.2", `under ${runtime}`] },
  "php-json": {
    status: 200,
    sees: (runtime) => ['"greeting": "Hello, Ada!"', '"sapi": "cgi-fcgi"', `"runtime": "${runtime}"`],
  },
  // The same vulnerable script in PHP: only /site, /data and /etc/php exist for it.
  "php-sandbox": { status: 200, sees: () => ["cannot read /etc/passwd"], hides: ["root:"] },
  "php-notes": { status: 200, sees: () => ["Notes", "mysqli: ", "PDO: mysql"] },
};

// The host's interpreters running the sandbox demo's scripts under mod_cgid, by the link's
// data-host-example: what the sandbox prevents.
const hostExamples = {
  sandbox: "python3 under mod_cgid shows /etc/passwd",
  "php-sandbox": "php-cgi under mod_cgid shows /etc/passwd",
};

const report = new Report();
const check = report.check.bind(report);

const browser = await launch();
try {
  const page = await browser.newPage();
  // CPython takes seconds to start in WasmEdge's interpreter, longer on a busy machine.
  page.setDefaultTimeout(120000);
  const index = await page.goto(base);
  check("the demo page opens", index.status() === 200, `status ${index.status()}`);
  // The page asks every link once and shows how long its program ran; a module still being
  // compiled (the demo compiles in the background) says so, and is asked again until it runs.
  // A cold cache compiles CPython under WasmEdge for minutes.
  const timed = await page
    .waitForFunction(
      () => [...document.querySelectorAll(".timing")].every((t) => /ms$/.test(t.textContent)),
      null,
      { timeout: 1200000, polling: 1000 },
    )
    .then(() => true, () => false);
  const timings = await page.$$eval(".timing", (spans) => spans.map((s) => s.textContent));
  check("every link shows its program's run time", timed, timings.join(", "));
  await screenshot(page, "demo");

  const runtimes = await page.$$eval("th[data-runtime]", (ths) => ths.map((th) => th.dataset.runtime));
  check("the page has a column per runtime", runtimes.length > 0, "no runtime columns");
  const links = await page.$$eval("a[data-example]", (as) =>
    as.map((a) => ({ example: a.dataset.example, runtime: a.dataset.runtime, href: a.href })),
  );
  for (const link of links) {
    const what = `${link.runtime}: ${link.example}`;
    const want = expected[link.example];
    if (!want) {
      check(what, false, "the test does not know this example");
      continue;
    }
    const response = await page.goto(link.href);
    const text = await page.textContent("body");
    const missing = want.sees(link.runtime).filter((s) => !text.includes(s));
    const shown = (want.hides || []).filter((s) => text.includes(s));
    check(
      what,
      response.status() === want.status && missing.length === 0 && shown.length === 0,
      `status ${response.status()} (want ${want.status}), missing ${JSON.stringify(missing)}, shown ${JSON.stringify(shown)} in ${JSON.stringify(text.slice(0, 300))}`,
    );
    await screenshot(page, `${link.runtime}-${link.example}`);
    if (link.example === "ls") {
      // A directory inside the grant lists too.
      // Exactly hello/: the examples also have http-hello/.
      const sub = page.getByRole("link", { name: "hello/", exact: true });
      await Promise.all([page.waitForNavigation(), sub.click()]);
      const listed = await page.textContent("body");
      check(`${link.runtime}: ls of a subdirectory`, listed.includes("Cargo.toml"), listed.slice(0, 300));
      await screenshot(page, `${link.runtime}-ls-subdirectory`);
    }
  }

  for (const runtime of runtimes) {
    await page.goto(base);
    const form = page.locator(`form[data-example="echo"][data-runtime="${runtime}"]`);
    if ((await form.count()) === 0) {
      check(`${runtime}: echo form`, false, "no echo form");
      continue;
    }
    await form.locator('input[name="text"]').fill(`hello from ${runtime}`);
    const [response] = await Promise.all([page.waitForNavigation(), form.locator("button").click()]);
    const text = await page.textContent("body");
    check(
      `${runtime}: echo form`,
      response.status() === 200 && text.includes(`text=hello+from+${runtime}`),
      `status ${response.status()}, ${JSON.stringify(text.slice(0, 200))}`,
    );
    await screenshot(page, `${runtime}-echo`);
  }

  // The same scripts run by the host's python3 and php-cgi under mod_cgid: what the sandbox
  // prevents.
  await page.goto(base);
  const host = await page.$$eval("a[data-host-example]", (as) =>
    as.map((a) => ({ example: a.dataset.hostExample, href: a.href })),
  );
  for (const [example, what] of Object.entries(hostExamples)) {
    const link = host.find((h) => h.example === example);
    if (!link) {
      check(what, false, "the page has no such link");
      continue;
    }
    const response = await page.goto(link.href);
    const text = await page.textContent("body");
    check(
      what,
      response.status() === 200 && text.includes("root:"),
      `status ${response.status()}, ${JSON.stringify(text.slice(0, 200))}`,
    );
    await screenshot(page, `${example}-host-mod_cgid`);
  }

  for (const link of links.filter((l) => l.example === "python" || l.example === "php")) {
    const app = link.example === "php" ? "PHP" : "Python";
    await page.goto(link.href);
    const name = `Person on ${link.runtime}`;
    await page.fill('input[name="name"]', name);
    const [response] = await Promise.all([page.waitForNavigation(), page.click("button")]);
    const greeting = await page.textContent("#greeting");
    check(
      `${link.runtime}: greeted by the ${app} app's form`,
      response.status() === 200 && greeting === `Hello, ${name}!`,
      `status ${response.status()}, ${JSON.stringify(greeting)}`,
    );
    await screenshot(page, `${link.runtime}-${link.example}-form`);
  }

  for (const link of links.filter((l) => l.example === "guestbook")) {
    await page.goto(link.href);
    const name = `Visitor on ${link.runtime}`;
    const message = `Signed through the form, ${new Date().toISOString()}`;
    await page.fill('input[name="name"]', name);
    await page.fill('input[name="message"]', message);
    const [response] = await Promise.all([page.waitForNavigation(), page.click("button")]);
    const text = await page.textContent("body");
    check(
      `${link.runtime}: sign the guestbook and see the entry`,
      response.status() === 200 && page.url() === link.href && text.includes(name) && text.includes(message),
      `status ${response.status()} at ${page.url()}, ${JSON.stringify(text.slice(0, 300))}`,
    );
    await screenshot(page, `${link.runtime}-guestbook-signed`);
  }

  for (const link of links.filter((l) => l.example === "php-notes")) {
    await page.goto(link.href);
    const note = `Noted on ${link.runtime}, ${new Date().toISOString()}`;
    await page.fill('input[name="note"]', note);
    const [response] = await Promise.all([page.waitForNavigation(), page.click("button")]);
    const notes = await page.$$eval("#notes li", (items) => items.map((li) => li.textContent));
    check(
      `${link.runtime}: add a note through PHP and see it`,
      response.status() === 200 && notes.includes(note),
      `status ${response.status()}, ${JSON.stringify(notes)}`,
    );
    await screenshot(page, `${link.runtime}-php-notes-added`);
  }

  // Every request above was counted: the status page shows each runtime with requests.
  await page.goto(base);
  const [statusResponse] = await Promise.all([page.waitForNavigation(), page.click("#status")]);
  const statusText = await page.textContent("body");
  check(
    "the status page opens from the demo page",
    statusResponse.status() === 200 && statusText.includes("mod_wasm status"),
    `status ${statusResponse.status()}`,
  );
  const counted = await page.$$eval("table:first-of-type tr", (rows) =>
    rows.slice(1).map((row) => [...row.cells].map((cell) => cell.textContent)),
  );
  for (const runtime of runtimes) {
    const row = counted.find((cells) => cells[0] === runtime);
    check(
      `${runtime}: the status page counts its requests`,
      row !== undefined && Number(row[2]) > 0 && Number(row[3]) > 0,
      JSON.stringify(row),
    );
  }
  await screenshot(page, "status");
} finally {
  await browser.close();
}
console.log(`screenshots in ${screenshots}`);
report.finish();
