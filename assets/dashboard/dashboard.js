// Operator dashboard: logs in with the real API, then reads the operator
// endpoints and draws them. Everything it shows comes from /api/v1.
(() => {
  "use strict";
  const api = "/api/v1";
  let token = sessionStorage.getItem("sitga.access_token");
  const charts = {};
  // Chart labels are drawn on canvas: they need the Korean font stack too.
  Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue("--korean").trim() || "sans-serif";

  const el = (id) => document.getElementById(id);
  const text = (tag, content, cls) => {
    const node = document.createElement(tag);
    node.textContent = content;
    if (cls) node.className = cls;
    return node;
  };

  async function call(path) {
    const res = await fetch(api + path, { headers: { authorization: "Bearer " + token } });
    if (res.status === 401) {
      sessionStorage.removeItem("sitga.access_token");
      token = null;
      showLogin("세션이 만료되었습니다. 다시 로그인하세요. (Session expired.)");
      throw new Error("unauthorized");
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || res.status);
    return body;
  }

  function showLogin(message) {
    el("board").hidden = true;
    el("login").hidden = false;
    el("login-error").textContent = message || "";
  }

  el("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    el("login-error").textContent = "";
    const res = await fetch(api + "/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: el("email").value, password: el("password").value }),
    });
    const body = await res.json();
    if (!res.ok) {
      showLogin(body.message || "로그인 실패 (login failed)");
      return;
    }
    token = body.access_token;
    sessionStorage.setItem("sitga.access_token", token);
    start();
  });

  async function start() {
    let me;
    try {
      me = await call("/users/me");
    } catch (e) {
      return;
    }
    if (!me.roles.includes("admin") && !me.roles.includes("operator")) {
      showLogin("운영자 계정이 아닙니다. (This account is not an operator.)");
      return;
    }
    el("who").textContent = me.nickname;
    el("login").hidden = true;
    el("board").hidden = false;
    await Promise.all([loadProvinces(), loadAmounts(), loadRequests(), loadRankings(), loadBadges(), loadForecast(), loadChain(), loadDonations()]);
    document.body.dataset.loaded = "true";
  }

  async function loadProvinces() {
    const provinces = await fetch(api + "/provinces").then((r) => r.json());
    const select = el("filter-province");
    for (const p of provinces) {
      const option = text("option", p.name_ko + " " + p.name_en);
      option.value = p.code;
      select.appendChild(option);
    }
  }

  // The map's province ids (the vendored @svg-maps/south-korea) to ours.
  const MAP_IDS = {
    seoul: "seoul", busan: "busan", daegu: "daegu", incheon: "incheon", gwangju: "gwangju", daejeon: "daejeon",
    ulsan: "ulsan", sejong: "sejong", gyeonggi: "gyeonggi", gangwon: "gangwon", "north-chungcheong": "chungbuk",
    "south-chungcheong": "chungnam", "north-jeolla": "jeonbuk", "south-jeolla": "jeonnam",
    "north-gyeongsang": "gyeongbuk", "south-gyeongsang": "gyeongnam", jeju: "jeju",
  };
  const MEASURES = { supply_kg: "공급 supply", demand_kg: "수요 demand", completed_kg: "수거 완료 completed" };
  let amounts = [];
  let mapData = null;

  async function loadAmounts() {
    const [rows, map] = await Promise.all([call("/monitor/amounts"), mapData || import("/assets/vendor/south-korea/south-korea.js").then((m) => m.default)]);
    amounts = rows;
    mapData = map;
    const tbody = el("province-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.dataset.province = r.province;
      tr.dataset.supply = String(r.supply_kg);
      tr.dataset.demand = String(r.demand_kg);
      tr.dataset.completed = String(r.completed_kg);
      tr.append(text("td", r.name_ko + " " + r.name_en), text("td", r.supply_kg.toFixed(1)), text("td", r.demand_kg.toFixed(1)), text("td", r.completed_kg.toFixed(1)));
      tbody.appendChild(tr);
    }
    charts.province?.destroy();
    charts.province = new Chart(el("province-chart"), {
      type: "bar",
      data: {
        labels: rows.map((r) => r.name_ko),
        datasets: [
          { label: "공급 Supply", data: rows.map((r) => r.supply_kg), backgroundColor: "#582c0d" },
          { label: "수요 Demand", data: rows.map((r) => r.demand_kg), backgroundColor: "#2ac1bc" },
          { label: "수거 완료 Completed", data: rows.map((r) => r.completed_kg), backgroundColor: "#c8a27c" },
        ],
      },
      options: { animation: false, responsive: true, indexAxis: "y" },
    });
    drawMap();
  }

  // A choropleth of the chosen measure: white (none) to brown (the most),
  // with each province's figures on hover, focus and in its tooltip.
  function drawMap() {
    const measure = el("map-measure").value;
    const byCode = Object.fromEntries(amounts.map((r) => [r.province, r]));
    const max = Math.max(0, ...amounts.map((r) => r[measure]));
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", mapData.viewBox);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "지역별 " + MEASURES[measure] + " 지도 (map of Korea's provinces)");
    svg.dataset.measure = measure;
    for (const location of mapData.locations) {
      const code = MAP_IDS[location.id];
      const row = byCode[code] || { name_ko: location.name, name_en: location.name, supply_kg: 0, demand_kg: 0, completed_kg: 0 };
      const value = row[measure];
      const share = max > 0 ? value / max : 0;
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", location.path);
      path.setAttribute("tabindex", "0");
      // From #f6f1ee (nothing) to #582c0d (the most).
      const mix = (a, b) => Math.round(a + (b - a) * share);
      path.setAttribute("fill", `rgb(${mix(246, 88)}, ${mix(241, 44)}, ${mix(238, 13)})`);
      path.dataset.province = code;
      path.dataset.value = String(value);
      const label = `${row.name_ko} ${row.name_en}: 공급 ${row.supply_kg.toFixed(1)} · 수요 ${row.demand_kg.toFixed(1)} · 수거 완료 ${row.completed_kg.toFixed(1)} kg`;
      const title = document.createElementNS(ns, "title");
      title.textContent = label;
      path.appendChild(title);
      const show = () => { el("map-info").textContent = label; };
      path.addEventListener("mouseenter", show);
      path.addEventListener("focus", show);
      svg.appendChild(path);
    }
    el("map").querySelector("svg")?.remove();
    el("map").prepend(svg);
  }
  el("map-measure").addEventListener("change", drawMap);

  const STATUS = { waiting: "대기중", on_way: "가는중", completed: "수거 완료", cancelled: "취소" };

  async function loadRequests() {
    const params = new URLSearchParams({ per_page: "100" });
    if (el("filter-province").value) params.set("province", el("filter-province").value);
    if (el("filter-status").value) params.set("status", el("filter-status").value);
    if (el("filter-month").value) params.set("month", el("filter-month").value);
    const page = await call("/monitor/pickups?" + params);
    el("requests-total").textContent = `${page.total}건 (requests)`;
    el("requests-total").dataset.total = String(page.total);
    const tbody = el("requests-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const p of page.items) {
      const tr = document.createElement("tr");
      tr.append(
        // The operator's local date (the platform's days are Korean).
        text("td", new Date(p.created_at).toLocaleDateString("sv-SE")),
        text("td", p.owner),
        text("td", p.kind === "supply" ? "공급 supply" : "수요 demand"),
        text("td", p.amount_kg.toFixed(1)),
        text("td", (STATUS[p.status] || p.status) + " " + p.status, "status-" + p.status),
        text("td", p.province || "-"),
      );
      tbody.appendChild(tr);
    }
  }
  el("filter-province").addEventListener("change", loadRequests);
  el("filter-status").addEventListener("change", loadRequests);
  el("filter-month").addEventListener("change", loadRequests);

  // The latest recorded donations, each with a button that re-reads it
  // from the chain (GET /donations/{id}/proof) and says whether it matches.
  async function loadDonations() {
    const page = await call("/monitor/pickups?status=completed&per_page=100");
    const recorded = page.items.filter((p) => p.chain && p.chain.tx_hash).slice(0, 5);
    el("chain-donations-title").hidden = recorded.length === 0;
    const list = el("chain-donations");
    list.replaceChildren();
    for (const p of recorded) {
      const li = text("li", `#${p.id} ${p.cafe || p.owner} · ${(p.measured_kg ?? p.amount_kg).toFixed(1)} kg · block ${p.chain.block_number} · ${p.chain.tx_hash.slice(0, 10)}…`);
      li.dataset.id = String(p.id);
      const button = text("button", "증명 확인 Verify");
      const result = text("span", "");
      button.addEventListener("click", async () => {
        result.textContent = "…";
        try {
          const proof = await call(`/donations/${p.id}/proof`);
          result.className = proof.matches ? "proof-ok" : "proof-bad";
          result.textContent = proof.matches
            ? ` ✓ 체인 기록 일치 (matches the chain, block ${proof.on_chain.block_number})`
            : ` ✗ 불일치 (differs): ${proof.mismatches.join(", ") || "체인에 없음 not on chain"}`;
          result.dataset.matches = String(proof.matches);
        } catch (e) {
          result.className = "proof-bad";
          result.textContent = " " + e.message;
        }
      });
      li.append(button, result);
      list.appendChild(li);
    }
  }

  async function loadRankings() {
    for (const type of ["cafe", "recycler"]) {
      const rows = await call(`/rankings?type=${type}&period=month`);
      const list = el("rank-" + type);
      list.replaceChildren();
      for (const r of rows.slice(0, 10)) {
        const li = text("li", `${r.nickname} — ${r.kg.toFixed(1)} kg`);
        li.dataset.kg = String(r.kg);
        list.appendChild(li);
      }
    }
  }

  async function loadBadges() {
    const [counts, catalogue] = await Promise.all([call("/monitor/badges"), call("/badges")]);
    const names = Object.fromEntries(catalogue.map((b) => [b.code, b.name_ko]));
    charts.badges?.destroy();
    charts.badges = new Chart(el("badge-chart"), {
      type: "bar",
      data: {
        labels: counts.map((c) => names[c.code] || c.code),
        datasets: [{ label: "보유자 Holders", data: counts.map((c) => c.holders), backgroundColor: "#e3cec5" }],
      },
      options: { animation: false, indexAxis: "y" },
    });
    el("badge-chart").dataset.holders = JSON.stringify(Object.fromEntries(counts.map((c) => [c.code, c.holders])));
  }

  // The chain monitor: one sample a minute (latest block, the contract's
  // donation count, transactions since the previous sample).
  async function loadChain() {
    const monitor = await call("/monitor/chain?limit=120");
    const status = el("chain-status");
    const counts = `기록 완료 ${monitor.confirmed} · 대기 ${monitor.pending} · 실패 ${monitor.failed} (confirmed / pending / failed)`;
    if (!monitor.enabled) {
      status.hidden = false;
      status.replaceChildren(
        "블록체인 기록이 설정되지 않았습니다. ",
        text("small", "On-chain recording is not configured on this server (CHAIN_RPC_URL, CHAIN_PRIVATE_KEY, CHAIN_CONTRACT_ADDRESS): no samples to chart."),
      );
      return;
    }
    const samples = monitor.samples.slice().reverse();
    const canvas = el("chain-chart");
    canvas.hidden = false;
    canvas.dataset.donations = JSON.stringify(samples.map((s) => s.donation_count));
    charts.chain?.destroy();
    charts.chain = new Chart(canvas, {
      type: "line",
      data: {
        labels: samples.map((s) => s.sampled_at.slice(11, 16)),
        datasets: [
          { label: "기부 기록 수 Donations on chain", data: samples.map((s) => s.donation_count), borderColor: "#582c0d", yAxisID: "y" },
          { label: "트랜잭션 Transactions / sample", data: samples.map((s) => s.transactions), borderColor: "#2ac1bc", type: "bar", backgroundColor: "#2ac1bc55", yAxisID: "y1" },
        ],
      },
      options: { animation: false, scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
    });
    const last = monitor.samples[0];
    const today = `오늘 ${monitor.confirmed_today} / ${monitor.daily_tx_cap} (today / daily cap)`;
    el("chain-meta").textContent = `${monitor.contract} · ${last ? "block " + last.latest_block + " · " : ""}${counts} · ${today}`;
    // Operator alerts (caps reached, deferred or failed donations).
    const alerts = el("chain-alerts");
    alerts.hidden = monitor.alerts.length === 0;
    alerts.replaceChildren(...monitor.alerts.map((a) => text("li", a)));
  }

  // The nationwide 7-day forecasts: the latest stored run of each series.
  // A series without one says why (too little history, or not trained yet).
  async function latestForecast(kind) {
    const res = await fetch(`${api}/forecasts/latest?kind=${kind}`, { headers: { authorization: "Bearer " + token } });
    const body = await res.json();
    return res.ok ? { run: body } : { error: body };
  }

  async function loadForecast() {
    const [supply, demand] = await Promise.all([latestForecast("supply"), latestForecast("demand")]);
    const status = el("forecast-status");
    const runs = [supply.run, demand.run].filter(Boolean);
    if (runs.length === 0) {
      const reason = supply.error || demand.error || {};
      status.hidden = false;
      status.replaceChildren(
        "아직 예측이 없습니다. ",
        text("small", `No forecast exists yet: ${reason.message || "none has been made"} (${reason.error || "no_forecast"}).`),
      );
      el("forecast-chart").hidden = true;
      return;
    }
    status.hidden = true;
    const dates = runs[0].points.map((p) => p.date);
    const band = (run, key) => (run ? run.points.map((p) => p[key]) : []);
    const datasets = [];
    for (const [run, name, color] of [[supply.run, "공급 Supply", "#582c0d"], [demand.run, "수요 Demand", "#2ac1bc"]]) {
      if (!run) continue;
      datasets.push(
        { label: name + " (kg)", data: band(run, "yhat"), borderColor: color, backgroundColor: color, tension: 0.2 },
        { label: name + " 하한 lower", data: band(run, "lower"), borderColor: color + "55", borderDash: [4, 4], pointRadius: 0, fill: false },
        { label: name + " 상한 upper", data: band(run, "upper"), borderColor: color + "55", borderDash: [4, 4], pointRadius: 0, fill: "-1", backgroundColor: color + "22" },
      );
    }
    charts.forecast?.destroy();
    charts.forecast = new Chart(el("forecast-chart"), {
      type: "line",
      data: { labels: dates, datasets },
      options: { animation: false, responsive: true },
    });
    const canvas = el("forecast-chart");
    canvas.dataset.supply = JSON.stringify(band(supply.run, "yhat"));
    canvas.dataset.demand = JSON.stringify(band(demand.run, "yhat"));
    const describe = (run, name) => {
      if (!run) return `${name}: 예측 없음 (no forecast)`;
      const bt = run.backtest ? `, 최근 ${run.backtest.days}일 평균 오차 ${run.backtest.mae_kg.toFixed(1)} kg/day (backtest MAE)` : "";
      return `${name}: ${run.window_start} ~ ${run.window_end} 학습 (trained ${run.trained_at.slice(0, 16).replace("T", " ")} UTC)${bt}`;
    };
    el("forecast-meta").textContent = `${describe(supply.run, "공급 supply")} · ${describe(demand.run, "수요 demand")} · Prophet, 80% 구간 (interval)`;
  }

  if (token) start(); else showLogin();
})();
