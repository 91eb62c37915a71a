// Two bidders on one auction in the bidders' page at `/`, in two browser
// contexts (a desktop and a 360 px phone): both log in through the page,
// find the auction in the list and open its live room; each bid shows the
// same price and leader in both within a second, a refused bid shows the
// Korean reason, a bid in the last two minutes moves both countdowns, and
// the outbid bidder's bell counts the notification without a reload. A
// page that misses a room frame reads the auction again; one whose socket
// drops reconnects.
// Then both open a clock (dutch) auction: its price falls in both pages as
// the server steps it, and A buys two boxes at the price shown.
//   node tests/browser/live.mjs BASE AUCTION_ID A_EMAIL A_NICK B_EMAIL B_NICK PASSWORD SHOT_DESKTOP SHOT_PHONE CLOCK_ID
import { chromium } from "playwright-core";

const [base, auctionId, aEmail, aNick, bEmail, bNick, password, shotDesktop, shotPhone, clockId] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const failures = [];
const fail = (message) => failures.push(message);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

// B's socket goes through a proxy the test controls: it can drop the next
// room frame (a `seq` gap) or cut the connection.
// It can also lose the next bid answer together with the connection, and
// counts the answers that say `replayed`.
const proxy = { dropNextRoomFrame: false, loseNextAnswer: false, replayed: 0, sockets: [], connections: 0 };

async function bidder(email, nickname, viewport, proxied) {
  const context = await browser.newContext({ viewport, locale: "ko-KR" });
  const page = await context.newPage();
  if (proxied) {
    await page.routeWebSocket(/\/ws/, (ws) => {
      proxy.connections += 1;
      const server = ws.connectToServer();
      proxy.sockets.push({ ws, server });
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        const text = String(m);
        if (proxy.dropNextRoomFrame && text.includes('"seq"')) { proxy.dropNextRoomFrame = false; return; }
        if (proxy.loseNextAnswer && text.includes('"event":"system"') && text.includes('"bid_accepted"')) {
          proxy.loseNextAnswer = false;
          ws.close({ code: 1006, reason: "answer lost by the test" }).catch(() => {});
          server.close();
          return;
        }
        if (text.includes('"replayed":true')) proxy.replayed += 1;
        ws.send(m);
      });
      ws.onClose(() => server.close());
      server.onClose(() => ws.close());
    });
  }
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && m.text().includes("Content Security Policy")) page.errors.push(m.text()); });
  await page.goto(base + "/#/login");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#login-form button");
  await page.waitForFunction((nick) => document.getElementById("who").textContent.includes(nick), nickname);
  // Back on the list: the auction is there.
  await page.waitForSelector(`.auction-card[data-id="${auctionId}"]`, { timeout: 10000 });
  await page.click(`.auction-card[data-id="${auctionId}"] a`);
  await page.waitForSelector("#bid-form:not([hidden])", { timeout: 10000 });
  return page;
}

const text = (page, selector) => page.$eval(selector, (el) => el.textContent);
const endsAt = (page) => page.$eval("#countdown", (el) => Number(el.dataset.endsAt));

// Both pages show `price` and `leader`; returns how long it took (ms).
async function bothShow(pages, price, leader) {
  const started = Date.now();
  const shown = price.toLocaleString("ko-KR") + "원";
  await Promise.all(pages.map((p) => p.waitForFunction(
    ([shown, leader]) => document.getElementById("price").textContent === shown && document.getElementById("leader").textContent === leader,
    [shown, leader], { timeout: 5000 })));
  return Date.now() - started;
}

