// The agent page, built on the SDK like any business page would be.
import {
  Callgate, describeError, describeEnd, formatDuration, cleanNumber, STATE_NAMES, END_REASONS,
} from "/sdk/callgate.js";

const $ = (id) => document.getElementById(id);
const el = {
  status: $("status"), seats: $("seats"), whoami: $("whoami"), logout: $("logout"), reconnectNow: $("reconnect-now"),
  error: $("error"),
  loginView: $("login-view"), loginForm: $("login-form"), retry: $("retry"), tenant: $("tenant"), agent: $("agent"), password: $("password"), login: $("login"),
  phoneView: $("phone-view"),
  number: $("number"), backspace: $("backspace"), keypad: $("keypad"),
  dial: $("dial"), hangup: $("hangup"), mute: $("mute"), hold: $("hold"), transfer: $("transfer"),
  transferForm: $("transfer-form"), transferNumber: $("transfer-number"), transferCancel: $("transfer-cancel"),
  micLevel: $("mic-level"), micBar: document.querySelector("#mic-level .bar"),
  incoming: $("incoming"), incomingFrom: $("incoming-from"), incomingTo: $("incoming-to"),
  incomingAccept: $("incoming-accept"), incomingDecline: $("incoming-decline"),
  callState: $("call-state"), callPeer: $("call-peer"), callTimer: $("call-timer"), callCode: $("call-code"), dtmfSent: $("dtmf-sent"),
  history: $("history"), historyRefresh: $("history-refresh"),
  feedbackForm: $("feedback-form"), feedbackTarget: $("feedback-target"), feedbackKind: $("feedback-kind"),
  feedbackNote: $("feedback-note"), feedbackSend: $("feedback-send"), feedbackResult: $("feedback-result"),
};

const sdk = new Callgate();
window.callgate = sdk; // for tests and the console

const params = new URLSearchParams(location.search);
const ui = {
  lastCall: null,        // the last call event (kept after "ended" for the display)
  dialing: false,        // dial() pending
  reconnectAt: 0,        // when the next reconnect attempt runs (ms), while reconnecting
  feedbackCall: null,    // {call, to, at}: the call feedback goes to
  calls: [],             // history
  token: null,           // from ?token=: signing in again reuses it
};

// ---- messages ------------------------------------------------------------------------

function showError(msg) {
  el.error.textContent = msg || "";
  el.error.dataset.kind = msg ? "error" : "";
}

function errorText(err) {
  if (!err) return "";
  if (err.code) return describeError(err.code, err.serverMessage);
  return err.message || String(err);
}

el.error.addEventListener("click", () => { if (sdk.state !== "reconnecting") showError(""); });

// ---- login ---------------------------------------------------------------------------

el.tenant.value = params.get("tenant") || localStorage.getItem("callgate.tenant") || "";
el.agent.value = params.get("agent") || localStorage.getItem("callgate.agent") || "";

async function login(credentials) {
  showError("");
  el.login.disabled = true;
  el.login.textContent = "Signing in…";
  try {
    await sdk.connect(credentials);
  } catch (err) {
    if (err.code === "mic_refused") showError(err.message); // already the whole sentence
    else if (err.code === "bad_credentials" && credentials.token) {
      ui.token = null; // the link is no good: fall back to the password form
      showError("This login link is invalid or has expired: sign in with your password.");
    } else showError(errorText(err));
    showLogin();
  } finally {
    el.login.disabled = false;
    el.login.textContent = "Sign in";
  }
}

el.loginForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const tenant = el.tenant.value.trim(), agent = el.agent.value.trim();
  localStorage.setItem("callgate.tenant", tenant);
  localStorage.setItem("callgate.agent", agent);
  login({ tenant, agent, password: el.password.value });
});

el.logout.addEventListener("click", () => {
  ui.signingOut = true;
  ui.token = null; // signing out forgets the link
  sdk.disconnect();
  ui.signingOut = false;
  el.password.value = "";
  showLogin();
});

el.reconnectNow.addEventListener("click", () => { sdk.connect().catch(() => {}); });
el.retry.addEventListener("click", () => { if (ui.token) login({ token: ui.token }); });

