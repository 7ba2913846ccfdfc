// callgate admin page: plain DOM, no libraries. Charts are inline SVG drawn from
// /admin/api/series. Every change (log out, hang up) sends the session's CSRF token.

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2f6fdf", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#087f5b"];
let csrf = "";
let refreshTimer = 0;

async function api(path, opts = {}) {
  const init = { credentials: "same-origin", ...opts, headers: { ...(opts.headers || {}) } };
  if (init.method && init.method !== "GET") {
    init.headers["X-CSRF-Token"] = csrf;
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    showLogin();
    throw new Error("log in first");
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error((body.error && body.error.message) || res.statusText);
  }
  return body;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    tr.append(c instanceof Node ? wrapTD(c) : el("td", c));
  }
  tbody.append(tr);
  return tr;
}

function wrapTD(node) {
  const td = document.createElement("td");
  td.append(node);
  return td;
}

function fill(sel, items, cells, empty) {
  const tbody = $(sel + " tbody");
  tbody.replaceChildren();
  for (const it of items) row(tbody, cells(it));
  if (items.length === 0) {
    const tr = row(tbody, [empty]);
    tr.firstChild.colSpan = $(sel + " thead tr").children.length;
  }
}

const time = (t) => (t ? new Date(t).toLocaleTimeString() : "");
const dateTime = (t) => (t ? new Date(t).toLocaleString() : "");
const pct = (x) => (x === null || x === undefined ? "" : Math.round(x * 100) + "%");

function showError(err) {
  $("#error").textContent = err ? String(err.message || err) : "";
}

function showLogin() {
  clearInterval(refreshTimer);
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  document.body.dataset.state = "login";
}

async function showApp(user) {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#who").textContent = user;
  $("#who").hidden = false;
  $("#logout").hidden = false;
  document.body.dataset.state = "app";
  await refresh(true);
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => refresh(false).catch(showError), 3000);
}

async function refresh(all) {
  const ov = await api("/admin/api/overview");
  const sel = $("#tenant");
  if (sel.options.length === 0) {
    for (const t of ov.tenants) sel.append(new Option(t, t));
  }
  fill("#trunks", ov.trunks, (t) => [t.name, t.supplier || "", el("span", t.state, "state-" + t.state),
    t.probe ? t.probe.state : "", el("span", t.active, "num"), pct(t.asr), t.score.toFixed(2), t.why], "no trunks");
  fill("#pools", ov.pools, (p) => [p.pool, p.supplier || "", el("span", p.counted ? p.remaining : "?", "num"),
    el("span", p.total, "num"), el("span", p.blocked, "num"), pct(p.asr), String(p.weight), p.score.toFixed(2),
    p.drained ? "drained" : (p.takes_bindings ? "yes" : "no"), p.why], "no virtual pools");
  fill("#calls", ov.calls, (c) => {
    const b = el("button", "Hang up", "hangup");
    b.dataset.call = c.id;
    b.addEventListener("click", () => hangup(c.id).catch(showError));
    return [c.id.slice(0, 8), c.tenant, c.agent || "", c.caller, c.callee, c.out_trunk || c.in_trunk || "",
      c.state, time(c.setup_at), c.recording || "", b];
  }, "no calls in progress");
  document.body.dataset.liveCalls = String(ov.calls.length);
  if (ov.config) {
    const c = ov.config;
    let text = `version ${c.version.slice(0, 12)} loaded ${dateTime(c.loaded_at)} from ${c.files.join(", ")}`;
    if (c.last_reload) {
      const r = c.last_reload;
      text += ` — last reload ${dateTime(r.at)} by ${r.by}: ${r.ok ? "ok" : "refused"}`;
      if (r.errors && r.errors.length) text += " — " + r.errors.join("; ");
    }
    $("#config").textContent = text;
  }
  if (all) {
    await Promise.all([loadRecords(), loadSeries(), loadFeedback(), loadDNC()]);
  }
}

async function hangup(id) {
  await api(`/admin/api/calls/${encodeURIComponent(id)}/hangup`, { method: "POST" });
  await refresh(false);
}

function tenantPath() {
  return `/admin/api/tenants/${encodeURIComponent($("#tenant").value)}`;
}

function recordFilters() {
  const q = new URLSearchParams();
  for (const [id, key] of [["#f-agent", "agent"], ["#f-callee", "callee"], ["#f-result", "result"]]) {
    const v = $(id).value.trim();
    if (v) q.set(key, v);
  }
  const since = Number($("#f-since").value);
  if (since) q.set("since", String(Math.floor(Date.now() / 1000) - since));
  return q;
}