try {
  const a = await bidder(aEmail, aNick, { width: 1280, height: 900 });
  const b = await bidder(bEmail, bNick, { width: 360, height: 740 }, true);
  const pages = [a, b];
  const before = await Promise.all(pages.map(endsAt));

  // A bids what the box holds: the minimum next bid.
  const prefilled = Number(await a.inputValue("#bid-amount"));
  const minimum = Number((await text(a, "#min-next")).replace(/,/g, ""));
  if (prefilled !== minimum) fail(`the bid box holds ${prefilled}, the minimum is ${minimum}`);
  await a.click("#bid-form button");
  const first = await bothShow(pages, prefilled, aNick);
  if (first > 1000) fail(`the first bid took ${first} ms to show in both pages`);
  await a.waitForFunction(() => document.getElementById("bid-ok").textContent.length > 0);

  // The auction was in its last two minutes: both countdowns moved.
  await Promise.all(pages.map((p, i) => p.waitForFunction(
    (old) => Number(document.getElementById("countdown").dataset.endsAt) > old, before[i], { timeout: 3000 })
    .catch(() => fail(`the countdown of page ${i} did not move after a last-minutes bid`))));
  const after = await Promise.all(pages.map(endsAt));
  if (after[0] !== after[1]) fail(`the two countdowns disagree: ${after}`);

  // B sends too little: the Korean reason.
  await b.fill("#bid-amount", String(prefilled + 1));
  await b.click("#bid-form button");
  await b.waitForFunction(() => document.getElementById("bid-error").textContent.includes("입찰실패"), null, { timeout: 3000 })
    .catch(async () => fail(`no Korean refusal; the page says "${await text(b, "#bid-error")}"`));

  // B outbids A: both pages follow, and A's bell counts it without a reload
  // (A watches the auction: its ending-soon reminder may be there already).
  const bell = (page) => page.$eval("#bell-count", (el) => Number(el.textContent));
  const unreadBefore = await bell(a);
  const higher = Number(await b.$eval("#min-next", (el) => el.textContent.replace(/,/g, "")));
  await b.fill("#bid-amount", String(higher));
  await b.click("#bid-form button");
  const second = await bothShow(pages, higher, bNick);
  if (second > 1000) fail(`the second bid took ${second} ms to show in both pages`);
  await a.waitForFunction((n) => Number(document.getElementById("bell-count").textContent) > n && !document.getElementById("bell-count").hidden, unreadBefore, { timeout: 3000 })
    .catch(() => fail("A's bell did not count the outbid notification"));
  await a.click("#bell");
  await a.waitForSelector('#bell-list li[data-kind="outbid"]', { timeout: 3000 })
    .catch(() => fail("the outbid notification is not in A's list"));
  const history = await a.$$eval("#history li", (lis) => lis.map((li) => li.textContent));
  if (history.length !== 2 || !history[0].includes(bNick)) fail(`A's bid history: ${JSON.stringify(history)}`);

  // B misses a room frame: the `seq` gap makes it read the auction again,
  // so its history has the bid whose frame it never got.
  proxy.dropNextRoomFrame = true;
  const third = Number(await a.$eval("#min-next", (el) => el.textContent.replace(/,/g, "")));
  await a.fill("#bid-amount", String(third));
  await a.click("#bid-form button");
  await bothShow(pages, third, aNick);
  await b.waitForFunction((n) => document.querySelectorAll("#history li").length === n, 3, { timeout: 3000 })
    .catch(async () => fail(`after a seq gap B's history has ${await b.$$eval("#history li", (l) => l.length)} bids, not 3`));
  if (proxy.dropNextRoomFrame) fail("no room frame was dropped");

  // B's connection drops: the page reconnects, joins again and follows on.
  const connectionsBefore = proxy.connections;
  for (const { ws } of proxy.sockets) await ws.close({ code: 1006, reason: "dropped by the test" }).catch(() => {});
  for (let i = 0; i < 50 && proxy.connections === connectionsBefore; i++) await new Promise((r) => setTimeout(r, 100));
  if (proxy.connections === connectionsBefore) fail("B did not reconnect after its socket dropped");
  // Joined again: a frame answered on the new socket.
  await new Promise((r) => setTimeout(r, 500));
  const fourth = Number(await b.$eval("#min-next", (el) => el.textContent.replace(/,/g, "")));
  await b.fill("#bid-amount", String(fourth));
  await b.click("#bid-form button");
  await bothShow(pages, fourth, bNick).catch(() => fail("after reconnecting, B's bid did not reach both pages"));

  // B's next answer is lost with its connection (the bid was committed):
  // the page sends the bid again with the same ref on the new connection
  // and is answered from the first decision; the bid is placed once.
  const minNext = (page) => page.$eval("#min-next", (el) => Number(el.textContent.replace(/,/g, "")));
  const fifth = await minNext(a);
  await a.fill("#bid-amount", String(fifth));
  await a.click("#bid-form button");
  await bothShow(pages, fifth, aNick);
  const beforeLoss = proxy.connections;
  proxy.loseNextAnswer = true;
  const sixth = await minNext(b);
  await b.fill("#bid-amount", String(sixth));
  await b.click("#bid-form button");
  for (let i = 0; i < 80 && proxy.replayed === 0; i++) await new Promise((r) => setTimeout(r, 100));
  if (proxy.loseNextAnswer) fail("no bid answer was lost");
  if (proxy.connections === beforeLoss) fail("B did not reconnect after losing its answer");
  if (proxy.replayed !== 1) fail(`B's re-sent bid was answered replayed ${proxy.replayed} times, not once`);
  await b.waitForFunction(() => document.getElementById("bid-ok").textContent.length > 0, null, { timeout: 3000 })
    .catch(async () => fail(`B's page shows no answer after the re-send: "${await text(b, "#bid-error")}"`));
  await bothShow(pages, sixth, bNick).catch(() => fail("the re-sent bid is not the price in both pages"));
  await a.waitForFunction((n) => document.querySelectorAll("#history li").length === n, 6, { timeout: 3000 })
    .catch(async () => fail(`A's history has ${await a.$$eval("#history li", (l) => l.length)} bids, not 6: the re-sent bid was placed twice?`));

  // Nothing sideways at a phone's width.
  const overflow = await b.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the phone page scrolls sideways by ${overflow} px`);

  await a.screenshot({ path: shotDesktop, fullPage: true });
  await b.screenshot({ path: shotPhone, fullPage: true });

  // The clock room: the price falls in both pages by itself, a box count
  // and the price shown buy, and both pages see the boxes left.
  for (const p of pages) {
    await p.evaluate((id) => { location.hash = `#/auction/${id}`; }, clockId);
    await p.waitForSelector("#accept-form:not([hidden])", { timeout: 10000 });
  }
  if (!(await a.isHidden("#bid-form"))) fail("a clock auction shows the bid box");
  const shownPrice = await text(a, "#clock-price");
  await Promise.all(pages.map((p) => p.waitForFunction(
    (old) => document.getElementById("clock-price").textContent !== old, shownPrice, { timeout: 8000 })
    .catch(() => fail(`the clock did not step in a page within 8 s (still ${shownPrice})`))));
  await a.fill("#accept-units", "2");
  await a.click("#accept-form button");
  await a.waitForFunction(() => /2개/.test(document.getElementById("bid-ok").textContent), null, { timeout: 5000 })
    .catch(async () => fail(`A's accept was not answered bought: "${await text(a, "#bid-error")}"`));
  await Promise.all(pages.map((p) => p.waitForFunction(
    () => document.getElementById("clock-left").textContent.startsWith("8 /"), null, { timeout: 5000 })
    .catch(() => fail("a page does not show 8 boxes left after the accept"))));
  await b.waitForFunction(() => /× 2개/.test(document.getElementById("history").textContent), null, { timeout: 5000 })
    .catch(() => fail("B's history does not show the accept's two boxes"));

  for (const [name, page] of [["A", a], ["B", b]]) if (page.errors.length) fail(`${name}'s page errors: ${page.errors.join("; ")}`);
  console.log(`bids shown in both pages after ${first} ms and ${second} ms`);
} catch (e) {
  fail(String(e && e.stack || e));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error("live page check failed:\n" + failures.join("\n"));
  process.exitCode = 1;
} else {
  console.log("live ok");
}
