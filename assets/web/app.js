// The bidders' page: open auctions, an auction's live room, sign-up and
// login, the watch list star and the notification bell. Plain ES module, no
// build step. Everything shown from the server goes in with textContent
// (never as HTML). Times count from the server's clock (`server_now`), not
// the device's. See docs/protocol.md for the frames.

const $ = (id) => document.getElementById(id);
const STORE = { access: "sitga.web.access", refresh: "sitga.web.refresh", nickname: "sitga.web.nickname" };
const won = (n) => (n == null ? "-" : Number(n).toLocaleString("ko-KR") + "원");

// ---- session --------------------------------------------------------------

const session = {
  get access() { return localStorage.getItem(STORE.access); },
  get refresh() { return localStorage.getItem(STORE.refresh); },
  get nickname() { return localStorage.getItem(STORE.nickname); },
  save(tokens, nickname) {
    localStorage.setItem(STORE.access, tokens.access_token);
    localStorage.setItem(STORE.refresh, tokens.refresh_token);
    if (nickname) localStorage.setItem(STORE.nickname, nickname);
  },
  clear() { Object.values(STORE).forEach((k) => localStorage.removeItem(k)); },
};

let clockOffset = 0; // server time minus device time, in ms
const serverNow = () => Date.now() + clockOffset;
const syncClock = (serverMs) => { if (Number.isFinite(serverMs)) clockOffset = serverMs - Date.now(); };

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.body = body;
  }
}

let refreshing = null;
// One refresh at a time: refresh tokens rotate, a second use would end the session.
async function refreshTokens() {
  if (!session.refresh) throw new ApiError(401, { error: "missing_token" });
  refreshing ??= (async () => {
    try {
      const res = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: session.refresh }),
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) { session.clear(); showAccount(); throw new ApiError(res.status, body); }
      session.save(body);
    } finally { refreshing = null; }
  })();
  return refreshing;
}

async function api(path, { method = "GET", body, auth = false, retried = false } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth && session.access) headers.authorization = "Bearer " + session.access;
  const res = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && auth && !retried && session.refresh) {
    await refreshTokens();
    return api(path, { method, body, auth, retried: true });
  }
  if (!res.ok) throw new ApiError(res.status, data);
  if (data && data.server_now) syncClock(Date.parse(data.server_now));
  return data;
}

// ---- live connection ------------------------------------------------------

const live = {
  socket: null,
  room: null,       // the auction whose room we are in
  lastSeq: null,    // the last room `seq` seen
  backoff: 1000,
  handlers: new Set(),
  unanswered: new Map(), // ref → a bid or buy-now frame still waiting for its answer
};

// Seconds since the epoch at which the access token expires (its `exp`).
function accessExpiry() {
  try {
    const payload = session.access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp;
  } catch { return 0; }
}