async function loadRecords() {
  if (!$("#tenant").value) return;
  const q = recordFilters();
  $("#csv").href = `${tenantPath()}/calls.csv?${q}`;
  q.set("limit", "100");
  const [list, recs] = await Promise.all([
    api(`${tenantPath()}/calls?${q}`),
    api(`${tenantPath()}/recordings?limit=500`).catch(() => ({ recordings: [] })),
  ]);
  const byCall = new Map(recs.recordings.map((r) => [r.call_id, r]));
  fill("#records", list.calls, (c) => {
    const r = byCall.get(c.id);
    let rec = "";
    if (r) {
      rec = el("a", r.state === "done" ? "WAV" : r.state);
      rec.href = `${tenantPath()}/calls/${encodeURIComponent(c.id)}/recording`;
    }
    return [dateTime(c.setup_at), c.id.slice(0, 8), c.direction, c.agent || "", c.caller, c.callee,
      c.out_trunk || c.in_trunk || "", c.result, c.sip_code, c.reason || "", c.billed_seconds, c.cost, rec];
  }, "no call records");
  document.body.dataset.records = String(list.calls.length);
}

async function loadFeedback() {
  if (!$("#tenant").value) return;
  const list = await api(`${tenantPath()}/feedback?limit=50`).catch(() => ({ feedback: [] }));
  fill("#feedback", list.feedback, (f) => [dateTime(f.created_at), f.call_id.slice(0, 8), f.agent || "", f.kind, f.note || ""], "no feedback");
}

async function loadDNC() {
  if (!$("#tenant").value) return;
  const list = await api(`${tenantPath()}/dnc?limit=100`).catch(() => ({ entries: [] }));
  fill("#dnc", list.entries, (e) => [e.number, e.list, e.source || "", dateTime(e.added_at)], "the list is empty");
}

async function loadSeries() {
  const s = await api(`/admin/api/series?window=${encodeURIComponent($("#window").value)}`);
  const n = s.calls.length;
  chart($("#chart-calls"), n, [{ points: s.calls, color: COLORS[0] }], null, s);
  chart($("#chart-answer"), n, s.answer_rate.map((t, i) => ({ points: t.points, color: COLORS[i % COLORS.length] })), 1, s);
  const legend = $("#answer-legend");
  legend.replaceChildren();
  s.answer_rate.forEach((t, i) => {
    const span = el("span", "■ " + t.trunk + (t.supplier ? ` (${t.supplier})` : ""));
    span.setAttribute("data-color", COLORS[i % COLORS.length]);
    legend.append(span);
  });
  chart($("#chart-setup"), n, [{ points: s.setup_ms, color: COLORS[2] }], null, s);
}

// chart draws series (arrays with nulls for gaps) as line paths over n buckets.
function chart(svg, n, series, fixedMax, s) {
  const W = 400, H = 140, L = 34, R = 6, T = 8, B = 18;
  svg.replaceChildren();
  let max = fixedMax || 0;
  if (!fixedMax) {
    for (const sr of series) for (const v of sr.points) if (v !== null && v > max) max = v;
    max = max > 0 ? niceMax(max) : 1;
  }
  const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (const f of [0, 0.5, 1]) {
    add("line", { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), stroke: "#e4e6ea" });
    add("text", { x: 2, y: y(max * f) + 3 }, fixedMax === 1 ? Math.round(f * 100) + "%" : fmt(max * f));
  }
  const start = new Date(s.start);
  add("text", { x: L, y: H - 4 }, start.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  add("text", { x: W - R - 30, y: H - 4 }, "now");
  for (const sr of series) {
    let d = "";
    let pen = false;
    sr.points.forEach((v, i) => {
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    // A lone point still shows: a short tick.
    d = d.replace(/M([\d.]+),([\d.]+) (?=M|$)/g, (m, px, py) => `M${px},${py} l2,0 `);
    const p = add("path", { d: d.trim() || `M${L},${y(0)} L${W - R},${y(0)}`, fill: "none", stroke: sr.color, "stroke-width": 1.6 });
    p.classList.add("series");
    // Dots mark the buckets that have data (a lone bucket is otherwise hard to see).
    sr.points.forEach((v, i) => {
      if (v !== null && v !== undefined && (v !== 0 || fixedMax)) {
        add("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.2, fill: sr.color });
      }
    });
  }
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const fmt = (v) => (v >= 1000 ? (v / 1000).toFixed(1) + "k" : String(Math.round(v * 10) / 10));

async function start() {
  $("#login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#login-error").textContent = "";
    try {
      const res = await fetch("/admin/login", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: $("#login-name").value, password: $("#login-password").value }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
      csrf = body.csrf;
      $("#login-password").value = "";
      await showApp(body.user);
    } catch (err) {
      $("#login-error").textContent = String(err.message || err);
    }
  });
  $("#logout").addEventListener("click", async () => {
    await api("/admin/logout", { method: "POST" }).catch(() => {});
    csrf = "";
    showLogin();
  });
  $("#filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadRecords().catch(showError);
  });
  $("#tenant").addEventListener("change", () => Promise.all([loadRecords(), loadFeedback(), loadDNC()]).catch(showError));
  $("#window").addEventListener("change", () => loadSeries().catch(showError));
  try {
    const me = await api("/admin/api/session");
    csrf = me.csrf;
    await showApp(me.user);
  } catch {
    showLogin();
  }
}

start();