function showLogin() {
  el.loginView.hidden = false;
  // Signed in by link: offer to try the link again rather than a password form.
  el.loginForm.hidden = !!ui.token;
  el.retry.hidden = !ui.token;
  el.phoneView.hidden = true;
  el.logout.hidden = true;
  el.whoami.textContent = "";
  el.seats.textContent = "";
}

function showPhone() {
  el.loginView.hidden = true;
  el.phoneView.hidden = false;
  el.logout.hidden = false;
}

// ---- SDK events ----------------------------------------------------------------------

sdk.on("ready", (ready) => {
  showError("");
  showPhone();
  el.whoami.textContent = `${ready.agent} · ${ready.tenant}`;
  const s = ready.seats || {};
  el.seats.textContent = `Seats ${s.used ?? "?"}/${s.total ?? "?"}`;
  el.seats.dataset.used = s.used ?? "";
  el.seats.dataset.total = s.total ?? "";
  el.password.value = "";
  refreshHistory();
  render();
  if (document.activeElement === document.body || document.activeElement === el.login) el.number.focus();
});

sdk.on("statechange", render);

sdk.on("call", (ev) => {
  const prev = ui.lastCall;
  // Keep to/from of the call across its events (only the first carries them).
  ui.lastCall = prev && prev.call === ev.call ? { ...prev, ...ev } : { ...ev };
  if (sdk.currentCall?.call === ev.call) ui.lastCall.direction = sdk.currentCall.direction;
  render();
});

sdk.on("ended", (ev) => {
  const c = ui.lastCall && ui.lastCall.call === ev.call ? ui.lastCall : ev;
  setFeedbackTarget({ call: ev.call, to: c.direction === "inbound" ? c.from : c.to, at: Date.now() });
  el.transferForm.hidden = true;
  // The record is written as the call ends: give the server a moment.
  setTimeout(refreshHistory, 600);
  render();
});

// ---- callbacks: a customer calls back the number the agent called them from ---------

sdk.on("incoming", () => renderIncoming());
sdk.on("incomingcancelled", ({ reason }) => {
  renderIncoming();
  if (reason === "cancel") flashStatus("The customer hung up");
  else if (reason === "no_answer") flashStatus("Missed call");
});

function renderIncoming() {
  const inc = sdk.incoming;
  el.incoming.hidden = !inc;
  if (!inc) return;
  el.incoming.dataset.call = inc.call;
  el.incomingFrom.textContent = inc.from || "Unknown number";
  el.incomingTo.textContent = inc.to ? `Called your number ${inc.to}` : "";
  // Accepting during a call is refused (busy): hang up first.
  el.incomingAccept.disabled = !!sdk.currentCall || sdk.state !== "ready";
  el.incomingDecline.disabled = sdk.state !== "ready";
}

async function answerIncoming(accept) {
  const inc = sdk.incoming;
  if (!inc) return;
  el.incomingAccept.disabled = el.incomingDecline.disabled = true;
  showError("");
  try {
    if (accept) {
      timerFinal = "00:00";
      timerCall = null;
      await inc.accept();
    } else {
      await inc.decline();
    }
  } catch (err) {
    showError(`${accept ? "Could not accept" : "Could not decline"} the call: ${errorText(err)}`);
  } finally {
    renderIncoming();
    render();
  }
}
el.incomingAccept.addEventListener("click", () => answerIncoming(true));
el.incomingDecline.addEventListener("click", () => answerIncoming(false));

sdk.on("mute", render);

sdk.on("micrefused", ({ message }) => showError(message));

sdk.on("error", (d) => {
  if (d.code === "bad_credentials") ui.token = null; // e.g. the token was revoked while reconnecting
  showError(d.message || describeError(d.code));
});

sdk.on("disconnected", ({ reconnect }) => {
  if (!reconnect && !ui.signingOut && el.phoneView.hidden === false && sdk.state === "closed") {
    // Closed for good while signed in (e.g. the token was revoked while reconnecting).
    if (!el.error.textContent) showError("Disconnected from callgate. Sign in again.");
    showLogin();
  }
  render();
});