async function connect() {
  if (live.socket) {
    live.socket.onclose = null;
    live.socket.close();
    live.socket = null;
  }
  // An expired token would be refused at the upgrade: refresh it first.
  if (session.access && accessExpiry() * 1000 < serverNow() + 10000) {
    try { await refreshTokens(); } catch { /* signed out: watch as a guest */ }
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = session.access ? "?access_token=" + encodeURIComponent(session.access) : "";
  const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
  live.socket = socket;
  socket.onopen = () => {
    live.backoff = 1000;
    if (live.room == null) return;
    send({ event: "join", room: String(live.room) });
    // A bid whose answer was lost with the old connection goes again with
    // the same ref, marked `resend`: the server answers it from the first
    // decision (`replayed`), never placing it twice.
    for (const frame of live.unanswered.values()) {
      if (frame.room === String(live.room)) send({ ...frame, resend: true });
    }
  };
  socket.onmessage = (e) => {
    let frame;
    try { frame = JSON.parse(e.data); } catch { return; }
    syncClock(frame.server_now);
    if (frame.event === "notification") return onNotification(frame);
    if (frame.room != null && String(frame.room) !== String(live.room)) return;
    if (frame.seq != null) {
      const gap = live.lastSeq != null && frame.seq > live.lastSeq + 1;
      live.lastSeq = frame.seq;
      // Frames were missed: read the auction again instead of guessing.
      if (gap) { resync(); return; }
    }
    live.handlers.forEach((h) => h(frame));
  };
  socket.onclose = async (e) => {
    if (live.socket !== socket) return;
    live.socket = null;
    if (/^(token_expired|session_revoked)/.test(e.reason || "") && session.refresh) {
      try { await refreshTokens(); } catch { /* signed out: watch as a guest */ }
    }
    setTimeout(connect, live.backoff);
    live.backoff = Math.min(live.backoff * 2, 10000);
  };
}

function send(frame) {
  if (live.socket && live.socket.readyState === WebSocket.OPEN) { live.socket.send(JSON.stringify(frame)); return true; }
  return false;
}

function joinRoom(id) {
  if (live.room != null && live.room !== id) send({ event: "leave", room: String(live.room) });
  live.room = id;
  live.lastSeq = null;
  if (id != null) send({ event: "join", room: String(id) });
}

// ---- notifications --------------------------------------------------------

let unread = 0;
function setUnread(n) {
  unread = Math.max(0, n);
  $("bell-count").textContent = String(unread);
  $("bell-count").hidden = unread === 0;
}

function notificationItem(n) {
  const li = document.createElement("li");
  li.dataset.kind = n.kind;
  li.dataset.id = String(n.id);
  if (!n.read_at) li.classList.add("unread");
  const text = document.createElement("a");
  text.textContent = n.context;
  if (n.auction_id != null) text.href = `#/auction/${n.auction_id}`;
  const when = document.createElement("small");
  when.textContent = new Date(typeof n.created_at === "number" ? n.created_at : Date.parse(n.created_at)).toLocaleTimeString("ko-KR");
  li.append(text, " ", when);
  return li;
}

function onNotification(frame) {
  setUnread(unread + 1);
  $("bell-list").prepend(notificationItem(frame));
  $("bell-empty").hidden = true;
}

async function loadBell() {
  if (!session.access) return;
  try { setUnread((await api("/me/notifications/unread-count", { auth: true })).unread); } catch { /* the bell waits */ }
}

async function openBell() {
  const panel = $("bell-panel");
  panel.hidden = !panel.hidden;
  $("bell").setAttribute("aria-expanded", String(!panel.hidden));
  if (panel.hidden) return;
  const page = await api("/me/notifications?per_page=20", { auth: true });
  $("bell-list").replaceChildren(...page.items.map(notificationItem));
  $("bell-empty").hidden = page.items.length > 0;
  if (page.unread > 0) setUnread((await api("/me/notifications/read", { method: "POST", body: { all: true }, auth: true })).unread);
}

// ---- views ----------------------------------------------------------------

function showAccount() {
  const signedIn = Boolean(session.access);
  $("who").textContent = signedIn ? `${session.nickname || ""}님` : "";
  $("bell").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  $("login-link").hidden = signedIn;
  if (!signedIn) { setUnread(0); $("bell-panel").hidden = true; }
}

function banner(text) {
  $("banner").textContent = text;
  $("banner").hidden = !text;
}

function countdownText(endsAt, status) {
  if (status && status !== "open" && status !== "scheduled") return statusText(status);
  const left = Math.max(0, endsAt - serverNow());
  const s = Math.floor(left / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return (d > 0 ? `${d}일 ` : "") + `${two(h)}:${two(m)}:${two(sec)}`;
}

function statusText(status) {
  return { open: "진행 중", scheduled: "시작 예정", sold: "낙찰", unsold: "유찰", cancelled: "취소" }[status] || status;
}

// Every countdown on the page ticks from its data-ends-at.
setInterval(() => {
  document.querySelectorAll("[data-ends-at]").forEach((el) => {
    if (el.dataset.endsAt) el.textContent = countdownText(Number(el.dataset.endsAt), el.dataset.status);
  });
}, 250);

function photo(el, auction) {
  const first = auction.photos && auction.photos[0];
  el.replaceChildren();
  if (first) {
    const img = document.createElement("img");
    img.src = first.urls.display || first.urls.thumb;
    img.alt = auction.title;
    img.loading = "lazy";
    el.append(img);
  } else {
    el.classList.add("placeholder");
    el.textContent = "사진 없음";
  }
}

async function renderList() {
  const params = new URLSearchParams({ status: $("f-status").value, sort: $("f-sort").value, per_page: "50" });
  const q = $("f-q").value.trim();
  if (q) params.set("q", q);
  const page = await api("/auctions?" + params, { auth: Boolean(session.access) });
  const cards = page.items.map((a) => {
    const li = document.createElement("li");
    li.className = "auction-card";
    li.dataset.id = String(a.id);
    const link = document.createElement("a");
    link.href = `#/auction/${a.id}`;
    const pic = document.createElement("div");
    pic.className = "photo";
    photo(pic, a);
    const title = document.createElement("h3");
    title.textContent = a.title;
    const species = document.createElement("p");
    species.className = "muted";
    species.textContent = a.species || "어종 미상";
    const price = document.createElement("p");
    price.className = "price";
    // A clock auction shows its clock's price (as of the listing).
    price.textContent = a.clock ? `시계 ${won(a.clock.price)} · ${a.clock.remaining}개 남음` : won(a.current_price ?? a.start_price);
    const meta = document.createElement("p");
    meta.className = "muted";
    const clock = document.createElement("span");
    clock.dataset.endsAt = String(Date.parse(a.status === "scheduled" ? a.starts_at : a.ends_at));
    clock.dataset.status = a.status;
    clock.textContent = countdownText(Number(clock.dataset.endsAt), a.status);
    meta.append(`입찰 ${a.bid_count}회 · `, clock);
    link.append(pic, title, species, price, meta);
    li.append(link);
    return li;
  });
  $("list").replaceChildren(...cards);
  $("list-empty").hidden = cards.length > 0;
}

// The auction page, kept current by the room's frames.
const view = { id: null, auction: null };

function applyState(s) {
  const a = view.auction;
  if (!a) return;
  a.current_price = s.price;
  a.min_next_bid = s.min_next_bid;
  a.leader = s.leader;
  a.bid_count = s.bid_count;
  a.ends_at = s.ends_at;
  a.starts_at = s.starts_at;
  a.status = s.status;
  a.buy_now = s.buy_now;
  paintLive();
}

// A clock (dutch) auction's clock from a `clock` frame or the auction's
// `clock`: the price to accept now, when it falls next, the boxes left.
function applyClock(c) {
  const a = view.auction;
  if (!a || !c) return;
  const next = typeof c.next_step_at === "string" ? Date.parse(c.next_step_at) : c.next_step_at;
  a.clock = { price: c.price, next, remaining: c.remaining, quantity: c.quantity };
  paintLive();
}

function paintLive() {
  const a = view.auction;
  const dutch = a.format === "dutch";
  $("price").textContent = won(dutch && a.clock ? a.clock.price : a.current_price);
  $("leader").textContent = a.leader || "-";
  $("bid-count").textContent = String(a.bid_count);
  const clock = $("countdown");
  clock.dataset.endsAt = String(a.status === "scheduled" ? a.starts_at : a.ends_at);
  clock.dataset.status = a.status;
  clock.textContent = countdownText(Number(clock.dataset.endsAt), a.status);
  $("a-status").textContent = a.status === "open" ? "" : statusText(a.status) + (a.status === "scheduled" ? " · 시작 시각이 되면 입찰할 수 있습니다" : "");
  $("min-next").textContent = Number(a.min_next_bid).toLocaleString("ko-KR");
  const amount = $("bid-amount");
  // Pre-filled with the minimum, unless the bidder typed more.
  // No `min` on the field: the server decides (someone may have bid since)
  // and its refusal says why, in Korean.
  if (document.activeElement !== amount || Number(amount.value) < a.min_next_bid) amount.value = String(a.min_next_bid);
  const canBid = Boolean(session.access) && a.status === "open";
  $("bid-form").hidden = !canBid || dutch;
  $("accept-form").hidden = !canBid || !dutch || !a.clock;
  if (dutch && a.clock) {
    $("clock-price").textContent = won(a.clock.price);
    const next = $("clock-next");
    // At the floor there is no next step: the clock only ends.
    next.dataset.endsAt = a.clock.next == null ? "" : String(a.clock.next);
    next.dataset.status = "open";
    next.textContent = a.clock.next == null ? "최저가" : countdownText(a.clock.next, "open");
    $("clock-left").textContent = `${a.clock.remaining} / ${a.clock.quantity}`;
  }
  $("chat-form").hidden = !session.access || !["open", "scheduled"].includes(a.status);
  $("bid-login").hidden = Boolean(session.access);
  const buy = $("buy-now");
  buy.hidden = !(canBid && a.buy_now) || dutch;
  if (a.buy_now) buy.textContent = `즉시 구매 ${won(a.buy_now)}`;
}

function historyItem(bidder, amount, seq, units) {
  const li = document.createElement("li");
  li.dataset.seq = String(seq);
  // A clock's accept buys several boxes at the price of each.
  li.textContent = `${bidder} · ${won(amount)}` + (units > 1 ? ` × ${units}개` : "");
  return li;
}

function chatLine(user, text, code) {
  const li = document.createElement("li");
  li.className = code || "chat";
  if (user) {
    const who = document.createElement("b");
    who.textContent = user;
    li.append(who, " ");
  }
  li.append(text);
  $("chat-log").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function onRoomFrame(f) {
  if (view.id == null) return;
  if (f.event === "state") applyState(f);
  else if (f.event === "clock") applyClock(f);
  else if (f.event === "message") {
    if (f.code === "bid_accepted") {
      $("history").prepend(historyItem(f.user, f.amount, f.bid_seq, f.units));
      // Someone else's bid: "your bid is the highest" is no longer true.
      if (f.user !== session.nickname) $("bid-ok").textContent = "";
    }
    chatLine(f.code === "chat" ? f.user : null, f.context, f.code);
  } else if (f.event === "closed") {
    view.auction.status = f.status;
    paintLive();
    chatLine(null, f.context, "notice");
  } else if (f.event === "system") onAnswer(f);
}

function onAnswer(f) {
  if (f.ref != null) live.unanswered.delete(f.ref);
  if (f.code === "history") {
    $("chat-log").replaceChildren();
    f.messages.forEach((m) => chatLine(m.code === "chat" ? m.user : null, m.context, m.code));
    return;
  }
  if (f.code === "bid_accepted" || f.code === "bought" || f.code === "max_raised") {
    $("bid-error").textContent = "";
    // Your own maximum: only this answer carries it, and only to you.
    $("my-max").hidden = f.max == null;
    if (f.max != null) $("my-max").textContent = `내 최대 입찰가 ${won(f.max)} (나만 볼 수 있습니다)`;
    if (f.leading === false) {
      $("bid-ok").textContent = "";
      $("bid-error").textContent = "입찰은 기록되었지만 더 높은 자동 입찰이 바로 앞섰습니다.";
      return;
    }
    $("bid-ok").textContent = f.context || f.text;
    return;
  }
  // A refusal: the Korean reason, and the figure that helps.
  $("bid-ok").textContent = "";
  let reason = f.context || f.text;
  if (f.min_next_bid != null) reason += ` (최소 ${won(f.min_next_bid)})`;
  if (f.min_max != null) reason += ` (최대 입찰가는 ${won(f.min_max)} 이상)`;
  if (f.code === "price_moved" && f.price != null) reason += ` (지금 가격 ${won(f.price)})`;
  if (f.remaining != null) reason += ` (남은 수량 ${f.remaining}개)`;
  $("bid-error").textContent = reason;
}

async function loadAuction(id) {
  const a = await api(`/auctions/${id}`, { auth: Boolean(session.access) });
  a.ends_at = Date.parse(a.ends_at);
  a.starts_at = a.starts_at ? Date.parse(a.starts_at) : null;
  a.buy_now = a.buy_now_available ? a.buy_now_price : null;
  view.auction = a;
  if (a.clock) applyClock(a.clock);
  $("auction").dataset.id = String(id);
  $("a-title").textContent = a.title;
  $("a-species").textContent = [a.species, a.weight_g ? `${a.weight_g} g` : null, a.catch_area].filter(Boolean).join(" · ");
  $("a-seller").textContent = `판매자 ${a.seller}`;
  photo($("a-photo"), a);
  paintWatch(a.watching, a.watchers);
  paintLive();
  const bids = await api(`/auctions/${id}/bids?per_page=50`);
  $("history").replaceChildren(...bids.items.map((b) => historyItem(b.bidder, b.amount, b.seq, b.units)));
}

function paintWatch(watching, watchers) {
  const star = $("watch");
  star.hidden = !session.access;
  star.setAttribute("aria-pressed", String(Boolean(watching)));
  star.textContent = watching ? "★ 관심 해제" : "☆ 관심";
  $("watchers").textContent = watchers != null ? `${watchers}명 관심` : "";
}

async function resync() {
  if (view.id == null) return;
  await loadAuction(view.id);
  send({ event: "getmessage", room: String(view.id) });
}

async function showAuction(id) {
  view.id = id;
  $("bid-error").textContent = "";
  $("bid-ok").textContent = "";
  $("my-max").hidden = true;
  $("chat-log").replaceChildren();
  await loadAuction(id);
  joinRoom(id);
  send({ event: "getmessage", room: String(id) });
}

async function route() {
  const [, name, arg] = location.hash.split("/");
  for (const v of ["list", "auction", "login"]) $("view-" + v).hidden = true;
  banner("");
  try {
    if (name === "auction" && /^\d+$/.test(arg || "")) {
      $("view-auction").hidden = false;
      await showAuction(Number(arg));
      return;
    }
    view.id = null;
    view.auction = null;
    joinRoom(null);
    if (name === "login") { $("view-login").hidden = false; return; }
    $("view-list").hidden = false;
    await renderList();
  } catch (e) {
    banner(e.status === 404 ? "찾을 수 없는 경매입니다." : `불러오지 못했습니다: ${e.message}`);
  }
}

// ---- forms ----------------------------------------------------------------

async function signedIn(tokens) {
  session.save(tokens);
  const me = await api("/users/me", { auth: true });
  session.save(tokens, me.nickname);
  showAccount();
  loadBell();
  connect();
  location.hash = "#/";
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    await signedIn(await api("/auth/login", { method: "POST", body: { email: $("email").value, password: $("password").value } }));
  } catch (err) {
    $("login-error").textContent = err.code === "invalid_credentials" ? "이메일 또는 비밀번호가 맞지 않습니다." : err.message;
  }
});

$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signup-error").textContent = "";
  const body = { email: $("su-email").value, password: $("su-password").value, nickname: $("su-nickname").value, name: $("su-name").value };
  try {
    await api("/auth/signup", { method: "POST", body });
    await signedIn(await api("/auth/login", { method: "POST", body: { email: body.email, password: body.password } }));
  } catch (err) {
    $("signup-error").textContent = err.message;
  }
});

