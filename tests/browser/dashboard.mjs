// Drives the operator dashboard in headless Chromium: log in as the demo
// operator, wait for the charts, check that what the page shows equals what
// the API says, and save a screenshot. Then the API docs page: today's
// Swagger UI showing this server's spec whatever `?url=` says, under the
// Content-Security-Policy, talking to no other host.
//   node tests/browser/dashboard.mjs BASE_URL EMAIL PASSWORD SCREENSHOT
import { chromium } from "playwright-core";

const [base, email, password, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const fail = (message) => {
  console.error("dashboard check failed: " + message);
  process.exitCode = 1;
};

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // A CSP violation is reported on the console; the dashboard must cause none.
  page.on("console", (m) => { if (m.type() === "error" && m.text().includes("Content Security Policy")) errors.push(m.text()); });
  await page.goto(base + "/dashboard/");
  // Before login the login card stands alone.
  await page.waitForSelector("#login", { state: "visible" });
  if (await page.isVisible("#board")) fail("the empty board shows before login");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#login-form button");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 20000 });

  // What the API says, with the page's own token.
  const token = await page.evaluate(() => sessionStorage.getItem("sitga.access_token"));
  const amounts = await (await fetch(base + "/api/v1/monitor/amounts", { headers: { authorization: "Bearer " + token } })).json();

  // The table and the chart show exactly those numbers.
  const rows = await page.$$eval("#province-table tbody tr", (trs) =>
    trs.map((tr) => ({ province: tr.dataset.province, supply: Number(tr.dataset.supply), demand: Number(tr.dataset.demand) })));
  if (rows.length !== amounts.length) fail(`table has ${rows.length} provinces, API ${amounts.length}`);
  for (const a of amounts) {
    const row = rows.find((r) => r.province === a.province);
    if (!row || Math.abs(row.supply - a.supply_kg) > 1e-9 || Math.abs(row.demand - a.demand_kg) > 1e-9) {
      fail(`province ${a.province}: page ${JSON.stringify(row)} vs API ${a.supply_kg}/${a.demand_kg}`);
    }
  }
  const series = await page.evaluate(() => Chart.getChart("province-chart").data.datasets.map((d) => d.data));
  if (JSON.stringify(series[0]) !== JSON.stringify(amounts.map((a) => a.supply_kg))) fail("supply series differs from the API");
  if (JSON.stringify(series[1]) !== JSON.stringify(amounts.map((a) => a.demand_kg))) fail("demand series differs from the API");
  const supplyTotal = amounts.reduce((s, a) => s + a.supply_kg, 0);
  if (!(supplyTotal > 0)) fail("no supply this month in the demo data");

  // The map: the 17 provinces, each coloured by the chosen measure from the
  // API's figures (the most is the darkest), for each measure.
  for (const measure of ["supply_kg", "demand_kg", "completed_kg"]) {
    await page.selectOption("#map-measure", measure);
    const shapes = await page.$$eval("#map svg path", (ps) => ps.map((p) => ({ province: p.dataset.province, value: Number(p.dataset.value), fill: p.getAttribute("fill"), title: p.querySelector("title").textContent })));
    if (shapes.length !== 17) fail(`map has ${shapes.length} provinces`);
    for (const shape of shapes) {
      const a = amounts.find((x) => x.province === shape.province);
      if (!a || Math.abs(a[measure] - shape.value) > 1e-9) fail(`map ${measure} ${shape.province}: ${shape.value} vs API ${a && a[measure]}`);
      if (!shape.title.includes(a.name_ko)) fail(`map tooltip of ${shape.province}: ${shape.title}`);
    }
    const top = shapes.reduce((m, x) => (x.value > m.value ? x : m), shapes[0]);
    if (!(top.value > 0)) fail(`no ${measure} on the map`);
    if (top.fill !== "rgb(88, 44, 13)") fail(`the largest ${measure} (${top.province}) is drawn ${top.fill}`);
  }
  await page.hover("#map svg path[data-province=seoul]");
  if (!(await page.textContent("#map-info")).includes("서울특별시")) fail("hovering Seoul shows no figures");

  // Korean labels are drawn with a Korean font (not boxes): ask Chromium
  // which platform fonts rendered the heading's glyphs.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("DOM.enable");
  await cdp.send("CSS.enable");
  const { root } = await cdp.send("DOM.getDocument", { depth: 0 });
  const { nodeId } = await cdp.send("DOM.querySelector", { nodeId: root.nodeId, selector: "h1" });
  const { fonts } = await cdp.send("CSS.getPlatformFontsForNode", { nodeId });
  const korean = fonts.filter((f) => /CJK|KR|Korean|Gothic/i.test(f.familyName) && f.glyphCount > 0);
  if (korean.length === 0) fail("the Korean heading is drawn without a Korean font: " + JSON.stringify(fonts));

  // The month filter on the request table asks the API for that month.
  const month = new Date().toISOString().slice(0, 7);
  await page.fill("#filter-month", month);
  await page.dispatchEvent("#filter-month", "change");
  const monthly = await (await fetch(`${base}/api/v1/monitor/pickups?month=${month}&per_page=1`, { headers: { authorization: "Bearer " + token } })).json();
  await page.waitForFunction((n) => document.getElementById("requests-total").dataset.total === String(n), monthly.total, { timeout: 10000 });
  await page.fill("#filter-month", "");
  await page.dispatchEvent("#filter-month", "change");

  const total = Number(await page.getAttribute("#requests-total", "data-total"));
  if (!(total > 0)) fail("request table is empty");
  const cafes = await page.$$eval("#rank-cafe li", (lis) => lis.length);
  if (cafes === 0) fail("no cafe ranking");
  const holders = JSON.parse(await page.getAttribute("#badge-chart", "data-holders"));
  if (!(holders.first_donation > 0)) fail("badge counts missing");
  // The chain chart draws the monitor's samples (oldest first).
  const monitor = await (await fetch(base + "/api/v1/monitor/chain?limit=120", { headers: { authorization: "Bearer " + token } })).json();
  if (monitor.enabled) {
    if (!(monitor.samples.length > 0 && monitor.confirmed > 0)) fail("chain monitor has no samples or records: " + JSON.stringify(monitor));
    const shown = JSON.parse(await page.getAttribute("#chain-chart", "data-donations"));
    const expected = monitor.samples.slice().reverse().map((s) => s.donation_count);
    // The page loaded a moment before this fetch: compare the common prefix.
    if (shown.length === 0 || JSON.stringify(shown) !== JSON.stringify(expected.slice(0, shown.length))) fail(`chain chart ${JSON.stringify(shown)} vs API ${JSON.stringify(expected)}`);
    if (await page.isVisible("#chain-status")) fail("chain notice shown although the chain is on");
    // Each listed donation proves itself against the chain.
    await page.click("#chain-donations li button");
    await page.waitForSelector("#chain-donations li span[data-matches]", { timeout: 10000 });
    const matches = await page.getAttribute("#chain-donations li span[data-matches]", "data-matches");
    if (matches !== "true") fail("the first donation's proof does not match: " + (await page.textContent("#chain-donations li")));
  } else if (!(await page.isVisible("#chain-status"))) {
    fail("#chain-status notice not shown while the chain is off");
  }

  // The forecast chart draws the latest runs' point forecasts, day by day.
  for (const kind of ["supply", "demand"]) {
    const run = await (await fetch(`${base}/api/v1/forecasts/latest?kind=${kind}`, { headers: { authorization: "Bearer " + token } })).json();
    if (!run.points || run.points.length !== 7) { fail(`${kind}: no 7-day forecast from the API: ${JSON.stringify(run)}`); continue; }
    const shown = JSON.parse(await page.getAttribute("#forecast-chart", "data-" + kind));
    if (JSON.stringify(shown) !== JSON.stringify(run.points.map((p) => p.yhat))) fail(`${kind} forecast on the page differs from the API`);
    const drawn = await page.evaluate((label) => Chart.getChart("forecast-chart").data.datasets.find((d) => d.label.startsWith(label)).data, kind === "supply" ? "공급" : "수요");
    if (JSON.stringify(drawn) !== JSON.stringify(shown)) fail(`${kind} forecast chart series differs`);
  }
  if (await page.isVisible("#forecast-status")) fail("the forecast section says there is no forecast");
  if (errors.length) fail("page errors: " + errors.join("; "));

  await page.screenshot({ path: screenshot, fullPage: true });

  const spec = await (await fetch(base + "/openapi.json")).json();
  const docs = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const docErrors = [];
  const foreign = [];
  docs.on("pageerror", (e) => docErrors.push(String(e)));
  docs.on("console", (m) => { if (m.type() === "error") docErrors.push(m.text()); });
  docs.on("request", (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });
  await docs.goto(base + "/docs/?url=https://evil.example/spec.json&configUrl=https://evil.example/c.json");
  await docs.waitForSelector(".opblock", { timeout: 20000 });
  const title = (await docs.textContent(".info .title")) || "";
  if (!title.includes(spec.info.title)) fail(`docs page shows "${title}", not the spec "${spec.info.title}"`);
  const operations = await docs.$$eval(".opblock", (els) => els.length);
  const expected = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  if (operations !== expected) fail(`docs page lists ${operations} operations, the spec ${expected}`);
  const version = await docs.evaluate(() => (window.versions && window.versions.swaggerUI && window.versions.swaggerUI.version) || "");
  if (!version.startsWith("5.")) fail(`Swagger UI version "${version}" on /docs`);
  if (foreign.length) fail("the docs page asked other hosts: " + foreign.join(", "));
  if (docErrors.length) fail("docs page errors: " + docErrors.join("; "));
  console.log(`dashboard ok: ${amounts.length} provinces on the map, supply ${supplyTotal.toFixed(1)} kg, ${total} requests, Korean font ${korean[0].familyName}; screenshot ${screenshot}; docs: Swagger UI ${version}, ${operations} operations`);
} finally {
  await browser.close();
}