sdk.on("reconnecting", ({ at }) => {
  ui.reconnectAt = at;
  tickReconnect();
});

sdk.on("reconnected", () => {
  ui.reconnectAt = 0;
  showError("");
  flashStatus("Reconnected");
});

function tickReconnect() {
  if (sdk.state !== "reconnecting") return;
  const left = Math.max(0, Math.ceil((ui.reconnectAt - Date.now()) / 1000));
  const msg = left > 0 ? `Connection to callgate lost. Reconnecting in ${left}s…` : "Connection to callgate lost. Reconnecting…";
  showError(msg);
  el.error.dataset.kind = "warning";
  el.status.textContent = left > 0 ? `Reconnecting in ${left}s…` : "Reconnecting…";
}
setInterval(tickReconnect, 250);

let flashTimer = null;
function flashStatus(text) {
  el.status.textContent = text;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(render, 2000);
}

// ---- rendering -----------------------------------------------------------------------

const STATUS_TEXT = { idle: "Offline", connecting: "Connecting…", ready: "Online", reconnecting: "Reconnecting…", closed: "Offline" };

function render() {
  const s = sdk.state;
  el.status.dataset.state = s;
  if (s !== "reconnecting") el.status.textContent = STATUS_TEXT[s] || s;
  el.reconnectNow.hidden = s !== "reconnecting";

  const c = sdk.currentCall;
  const last = ui.lastCall;
  const state = c ? c.state : last ? last.state : "idle";
  const live = !!c;
  const talking = live && (c.state === "connected" || c.state === "held");

  // Call card.
  el.callState.dataset.state = state;
  el.callState.textContent = stateText(state);
  const view = c || last;
  if (view) {
    const peer = view.direction === "inbound"
      ? [view.from && `From ${view.from}`, view.to && `to ${view.to}`].filter(Boolean).join(" · ")
      : [view.to && `To ${view.to}`, view.from && `shown as ${view.from}`].filter(Boolean).join(" · ");
    if (peer) el.callPeer.textContent = peer;
  } else {
    el.callPeer.textContent = "";
  }
  if (!live) { el.dtmfSent.textContent = ""; ui.dtmfCall = null; }
  if (state === "ended" && last) {
    el.callCode.textContent = describeEnd(last);
    el.callCode.dataset.code = last.code ?? "";
    el.callCode.dataset.reason = last.reason ?? "";
  } else {
    el.callCode.textContent = "";
    delete el.callCode.dataset.code;
    delete el.callCode.dataset.reason;
  }
  renderTimer();

  // Buttons.
  const ready = s === "ready";
  el.dial.disabled = !ready || live || ui.dialing;
  el.hangup.disabled = !live && !ui.dialing;
  el.mute.disabled = !live;
  el.mute.setAttribute("aria-pressed", String(sdk.muted));
  el.mute.textContent = sdk.muted ? "Unmute" : "Mute";
  el.hold.disabled = !talking;
  const held = live && c.state === "held";
  el.hold.setAttribute("aria-pressed", String(held));
  el.hold.textContent = held ? "Resume" : "Hold";
  el.transfer.disabled = !talking;
  if (!talking) el.transferForm.hidden = true;
  el.keypad.dataset.mode = live ? "dtmf" : "number";
  el.feedbackSend.disabled = !ui.feedbackCall || !ready;
  document.body.dataset.call = state;
  renderIncoming();
}

function stateText(state) {
  switch (state) {
    case "idle": return "No call";
    case "answering": return "Answering…";
    case "dialing": return "Dialing…";
    case "ringing": return "Ringing…";
    case "early": return "Early media — ringback or announcement";
    case "connected": return "Connected";
    case "held": return "On hold";
    case "ended": return "Ended";
    default: return STATE_NAMES[state] || state;
  }
}

