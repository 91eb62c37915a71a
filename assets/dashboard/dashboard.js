// Operator dashboard: logs in with the real API, then reads the operator
// endpoints and draws them. Everything it shows comes from /api/v1.
(() => {
  "use strict";
  const api = "/api/v1";
  let token = sessionStorage.getItem("sitga.access_token");
  const charts = {};

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
    await Promise.all([loadProvinces(), loadAmounts(), loadRequests(), loadRankings(), loadBadges(), loadForecast(), loadChain()]);
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

  async function loadAmounts() {
    const rows = await call("/monitor/amounts");
    const tbody = el("province-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.dataset.province = r.province;
      tr.dataset.supply = String(r.supply_kg);
      tr.dataset.demand = String(r.demand_kg);
      tr.append(text("td", r.name_ko + " " + r.name_en), text("td", r.supply_kg.toFixed(1)), text("td", r.demand_kg.toFixed(1)));
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
        ],
      },
      options: { animation: false, responsive: true },
    });
  }

  const STATUS = { waiting: "대기중", on_way: "가는중", completed: "수거 완료", cancelled: "취소" };

  async function loadRequests() {
    const params = new URLSearchParams({ per_page: "100" });
    if (el("filter-province").value) params.set("province", el("filter-province").value);
    if (el("filter-status").value) params.set("status", el("filter-status").value);
    const page = await call("/monitor/pickups?" + params);
    el("requests-total").textContent = `${page.total}건 (requests)`;
    el("requests-total").dataset.total = String(page.total);
    const tbody = el("requests-table").querySelector("tbody");
    tbody.replaceChildren();
    for (const p of page.items) {
      const tr = document.createElement("tr");
      tr.append(
        text("td", p.created_at.slice(0, 10)),
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