$("logout").addEventListener("click", async () => {
  const refresh = session.refresh;
  session.clear();
  showAccount();
  if (refresh) await api("/auth/logout", { method: "POST", body: { refresh_token: refresh } }).catch(() => {});
  connect();
  route();
});

// Each bid's `ref` is an idempotency key (a re-sent frame is answered, never
// placed twice): unique per page load, so a reload never reuses one.
const refPrefix = Array.from(crypto.getRandomValues(new Uint32Array(2)), (n) => n.toString(36)).join("");
let bidRef = 0;
const nextRef = () => `web-${refPrefix}-${++bidRef}`;
$("bid-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const amount = Number($("bid-amount").value);
  const maxText = $("bid-max").value.trim();
  const max = maxText === "" ? null : Number(maxText);
  $("bid-ok").textContent = "";
  if (!Number.isSafeInteger(amount) || amount <= 0 || (max !== null && (!Number.isSafeInteger(max) || max <= 0))) {
    $("bid-error").textContent = "금액은 원 단위 정수로 입력하세요.";
    return;
  }
  $("bid-error").textContent = "";
  const frame = { event: "bid", room: String(view.id), ref: nextRef() };
  // The leader only raises their maximum; anyone else bids the amount now
  // and, with a maximum, lets the server defend it up to there.
  const leading = view.auction && view.auction.leader && view.auction.leader === session.nickname;
  if (!(leading && max !== null)) frame.amount = amount;
  if (max !== null) frame.max = max;
  if (send(frame)) live.unanswered.set(frame.ref, frame);
  else $("bid-error").textContent = "연결이 끊겼습니다. 다시 연결하는 중입니다.";
});