let timerCall = null;
let timerFinal = "00:00";
function renderTimer() {
  const c = sdk.currentCall;
  if (c?.connectedAt) {
    timerCall = c.call;
    timerFinal = formatDuration(Date.now() - c.connectedAt);
    el.callTimer.textContent = timerFinal;
    el.callTimer.dataset.running = "true";
  } else {
    // Not connected (yet), or ended: keep the final duration of the last call.
    el.callTimer.dataset.running = "false";
    if (c && c.call !== timerCall) timerFinal = "00:00";
    el.callTimer.textContent = timerFinal;
  }
}
setInterval(renderTimer, 250);

// Microphone meter.
function meter() {
  const v = sdk.state === "ready" || sdk.state === "reconnecting" ? sdk.level() : 0;
  const shown = sdk.muted ? 0 : v;
  el.micBar.style.width = `${Math.round(shown * 100)}%`;
  el.micLevel.dataset.level = v.toFixed(2);
  el.micLevel.setAttribute("aria-valuenow", v.toFixed(2));
  el.micLevel.dataset.hot = String(shown > 0.9);
  requestAnimationFrame(meter);
}
requestAnimationFrame(meter);

// ---- dialing and call control --------------------------------------------------------

async function dial() {
  const number = cleanNumber(el.number.value);
  if (!number) {
    showError("Enter a number to call.");
    el.number.focus();
    return;
  }
  showError("");
  ui.dialing = true;
  ui.lastCall = { call: "", state: "dialing", to: number };
  timerFinal = "00:00";
  timerCall = null;
  render();
  try {
    await sdk.dial(number);
  } catch (err) {
    ui.lastCall = null;
    showError(`Call not placed: ${errorText(err)}`);
  } finally {
    ui.dialing = false;
    render();
  }
}

el.dial.addEventListener("click", dial);
el.number.addEventListener("keydown", (e) => {
  if (e.key === "Enter") { e.preventDefault(); if (!el.dial.disabled) dial(); }
});
el.number.addEventListener("paste", () => setTimeout(() => { el.number.value = cleanNumber(el.number.value); }, 0));
el.backspace.addEventListener("click", () => { el.number.value = el.number.value.slice(0, -1); el.number.focus(); });

el.hangup.addEventListener("click", () => {
  sdk.hangup().catch((err) => showError(errorText(err)));
});

el.mute.addEventListener("click", () => {
  sdk.mute(!sdk.muted).catch((err) => showError(errorText(err))).finally(render);
});

el.hold.addEventListener("click", () => {
  const on = sdk.currentCall?.state !== "held";
  el.hold.disabled = true;
  sdk.hold(on).catch((err) => showError(`${on ? "Hold" : "Resume"} failed: ${errorText(err)}`)).finally(render);
});

el.transfer.addEventListener("click", () => {
  el.transferForm.hidden = !el.transferForm.hidden;
  if (!el.transferForm.hidden) el.transferNumber.focus();
});
el.transferCancel.addEventListener("click", () => { el.transferForm.hidden = true; });
el.transferForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const to = cleanNumber(el.transferNumber.value);
  if (!to) return;
  try {
    await sdk.transfer(to);
    el.transferForm.hidden = true;
    el.transferNumber.value = "";
  } catch (err) {
    showError(`Transfer failed: ${errorText(err)}`);
  }
});

// Keypad: digits go into the number when idle, and out as DTMF during a call.
function pressDigit(d) {
  const c = sdk.currentCall;
  if (c) {
    if (c.state === "connected" || c.state === "early") {
      sdk.sendDTMF(d).catch((err) => showError(`DTMF not sent: ${errorText(err)}`));
      if (ui.dtmfCall !== c.call) { ui.dtmfCall = c.call; el.dtmfSent.textContent = ""; }
      el.dtmfSent.textContent = `Sent: ${(el.dtmfSent.textContent.replace(/^Sent: /, "") + d).slice(-24)}`;
    }
    return;
  }
  el.number.value += d;
}
el.keypad.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-digit]");
  if (!b) return;
  pressDigit(b.dataset.digit);
  b.classList.add("pressed");
  setTimeout(() => b.classList.remove("pressed"), 120);
});
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
  if (e.ctrlKey || e.metaKey || e.altKey || el.phoneView.hidden) return;
  if (/^[0-9*#]$/.test(e.key)) {
    e.preventDefault();
    pressDigit(e.key);
    el.keypad.querySelector(`button[data-digit="${CSS.escape(e.key)}"]`)?.classList.add("pressed");
    setTimeout(() => el.keypad.querySelector(".pressed")?.classList.remove("pressed"), 120);
  } else if (e.key === "Enter" && !sdk.currentCall && !el.dial.disabled) {
    dial();
  }
});

// ---- history and feedback ------------------------------------------------------------

async function refreshHistory() {
  if (sdk.state !== "ready") return;
  try {
    ui.calls = await sdk.history(20);
  } catch (err) {
    if (err.code !== "connection_lost" && err.code !== "not_connected") showError(`Could not load recent calls: ${errorText(err)}`);
    return;
  }
  renderHistory();
}
el.historyRefresh.addEventListener("click", refreshHistory);

function renderHistory() {
  el.history.replaceChildren();
  if (!ui.calls.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No calls yet.";
    el.history.append(li);
    return;
  }
  for (const c of ui.calls) {
    const li = document.createElement("li");
    li.dataset.call = c.call;
    li.dataset.state = c.state;
    if (c.code) li.dataset.code = c.code;
    if (ui.feedbackCall?.call === c.call) li.classList.add("selected");

    const main = document.createElement("div");
    main.className = "h-main";
    const to = document.createElement("span");
    to.className = "h-to";
    to.textContent = c.to || "—";
    const when = document.createElement("time");
    when.className = "h-time";
    if (c.setup_at) {
      const d = new Date(c.setup_at);
      when.dateTime = d.toISOString();
      when.textContent = d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    }
    main.append(to, when);

    const sub = document.createElement("div");
    sub.className = "h-sub";
    sub.textContent = historyOutcome(c);

    const fb = document.createElement("button");
    fb.type = "button";
    fb.className = "link h-feedback";
    fb.dataset.call = c.call;
    fb.textContent = "Feedback";
    fb.addEventListener("click", () => {
      setFeedbackTarget({ call: c.call, to: c.to, at: c.setup_at });
      el.feedbackKind.focus();
    });

    li.append(main, sub, fb);
    el.history.append(li);
  }
}

function historyOutcome(c) {
  if (c.state !== "ended") return STATE_NAMES[c.state] || c.state;
  const answered = c.code === 200 || c.answer_at;
  if (!answered) return describeEnd({ reason: c.reason, code: c.code });
  const parts = [`Answered · ${formatDuration((c.billed || 0) * 1000)}`];
  if (c.reason && END_REASONS[c.reason]) parts.push(END_REASONS[c.reason]);
  return parts.join(" · ");
}

function setFeedbackTarget(t) {
  ui.feedbackCall = t;
  const when = t.at ? new Date(t.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  el.feedbackTarget.textContent = `About the call to ${t.to || "—"}${when ? " at " + when : ""}.`;
  el.feedbackTarget.dataset.call = t.call;
  el.feedbackResult.textContent = "";
  for (const li of el.history.children) li.classList.toggle("selected", li.dataset.call === t.call);
  render();
}

el.feedbackForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const t = ui.feedbackCall;
  if (!t) return;
  el.feedbackSend.disabled = true;
  el.feedbackResult.textContent = "Sending…";
  try {
    await sdk.feedback(t.call, el.feedbackKind.value, el.feedbackNote.value);
    el.feedbackResult.textContent = "Thanks, feedback saved.";
    el.feedbackResult.dataset.ok = "true";
    el.feedbackNote.value = "";
  } catch (err) {
    el.feedbackResult.textContent = "";
    el.feedbackResult.dataset.ok = "false";
    showError(`Feedback not saved: ${errorText(err)}`);
  } finally {
    render();
  }
});

// ---- start ---------------------------------------------------------------------------

renderHistory();
render();
ui.token = params.get("token");
if (ui.token) {
  el.loginView.hidden = true;
  login({ token: ui.token });
} else {
  (el.tenant.value ? (el.agent.value ? el.password : el.agent) : el.tenant).focus();
}