$("accept-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const a = view.auction;
  const units = Number($("accept-units").value);
  $("bid-ok").textContent = "";
  if (!Number.isSafeInteger(units) || units <= 0) {
    $("bid-error").textContent = "수량은 1 이상의 정수로 입력하세요.";
    return;
  }
  $("bid-error").textContent = "";
  // The price as shown: if the clock stepped meanwhile, the server says so
  // (price_moved) and nothing is bought.
  const frame = { event: "accept", room: String(view.id), units, price: a.clock.price, ref: nextRef() };
  if (send(frame)) live.unanswered.set(frame.ref, frame);
  else $("bid-error").textContent = "연결이 끊겼습니다. 다시 연결하는 중입니다.";
});

$("buy-now").addEventListener("click", () => {
  const a = view.auction;
  if (a && a.buy_now && confirm(`${won(a.buy_now)}에 즉시 구매할까요?`)) {
    const frame = { event: "buy_now", room: String(view.id), price: a.buy_now, ref: nextRef() };
    if (send(frame)) live.unanswered.set(frame.ref, frame);
  }
});

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-input").value.trim();
  if (text && send({ event: "message", room: String(view.id), message: text })) $("chat-input").value = "";
});

$("watch").addEventListener("click", async () => {
  const watching = $("watch").getAttribute("aria-pressed") === "true";
  try {
    const w = await api(`/me/watchlist/${view.id}`, { method: watching ? "DELETE" : "PUT", auth: true });
    paintWatch(w.watching, w.watchers);
  } catch (err) { $("bid-error").textContent = err.message; }
});

$("bell").addEventListener("click", () => openBell().catch((err) => banner(err.message)));
for (const id of ["f-status", "f-sort"]) $(id).addEventListener("change", () => renderList().catch((e) => banner(e.message)));
let typing;
$("f-q").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => renderList().catch((e) => banner(e.message)), 300); });
$("filters").addEventListener("submit", (e) => e.preventDefault());

live.handlers.add(onRoomFrame);
window.addEventListener("hashchange", route);
showAccount();
loadBell();
connect();
route();
