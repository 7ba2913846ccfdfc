// callgate.js: the browser SDK of callgate (signaling protocol v1, docs/signaling.md).
//
// One plain ES module, no dependencies, no build step:
//
//   import { Callgate } from "https://callgate.example.com/sdk/callgate.js";
//   const cg = new Callgate({ token });
//   await cg.connect();
//   const callId = await cg.dial("+86 138 0000 0001");
//
// One websocket and one RTCPeerConnection per agent, set up once at connect() and kept
// for the whole session; each call attaches a carrier leg to it on the server.
//
// Customers who call back a number the agent called them from ring the page:
//
//   cg.on("incoming", (call) => showBanner(call.from, () => call.accept(), () => call.decline()));

export const VERSION = "0.1.0";
export const PROTOCOL_VERSION = 1;

/** The feedback kinds the server accepts. */
export const FEEDBACK_KINDS = Object.freeze(["no_ring", "noise", "one_way_audio", "wrong_number", "other"]);

/** Plain-words meaning of every error code: the server's and the SDK's own. */
export const ERROR_MESSAGES = Object.freeze({
  // Server codes (docs/signaling.md).
  bad_request: "The request was malformed (a bug in the page or SDK).",
  bad_version: "This page speaks a protocol version the server does not support: reload the page.",
  bad_credentials: "Login failed: unknown token, or wrong tenant, agent or password.",
  signed_in_elsewhere: "You signed in on another page or device; this page is signed out.",
  locked_out: "Too many failed logins: wait a few minutes, then try again.",
  token_revoked: "Your login token was revoked: this page is signed out.",
  seats_exhausted: "All seats of your tenant are taken: try again when a colleague logs out.",
  not_ready: "The audio session is not set up yet: wait a moment and try again.",
  invalid_number: "That is not a dialable number.",
  busy: "You already have a call: hang it up first.",
  no_call: "There is no such call (it may have just ended).",
  do_not_call: "This number is on a do-not-call list.",
  capped: "This number has been called as often as allowed today.",
  no_route: "No caller number or trunk can carry this call right now.",
  unavailable: "Calling is unavailable right now (server shutting down or trunk at its limit).",
  internal: "Internal server error.",
  // SDK codes.
  connect_failed: "Could not reach callgate (server down, wrong URL, or this page's origin is not allowed).",
  connection_lost: "The connection to callgate was lost.",
  not_connected: "Not connected to callgate.",
  disconnected: "Disconnected.",
  timeout: "callgate did not answer in time.",
  mic_refused: "Microphone access was refused.",
  media_failed: "The browser could not set up the audio session.",
  no_credentials: "No login given: pass a token, or tenant, agent and password.",
  invalid_argument: "Invalid argument.",
});

/** Plain-words meaning of the `reason` of an ended call. */
export const END_REASONS = Object.freeze({
  caller_bye: "You hung up",
  callee_bye: "The customer hung up",
  cancel: "Cancelled before the customer answered",
  no_answer: "No answer",
  callee_486: "Busy",
  rtp_timeout: "The audio stopped (no media received)",
  max_duration: "Maximum call duration reached",
  shutdown: "callgate is shutting down",
  transferred: "Transferred",
  no_ack: "The customer's carrier did not confirm the answer",
  connection_lost: "The connection to callgate was lost",
  disconnected: "You logged out",
});

/** Plain-words meaning of SIP final response codes. */
export const SIP_CODES = Object.freeze({
  200: "Answered",
  400: "Bad request",
  403: "Forbidden by the carrier",
  404: "Number does not exist",
  408: "No answer (timeout)",
  410: "Number no longer in service",
  480: "Temporarily unavailable",
  484: "Incomplete number",
  486: "Busy",
  487: "Cancelled",
  488: "Not acceptable (codec or media)",
  500: "Carrier error",
  502: "Carrier gateway error",
  503: "Carrier unavailable",
  504: "Carrier timeout",
  600: "Busy everywhere",
  603: "Declined",
  604: "Number does not exist anywhere",
});

/** Plain-words meaning of the `reason` of an incoming call that stopped ringing. */
export const INCOMING_END_REASONS = Object.freeze({
  cancel: "The customer hung up",
  no_answer: "Not answered in time",
  shutdown: "callgate is shutting down",
  connection_lost: "The connection to callgate was lost",
  disconnected: "You logged out",
});

/** Plain-words name of a call state. */
export const STATE_NAMES = Object.freeze({
  answering: "Answering",
  dialing: "Dialing",
  ringing: "Ringing",
  early: "Early media",
  connected: "Connected",
  held: "On hold",
  ended: "Ended",
});

/** describeError returns the plain-words meaning of an error code. */
export function describeError(code, message) {
  const known = ERROR_MESSAGES[code];
  if (!known) return message || `Error: ${code}`;
  // A server message adds detail (e.g. which character is not a digit).
  if (message && !known.includes(message) && code !== "bad_credentials") return `${known} (${message})`;
  return known;
}

/** describeSIPCode returns "Busy (SIP 486)" and the like; "" for no code. */
export function describeSIPCode(code) {
  if (!code) return "";
  const words = SIP_CODES[code] || (code >= 600 ? "Global failure" : code >= 500 ? "Server failure" : code >= 400 ? "Call failed" : "");
  return words ? `${words} (SIP ${code})` : `SIP ${code}`;
}

/** describeEnd turns an `ended` call event into one plain sentence. */
export function describeEnd(ev) {
  if (!ev) return "";
  // In a callback the customer is the caller: their BYE is "caller_bye" by "caller".
  let why = ev.by === "caller" && ev.reason === "caller_bye" ? "The customer hung up" : END_REASONS[ev.reason];
  if (!why && typeof ev.reason === "string") {
    const m = /^callee_(\d{3})$/.exec(ev.reason);
    why = m ? (SIP_CODES[m[1]] || `Call failed`) : ev.reason.replace(/_/g, " ");
  }
  why = why || "Call ended";
  const parts = [why];
  if (ev.code) {
    // "Busy (SIP 486)", not "Busy · Busy (SIP 486)".
    if (SIP_CODES[ev.code]?.startsWith(why)) parts[0] = describeSIPCode(ev.code);
    else parts.push(describeSIPCode(ev.code));
  }
  if (typeof ev.billed === "number" && ev.billed > 0) parts.push(`${formatDuration(ev.billed * 1000)} billed`);
  return parts.join(" · ");
}

/** describeState turns a call event into a short status line. */
export function describeState(ev) {
  if (!ev) return "";
  switch (ev.state) {
    case "answering": return `Answering ${ev.from || ""}`.trim() + "…";
    case "dialing": return `Dialing ${ev.to || ""}`.trim() + "…";
    case "ringing": return "Ringing…";
    case "early": return "Early media: ringback or announcement playing…";
    case "connected": return "Connected";
    case "held": return "On hold";
    case "ended": return `Ended: ${describeEnd(ev)}`;
    default: return ev.state || "";
  }
}

/** formatDuration renders milliseconds as m:ss (or h:mm:ss). */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`;
}

/**
 * cleanNumber tidies a pasted number without judging it: full-width digits and signs
 * (from Chinese input methods) become ASCII, invisible characters go, whitespace
 * collapses. The server normalises and validates.
 */
export function cleanNumber(s) {
  return String(s ?? "")
    .replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0))
    .replace(/[\u200B-\u200F\u2060\uFEFF\u00AD]/g, "")
    .replace(/[\u2010-\u2015\u2212]/g, "-")
    .replace(/\s+/g, " ")
    .trim();
}

/** CallgateError is every error the SDK rejects with or reports: `.code` says which. */
export class CallgateError extends Error {
  constructor(code, message, extra) {
    super(describeError(code, message));
    this.name = "CallgateError";
    this.code = code;
    if (message) this.serverMessage = message;
    if (extra) Object.assign(this, extra);
  }
}

// Codes after which reconnecting cannot help.
const FATAL = new Set(["bad_credentials", "bad_version", "mic_refused", "no_credentials", "disconnected", "signed_in_elsewhere"]);

const DTMF_RE = /^[0-9A-D*#]+$/;
const ACTIVE = new Set(["answering", "dialing", "ringing", "early", "connected", "held"]);
const MODULE_URL = import.meta.url;

const CustomEventImpl = globalThis.CustomEvent || class CustomEvent extends Event {
  constructor(type, init) { super(type, init); this.detail = init?.detail ?? null; }
};

/**
 * resolveURL turns the `url` option into the websocket URL. http(s) becomes ws(s); an
 * origin alone ("http://127.0.0.1:8080") gets "/ws"; a relative URL, or none, is
 * resolved against the origin that served this module, so a page on another origin
 * that imports callgate.js from callgate talks to callgate, not to itself.
 */
export function resolveURL(url, base = defaultBase()) {
  let u;
  try {
    u = base ? new URL(url || "/ws", base) : new URL(url);
  } catch {
    throw new CallgateError("invalid_argument", `bad websocket url ${JSON.stringify(url)}`);
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new CallgateError("invalid_argument", `websocket url must be http(s) or ws(s): ${u.href}`);
  }
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/ws";
  u.hash = "";
  return u.href;
}

function defaultBase() {
  if (/^https?:/.test(MODULE_URL)) return MODULE_URL;
  const loc = globalThis.location?.href;
  return loc && /^https?:/.test(loc) ? loc : undefined;
}

function utf8Truncate(s, maxBytes) {
  const enc = new TextEncoder();
  if (enc.encode(s).length <= maxBytes) return s;
  let out = "";
  let n = 0;
  for (const ch of s) {
    const b = enc.encode(ch).length;
    if (n + b > maxBytes) break;
    out += ch;
    n += b;
  }
  return out;
}

function micError(e, secure) {
  const name = e?.name || "Error";
  let message;
  if (!secure) {
    message = "The microphone is only available on secure pages: open this page over https:// (or on localhost).";
  } else if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    message = "Microphone access was refused. Allow the microphone for this site (the icon at the left of the address bar), then try again.";
  } else if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    message = "No microphone was found. Plug one in, then try again.";
  } else if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    message = "The microphone is in use by another application or could not be started. Close the other application, then try again.";
  } else {
    message = `The microphone could not be opened (${name}${e?.message ? ": " + e.message : ""}).`;
  }
  const err = new CallgateError("mic_refused", null, { reason: name });
  err.message = message; // already the whole sentence
  return err;
}

/**
 * Callgate is one agent's session with callgate: a websocket for signaling and one
 * RTCPeerConnection for audio. It is an EventTarget; every event is a CustomEvent whose
 * `detail` carries the data (see callgate.d.ts for the list).
 */
export class Callgate extends EventTarget {
  /**
   * @param {object} [options]
   *   url            websocket URL or callgate origin; default: /ws of the origin that served callgate.js
   *   token          or tenant + agent + password: the credentials sent in `auth`
   *   audioElement   an <audio> element to play the remote audio in; default: one is created
   *   audioConstraints  getUserMedia's `audio` constraint; default true
   *   reconnect      false to disable reconnecting; or {initial, max, factor, jitter} (ms)
   *   iceTimeout     ms to wait for ICE gathering before sending the offer anyway (4000)
   *   requestTimeout ms to wait for a server reply (15000)
   *   preferG711     put PCMU/PCMA first in the offer (true)
   *   WebSocket, RTCPeerConnection, getUserMedia, AudioContext, document,
   *   setTimeout, clearTimeout, random   overrides for tests
   */
  constructor(options = {}) {
    super();
    const g = globalThis;
    this.options = { ...options };
    this._env = {
      WebSocket: options.WebSocket || g.WebSocket,
      RTCPeerConnection: options.RTCPeerConnection || g.RTCPeerConnection,
      getUserMedia: options.getUserMedia || (g.navigator?.mediaDevices?.getUserMedia
        ? (c) => g.navigator.mediaDevices.getUserMedia(c) : null),
      AudioContext: "AudioContext" in options ? options.AudioContext : (g.AudioContext || g.webkitAudioContext),
      document: "document" in options ? options.document : g.document,
      setTimeout: options.setTimeout || g.setTimeout.bind(g),
      clearTimeout: options.clearTimeout || g.clearTimeout.bind(g),
      random: options.random || Math.random,
      now: options.now || Date.now,
    };
    const rc = options.reconnect;
    this._backoff = rc === false ? null : { initial: 1000, max: 30000, factor: 2, jitter: 0.2, ...(typeof rc === "object" ? rc : {}) };
    this._credentials = null;
    this._setCredentials(options);
    this.url = resolveURL(options.url);

    /** "idle" | "connecting" | "ready" | "reconnecting" | "closed" */
    this.state = "idle";
    /** The server's `ready` message of the current session (agent, tenant, seats, ice_servers). */
    this.session = null;
    /** The call in progress: the merged call events plus connectedAt (local ms). */
    this.currentCall = null;
    /** The customer's callback ringing on this page (an IncomingCall), or null. */
    this.incoming = null;
    this.muted = false;
    this.ws = null;
    this.pc = null;
    this.localStream = null;
    this.remoteStream = null;
    this.audioElement = options.audioElement || null;
    this.audioContext = null;
    this.micAnalyser = null;
    this.remoteAnalyser = null;

    this._seq = 0;
    this._gen = 0;
    this._pending = new Map();
    this._calls = new Map();
    this._incoming = new Map(); // call id → IncomingCall, while it rings
    this._attempt = 0;
    this._reconnectTimer = null;
    this._connecting = null;
    this._dialing = null;
    this._remoteSource = null;
    this._unlock = null;
    this._onOnline = () => { if (this.state === "reconnecting" && this._reconnectTimer) this._reconnectSoon(0); };
  }

  // ---- public API ----------------------------------------------------------------

  /** The seats of the tenant as of login: {used, total}, or null. */
  get seats() { return this.session?.seats || null; }

  /** True when a call is set up or in progress. */
  get inCall() { return !!this.currentCall; }

  /**
   * on(type, fn) listens to an event with fn(detail, event); returns a function that
   * removes the listener.
   */
  on(type, fn) {
    const h = (e) => fn(e.detail, e);
    this.addEventListener(type, h);
    return () => this.removeEventListener(type, h);
  }

  /**
   * connect opens the websocket, authenticates, opens the microphone and sets up the
   * audio session. It resolves with the server's `ready` message once calls can be
   * placed, and rejects with a CallgateError (code bad_credentials, seats_exhausted,
   * mic_refused, connect_failed, …). credentials, if given, replace the constructor's.
   */
  connect(credentials) {
    if (credentials) this._setCredentials(credentials);
    if (this.state === "ready") return Promise.resolve(this.session);
    if (this._connecting) return this._connecting;
    if (this.state === "reconnecting") return this._attemptReconnect(); // "reconnect now"
    this._stopReconnect();
    this._attempt = 0;
    this._closing = false;
    this._connecting = this._establish(false).finally(() => { this._connecting = null; });
    return this._connecting;
  }

  /**
   * dial places a call. It resolves with the call id when the server's first `call`
   * event for this request arrives (state "dialing"), and rejects with a CallgateError
   * on an `error` (invalid_number, busy, no_route, …).
   */
  dial(number) {
    const to = cleanNumber(number);
    if (!to) return Promise.reject(new CallgateError("invalid_number", "enter a number to dial"));
    if (this.state !== "ready") return Promise.reject(this._notConnected());
    this._unlockAudio();
    const p = this._request({ type: "dial", to }, { expect: ["call"], timeout: this._timeout() })
      .then((ev) => ev.call);
    this._dialing = p;
    const clear = () => { if (this._dialing === p) this._dialing = null; };
    p.then(clear, clear);
    return p;
  }

  /**
   * hangup ends the current call (or callId): CANCEL while ringing, BYE when connected.
   * It resolves when the call has ended. Hanging up while dial() is still pending hangs
   * up the call as soon as its id is known.
   */
  async hangup(callId) {
    let id = callId || this.currentCall?.call;
    if (!id && this._dialing) {
      try { id = await this._dialing; } catch { return; }
    }
    if (!id || !this._calls.has(id)) return;
    if (!this._isOpen()) return;
    await this._request({ type: "hangup", call: id }, { expect: ["ok"], endsCall: id, timeout: this._timeout() });
  }

  /**
   * accept takes the callback ringing on the page (or callId): it resolves with the call
   * id once the server has it; the call is then currentCall (state "answering", then
   * the server's "connected") and hangup, mute and sendDTMF work on it. Rejects with
   * no_call if it no longer rings, busy if a call is in progress.
   */
  accept(callId) {
    const inc = callId ? this._incoming.get(callId) : this.incoming;
    if (!inc) return Promise.reject(new CallgateError("no_call", "no call is ringing"));
    return inc.accept();
  }

  /** decline refuses the callback ringing on the page (or callId); the tenant's fallback takes it. */
  decline(callId) {
    const inc = callId ? this._incoming.get(callId) : this.incoming;
    if (!inc) return Promise.reject(new CallgateError("no_call", "no call is ringing"));
    return inc.decline();
  }

  /**
   * mute stops (on=true) or resumes sending the microphone: the local track is disabled
   * and, during a call, the server stops forwarding the agent's audio.
   */
  async mute(on = true) {
    on = !!on;
    this.muted = on;
    for (const t of this.localStream?.getAudioTracks?.() || []) t.enabled = !on;
    this._emit("mute", { muted: on });
    const c = this.currentCall;
    if (c && this._isOpen()) {
      await this._request({ type: "mute", call: c.call, muted: on }, { expect: ["ok"] });
    }
  }

  /**
   * sendDTMF sends digits (0-9, *, #, A-D) on the current call: in-band RFC 4733 from
   * the browser (RTCRtpSender.dtmf) when it can, else asks the server to send them.
   * Resolves with "browser" or "server".
   */
  async sendDTMF(digits) {
    const d = String(digits ?? "").toUpperCase().replace(/[\s,]/g, "");
    if (!d || !DTMF_RE.test(d)) throw new CallgateError("invalid_argument", `not DTMF digits: ${JSON.stringify(digits)}`);
    const c = this._requireCall();
    const dtmf = this._sender?.dtmf;
    if (dtmf && dtmf.canInsertDTMF !== false && typeof dtmf.insertDTMF === "function") {
      // insertDTMF replaces what is still queued: append instead of dropping digits.
      dtmf.insertDTMF((dtmf.toneBuffer || "") + d, 100, 70);
      this._emit("dtmf", { call: c.call, digits: d, via: "browser" });
      return "browser";
    }
    for (let i = 0; i < d.length; i += 32) {
      await this._request({ type: "dtmf", call: c.call, digits: d.slice(i, i + 32) }, { expect: ["ok"] });
    }
    this._emit("dtmf", { call: c.call, digits: d, via: "server" });
    return "server";
  }

  /** hold puts the current call on hold (on=true) or resumes it. */
  async hold(on = true) {
    const c = this._requireCall();
    await this._request({ type: "hold", call: c.call, on: !!on }, { expect: ["ok"] });
  }

  /**
   * transfer hands the current (connected) call to number; the agent leaves the call.
   * Resolves when the server accepts it (ok) or the agent's call ends.
   */
  async transfer(number) {
    const to = cleanNumber(number);
    if (!to) throw new CallgateError("invalid_number", "enter a number to transfer to");
    const c = this._requireCall();
    await this._request({ type: "transfer", call: c.call, to }, { expect: ["ok"], endsCall: c.call, timeout: 4 * this._timeout() });
  }

  /** feedback attaches feedback (kind in FEEDBACK_KINDS, optional note) to a call record. */
  async feedback(callId, kind, note) {
    if (!callId) throw new CallgateError("invalid_argument", "feedback needs a call id");
    if (!FEEDBACK_KINDS.includes(kind)) throw new CallgateError("invalid_argument", `feedback kind must be one of ${FEEDBACK_KINDS.join(", ")}`);
    if (!this._isOpen()) throw this._notConnected();
    const msg = { type: "feedback", call: callId, kind };
    const n = utf8Truncate(String(note ?? "").trim(), 2000);
    if (n) msg.note = n;
    await this._request(msg, { expect: ["ok"] });
  }

  /** history resolves with the agent's recent calls (newest first), at most limit (≤ 200). */
  async history(limit = 20) {
    if (!this._isOpen() || !this.session) throw this._notConnected();
    const l = Math.max(0, Math.min(200, Math.floor(Number(limit) || 0)));
    const res = await this._request({ type: "history", limit: l }, { expect: ["history"] });
    return Array.isArray(res.calls) ? res.calls : [];
  }

  /**
   * disconnect ends the session for good (no reconnect): the server hangs up the call,
   * if any, and frees the seat. The microphone is released.
   */
  disconnect() {
    this._closing = true;
    this._stopReconnect();
    const wasOpen = !!this.ws;
    const c = this.currentCall;
    if (c && this._isOpen()) this._send({ type: "hangup", call: c.call });
    this._teardown("disconnected", { code: "disconnected", by: "agent", reason: "caller_bye" });
    this._releaseMedia();
    const prev = this.state;
    this._setState("closed");
    if (wasOpen || (prev !== "idle" && prev !== "closed")) this._emit("disconnected", { code: 1000, reason: "disconnect", reconnect: false });
  }

  /**
   * logout signs the agent out for good: the server revokes the token this session
   * logged in with (one issued by the business API; a password or static token stays
   * valid), hangs up the call and frees the seat; then the SDK disconnects. Rejects,
   * after disconnecting, if the server could not revoke the token.
   */
  async logout() {
    let err = null;
    if (this.state === "ready" && this._isOpen()) {
      try { await this._request({ type: "logout" }, { expect: ["ok"] }); } catch (e) { err = e; }
    }
    this.disconnect();
    if (err && err.code !== "connection_lost") throw err;
  }

  /** level is the microphone's current level, 0..1 (log scale, -60 dBFS..0). */
  level() { return this._levelOf(this.micAnalyser); }

  /** remoteLevel is the remote audio's current level, 0..1. */
  remoteLevel() { return this._levelOf(this.remoteAnalyser); }

  /**
   * remoteFrequencyPeak is the frequency (Hz) of the strongest component of the remote
   * audio, or 0 when nothing is louder than minDb (dBFS). E.g. 1000 ± 15 for a 1 kHz tone.
   */
  remoteFrequencyPeak(minDb = -100) {
    const an = this.remoteAnalyser;
    if (!an) return 0;
    this._resumeAudio();
    const bins = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(bins);
    let best = 1;
    for (let i = 2; i < bins.length - 1; i++) if (bins[i] > bins[best]) best = i;
    if (!(bins[best] > minDb)) return 0;
    const a = bins[best - 1], b = bins[best], c = bins[best + 1];
    const den = a - 2 * b + c;
    const shift = Number.isFinite(den) && den !== 0 ? Math.max(-0.5, Math.min(0.5, 0.5 * (a - c) / den)) : 0;
    return ((best + shift) * an.context.sampleRate) / an.fftSize;
  }

  /**
   * stats resolves with the audio RTP counters of the session: packets and bytes sent
   * and received, packets lost, jitter (s) and round-trip time (s) when known.
   */
  async stats() {
    const out = { packetsSent: 0, bytesSent: 0, packetsReceived: 0, bytesReceived: 0, packetsLost: 0, jitter: 0, roundTripTime: null };
    if (!this.pc?.getStats) return out;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.kind && s.kind !== "audio") return;
      if (s.type === "outbound-rtp") { out.packetsSent += s.packetsSent || 0; out.bytesSent += s.bytesSent || 0; }
      if (s.type === "inbound-rtp") {
        out.packetsReceived += s.packetsReceived || 0; out.bytesReceived += s.bytesReceived || 0;
        out.packetsLost += s.packetsLost || 0; out.jitter = s.jitter ?? out.jitter;
      }
      if (s.type === "remote-inbound-rtp" && s.roundTripTime != null) out.roundTripTime = s.roundTripTime;
    });
    return out;
  }

  // ---- session set-up ------------------------------------------------------------

  _setCredentials(c) {
    if (c.token) this._credentials = { token: String(c.token) };
    else if (c.tenant || c.agent || c.password) {
      this._credentials = { tenant: String(c.tenant ?? ""), agent: String(c.agent ?? ""), password: String(c.password ?? "") };
    }
  }

  async _establish(isReconnect) {
    this._setState(isReconnect ? "reconnecting" : "connecting");
    const gen = ++this._gen;
    try {
      if (!this._credentials) throw new CallgateError("no_credentials");
      if (!this._env.WebSocket) throw new CallgateError("connect_failed", "this browser has no WebSocket");
      await this._openSocket();
      const ready = await this._request({ type: "auth", v: PROTOCOL_VERSION, ...this._credentials },
        { expect: ["ready"], handshake: true });
      this._check(gen);
      this.session = ready;
      const stream = await this._openMic();
      this._check(gen);
      await this._negotiate(ready, stream, gen);
      this._check(gen);
      this._attempt = 0;
      this._setState("ready");
      this._emit("ready", ready);
      if (isReconnect) this._emit("reconnected", ready);
      return ready;
    } catch (e) {
      const err = e instanceof CallgateError ? e : new CallgateError("media_failed", e?.message || String(e));
      if (gen === this._gen) {
        // This attempt failed: drop what it built. The caller decides what comes next.
        this._teardown(err.code);
        if (!isReconnect) this._setState("closed");
      }
      throw err;
    }
  }

  _check(gen) {
    if (gen !== this._gen) throw new CallgateError(this._closing ? "disconnected" : "connection_lost");
    if (!this._isOpen()) throw new CallgateError("connection_lost");
  }

  _openSocket() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this._env.WebSocket(this.url);
      } catch (e) {
        reject(new CallgateError("connect_failed", e?.message));
        return;
      }
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        if (ws !== this.ws) return;
        opened = true;
        resolve();
      };
      ws.onmessage = (ev) => { if (ws === this.ws) this._onMessage(ev.data); };
      ws.onerror = () => {};
      ws.onclose = (ev) => {
        if (ws !== this.ws) return;
        if (!opened) {
          this.ws = null;
          reject(new CallgateError("connect_failed", `could not open ${this.url}${ev?.code ? ` (close code ${ev.code})` : ""}`));
          return;
        }
        this._onSocketClose(ev || {});
      };
    });
  }

  async _openMic() {
    const live = this.localStream?.getAudioTracks?.().some((t) => t.readyState !== "ended");
    if (live) return this.localStream;
    const gum = this._env.getUserMedia;
    const secure = globalThis.isSecureContext !== false;
    if (!gum) {
      const err = micError({ name: "NotSupportedError", message: "no navigator.mediaDevices" }, secure);
      this._emit("micrefused", { name: err.reason, message: err.message });
      throw err;
    }
    try {
      this.localStream = await gum({ audio: this.options.audioConstraints ?? true });
    } catch (e) {
      const err = micError(e, secure);
      this._emit("micrefused", { name: err.reason, message: err.message });
      throw err;
    }
    for (const t of this.localStream.getAudioTracks?.() || []) t.enabled = !this.muted;
    this._setupMicAnalyser();
    return this.localStream;
  }

  async _negotiate(ready, stream, gen) {
    const PC = this._env.RTCPeerConnection;
    if (!PC) throw new CallgateError("media_failed", "this browser has no WebRTC");
    const iceServers = (ready.ice_servers || []).map((s) => (typeof s === "string" ? { urls: s } : s));
    const pc = new PC({ iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    this.pc = pc;
    const track = stream.getAudioTracks()[0];
    const tr = pc.addTransceiver(track || "audio", { direction: "sendrecv", streams: [stream] });
    this._sender = tr.sender;
    if (this.options.preferG711 !== false) preferG711(tr);
    pc.ontrack = (ev) => { if (pc === this.pc) this._onRemoteTrack(ev); };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this._emit("media", { state: pc.connectionState });
      // The audio path died for good: start over (the server ends the session with the socket).
      if (pc.connectionState === "failed" && this.state === "ready") this._dropSocket("media_failed");
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await this._iceGathered(pc);
    this._check(gen);
    const answer = await this._request({ type: "offer", sdp: pc.localDescription.sdp }, { expect: ["answer"], handshake: true });
    this._check(gen);
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  }

  _iceGathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      let timer = null;
      const done = () => {
        pc.removeEventListener?.("icegatheringstatechange", onState);
        pc.removeEventListener?.("icecandidate", onCand);
        this._env.clearTimeout(timer);
        resolve();
      };
      const onState = () => { if (pc.iceGatheringState === "complete") done(); };
      const onCand = (e) => { if (!e.candidate) done(); };
      pc.addEventListener?.("icegatheringstatechange", onState);
      pc.addEventListener?.("icecandidate", onCand);
      // Unreachable STUN/TURN servers can stall gathering: send what there is.
      timer = this._env.setTimeout(done, this.options.iceTimeout ?? 4000);
    });
  }

  // ---- messages ------------------------------------------------------------------

  _timeout() { return this.options.requestTimeout ?? 15000; }

  _isOpen() { return !!this.ws && this.ws.readyState === 1; }

  _notConnected() {
    const why = this.state === "reconnecting" ? "reconnecting to callgate" : this.state === "connecting" ? "still connecting" : "not connected";
    return new CallgateError("not_connected", why);
  }

  _requireCall() {
    if (this.state !== "ready" || !this._isOpen()) throw this._notConnected();
    const c = this.currentCall;
    if (!c) throw new CallgateError("no_call", "there is no call in progress");
    return c;
  }

  _send(msg) {
    if (!this._isOpen()) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  // _request sends msg with a fresh id and settles when a reply of an expected type
  // (or an error) with that id arrives, when the call named by endsCall ends, on
  // timeout, or when the connection goes.
  _request(msg, { expect, endsCall = null, timeout = this._timeout(), handshake = false } = {}) {
    return new Promise((resolve, reject) => {
      if (!this._isOpen()) {
        reject(this._notConnected());
        return;
      }
      const id = `r${++this._seq}`;
      const entry = { id, expect, endsCall, handshake, resolve, reject, timer: null };
      entry.timer = this._env.setTimeout(() => {
        this._pending.delete(id);
        reject(new CallgateError("timeout", `no reply to ${msg.type} within ${Math.round(timeout / 1000)} s`));
      }, timeout);
      this._pending.set(id, entry);
      this._send({ ...msg, id });
    });
  }

  _settle(entry, err, value) {
    this._pending.delete(entry.id);
    this._env.clearTimeout(entry.timer);
    if (err) entry.reject(err); else entry.resolve(value);
  }

  _onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this._emit("error", { code: "bad_request", message: "callgate sent a message that is not JSON" });
      return;
    }
    if (!msg || typeof msg !== "object") return;
    let claimed = false;
    let entry = msg.id != null ? this._pending.get(msg.id) : undefined;
    if (!entry && msg.id == null) {
      if (msg.type === "error") {
        // An id-less error during the handshake answers the handshake.
        entry = [...this._pending.values()].find((e) => e.handshake);
      } else if (msg.type === "call" && msg.state === "dialing" && msg.call && !this._calls.has(msg.call)) {
        // A new outbound call whose event lost its request id: it is the pending dial's.
        entry = [...this._pending.values()].find((e) => e.expect?.includes("call"));
      }
    }
    if (entry) {
      if (msg.type === "error") {
        this._settle(entry, new CallgateError(msg.code || "internal", msg.message, { id: msg.id }));
        claimed = true;
      } else if (entry.expect?.includes(msg.type)) {
        // Call events update state and fire listeners first; the promise settles after.
        if (msg.type !== "call") this._settle(entry, null, msg);
        claimed = true;
      }
    }
    switch (msg.type) {
      case "call":
        this._onCall(msg);
        if (entry && claimed) this._settle(entry, null, msg);
        break;
      case "incoming":
        this._onIncoming(msg);
        break;
      case "incoming_cancelled":
        this._incomingGone(this._incoming.get(msg.call), "cancelled", msg.reason || "cancel");
        break;
      case "error":
        // Another login of this agent replaced this session: reconnecting would only
        // sign the other page out in turn.
        if (msg.code === "signed_in_elsewhere") this._kicked = true;
        if (!claimed) this._emit("error", { code: msg.code || "internal", message: describeError(msg.code, msg.message), serverMessage: msg.message, id: msg.id });
        break;
      default:
        break; // ready/answer/history/ok without a waiting request, or a newer type
    }
  }

  _onCall(ev) {
    if (!ev.call) return;
    let c = this._calls.get(ev.call);
    if (!c) {
      const inc = this._incoming.get(ev.call); // accepted; its ok not seen yet
      c = { call: ev.call, state: ev.state, direction: inc ? "inbound" : "outbound", connectedAt: null };
      if (inc) this._incomingGone(inc, "accepted");
      this._calls.set(ev.call, c);
    }
    for (const [k, v] of Object.entries(ev)) if (k !== "type" && k !== "id" && v !== undefined) c[k] = v;
    if (ev.state === "connected" && !c.connectedAt) c.connectedAt = this._env.now();
    if (ACTIVE.has(ev.state)) this.currentCall = c;
    this._emit("call", ev);
    if (ev.state === "ended") this._endCall(c, ev);
  }

  _endCall(c, ev) {
    this._calls.delete(c.call);
    if (this.currentCall === c) this.currentCall = null;
    if (this.muted && !this.currentCall) {
      // Mute is per call: the next call starts with the microphone on.
      this.muted = false;
      for (const t of this.localStream?.getAudioTracks?.() || []) t.enabled = true;
      this._emit("mute", { muted: false });
    }
    for (const e of [...this._pending.values()]) if (e.endsCall === c.call) this._settle(e, null, ev);
    this._emit("ended", ev);
  }

  // ---- callbacks -----------------------------------------------------------------

  _onIncoming(msg) {
    if (!msg.call || this._incoming.has(msg.call)) return;
    const inc = new IncomingCall(this, msg);
    this._incoming.set(inc.call, inc);
    this.incoming = inc;
    this._unlockAudio();
    this._emit("incoming", inc);
  }

  // _incomingGone takes a callback off the ringing list: accepted, declined, or
  // cancelled (reason says why); cancelled ones fire incomingcancelled.
  _incomingGone(inc, state, reason = null) {
    if (!inc || inc.state !== "ringing") return;
    inc.state = state;
    inc.reason = reason;
    this._incoming.delete(inc.call);
    if (this.incoming === inc) this.incoming = [...this._incoming.values()].at(-1) || null;
    if (state === "cancelled") this._emit("incomingcancelled", { call: inc.call, reason, incoming: inc });
  }

  async _answerIncoming(inc, accept) {
    if (inc.state !== "ringing") throw new CallgateError("no_call", `the call is ${inc.state}`);
    if (this.state !== "ready" || !this._isOpen()) throw this._notConnected();
    if (accept) this._unlockAudio();
    try {
      await this._request({ type: accept ? "accept" : "decline", call: inc.call }, { expect: ["ok"] });
    } catch (err) {
      if (err.code === "no_call") this._incomingGone(inc, "cancelled", "gone");
      throw err;
    }
    this._incomingGone(inc, accept ? "accepted" : "declined");
    if (!accept) return;
    let c = this._calls.get(inc.call);
    if (!c) {
      c = { call: inc.call, state: "answering", from: inc.from, to: inc.to, direction: "inbound", connectedAt: null };
      this._calls.set(inc.call, c);
      this.currentCall = c;
      this._emit("call", { type: "call", call: inc.call, state: "answering", from: inc.from, to: inc.to, local: true });
    }
    return inc.call;
  }

  // ---- losing the connection -----------------------------------------------------

  _onSocketClose(ev) {
    const wasReady = this.state === "ready";
    this.ws = null;
    if (!wasReady) {
      // A handshake in progress: its pending request fails and _establish decides.
      this._failPending("connection_lost");
      return;
    }
    this._teardown("connection_lost");
    const reconnect = !!this._backoff && !this._closing && !this._kicked;
    this._setState(reconnect ? "reconnecting" : "closed");
    this._emit("disconnected", { code: ev.code ?? 1006, reason: ev.reason || "", reconnect });
    if (reconnect) this._scheduleReconnect();
  }

  _dropSocket(why) {
    const ws = this.ws;
    if (!ws) return;
    this._onSocketClose({ code: 4000, reason: why });
    try { ws.close(1000, why); } catch { /* already closing */ }
  }

  _failPending(code) {
    for (const e of [...this._pending.values()]) this._settle(e, new CallgateError(code));
  }

  // _teardown ends what belongs to one session: the socket, the peer connection, the
  // pending requests and, locally, the call (the server has lost it with the socket).
  _teardown(code, endAs) {
    this._gen++;
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000, code); } catch { /* ignore */ } }
    this._failPending(code);
    for (const inc of [...this._incoming.values()]) this._incomingGone(inc, "cancelled", code);
    if (this.pc) {
      try { this.pc.close(); } catch { /* ignore */ }
      this.pc = null;
      this._sender = null;
    }
    this._disconnectRemote();
    const now = this._env.now();
    for (const c of [...this._calls.values()]) {
      const ev = { type: "call", call: c.call, state: "ended", reason: endAs?.reason || "connection_lost",
        by: endAs?.by || "system", code: 0, at: now, local: true };
      this._emit("call", ev);
      this._endCall(c, ev);
    }
    this.currentCall = null;
  }

  _scheduleReconnect() {
    const b = this._backoff;
    const base = Math.min(b.max, b.initial * Math.pow(b.factor, this._attempt));
    const delay = Math.round(Math.min(b.max, base * (1 + b.jitter * (2 * this._env.random() - 1))));
    this._attempt++;
    this._reconnectSoon(delay);
  }

  _reconnectSoon(delay) {
    this._env.clearTimeout(this._reconnectTimer);
    const at = this._env.now() + delay;
    this._emit("reconnecting", { attempt: this._attempt, delay, at });
    this._reconnectTimer = this._env.setTimeout(() => {
      this._reconnectTimer = null;
      if (this._closing || this.state !== "reconnecting") return;
      this._attemptReconnect().catch(() => {});
    }, delay);
    if (typeof globalThis.addEventListener === "function") globalThis.addEventListener("online", this._onOnline);
  }

  // _attemptReconnect runs one reconnect attempt; on failure it schedules the next one,
  // unless the failure is one retrying cannot fix. Rejects with the attempt's error.
  _attemptReconnect() {
    this._env.clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    const p = this._establish(true).finally(() => { if (this._connecting === p) this._connecting = null; });
    this._connecting = p;
    p.catch((err) => {
      if (this._closing) return;
      if (FATAL.has(err.code)) {
        this._stopReconnect();
        this._setState("closed");
        this._emit("error", { code: err.code, message: err.message });
        this._emit("disconnected", { code: 1000, reason: err.code, reconnect: false });
        return;
      }
      this._scheduleReconnect();
    });
    return p;
  }

  _stopReconnect() {
    this._env.clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    if (typeof globalThis.removeEventListener === "function") globalThis.removeEventListener("online", this._onOnline);
  }

  // ---- audio ---------------------------------------------------------------------

  _audioCtx() {
    if (this.audioContext) return this.audioContext;
    const AC = this._env.AudioContext;
    if (!AC) return null;
    try { this.audioContext = new AC(); } catch { return null; }
    return this.audioContext;
  }

  _resumeAudio() {
    if (this.audioContext?.state === "suspended") this.audioContext.resume().catch(() => {});
  }

  _setupMicAnalyser() {
    const ctx = this._audioCtx();
    if (!ctx || !this.localStream) return;
    try {
      const src = ctx.createMediaStreamSource(this.localStream);
      const an = ctx.createAnalyser();
      an.fftSize = 1024;
      an.smoothingTimeConstant = 0.3;
      src.connect(an); // not to the destination: the agent must not hear themself
      this._micSource = src;
      this.micAnalyser = an;
    } catch { /* no analyser: level() is 0 */ }
    this._watchGesture();
  }

  _onRemoteTrack(ev) {
    const stream = ev.streams?.[0] || new MediaStream([ev.track]);
    this.remoteStream = stream;
    const el = this._ensureAudioElement();
    if (el) {
      el.srcObject = stream;
      this._unlockAudio();
    }
    const ctx = this._audioCtx();
    if (!ctx) return;
    try {
      this._disconnectRemote();
      const src = ctx.createMediaStreamSource(stream);
      const an = ctx.createAnalyser();
      an.fftSize = 4096;
      an.smoothingTimeConstant = 0.2;
      src.connect(an); // the <audio> element plays it; this only measures
      this._remoteSource = src;
      this.remoteAnalyser = an;
    } catch { /* no analyser */ }
    this._emit("media", { state: "track" });
  }

  _disconnectRemote() {
    try { this._remoteSource?.disconnect(); } catch { /* ignore */ }
    this._remoteSource = null;
    this.remoteAnalyser = null;
    this.remoteStream = null;
  }

  _ensureAudioElement() {
    if (this.audioElement) return this.audioElement;
    const doc = this._env.document;
    if (!doc?.createElement) return null;
    const el = doc.createElement("audio");
    el.autoplay = true;
    el.setAttribute("playsinline", "");
    el.setAttribute("data-callgate-audio", "");
    el.style.display = "none";
    (doc.body || doc.documentElement)?.appendChild(el);
    this.audioElement = el;
    this._ownAudioElement = true;
    return el;
  }

  // Browsers block audio until the page had a user gesture: retry on the next one.
  _unlockAudio() {
    this._resumeAudio();
    const el = this.audioElement;
    if (el?.srcObject && el.paused !== false && typeof el.play === "function") {
      el.play().catch(() => this._watchGesture());
    }
  }

  _watchGesture() {
    const doc = this._env.document;
    if (this._unlock || !doc?.addEventListener) return;
    this._unlock = () => {
      doc.removeEventListener("pointerdown", this._unlock, true);
      doc.removeEventListener("keydown", this._unlock, true);
      this._unlock = null;
      this._unlockAudio();
    };
    doc.addEventListener("pointerdown", this._unlock, true);
    doc.addEventListener("keydown", this._unlock, true);
  }

  _levelOf(an) {
    if (!an) return 0;
    this._resumeAudio();
    const buf = new Float32Array(an.fftSize);
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
    const rms = Math.sqrt(sum / buf.length);
    if (!(rms > 1e-6)) return 0;
    const db = 20 * Math.log10(rms);
    return Math.max(0, Math.min(1, (db + 60) / 60));
  }

  _releaseMedia() {
    for (const t of this.localStream?.getTracks?.() || []) { try { t.stop(); } catch { /* ignore */ } }
    this.localStream = null;
    try { this._micSource?.disconnect(); } catch { /* ignore */ }
    this._micSource = null;
    this.micAnalyser = null;
    if (this.audioContext) { this.audioContext.close?.().catch?.(() => {}); this.audioContext = null; }
    if (this.audioElement) {
      this.audioElement.srcObject = null;
      if (this._ownAudioElement) { this.audioElement.remove?.(); this.audioElement = null; this._ownAudioElement = false; }
    }
    if (this._unlock) {
      const doc = this._env.document;
      doc?.removeEventListener?.("pointerdown", this._unlock, true);
      doc?.removeEventListener?.("keydown", this._unlock, true);
      this._unlock = null;
    }
  }

  // ---- events --------------------------------------------------------------------

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this._emit("statechange", { state: s });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEventImpl(type, { detail }));
  }
}

/**
 * IncomingCall is a customer's callback ringing on the page (the `incoming` event):
 * `from` is the customer, `to` the number they called, `ringMs` how long it rings.
 * `state` is "ringing", then "accepted", "declined" or "cancelled" (`reason` says why:
 * cancel = the customer hung up, no_answer, shutdown, connection_lost, …).
 */
export class IncomingCall {
  constructor(sdk, msg) {
    Object.defineProperty(this, "_sdk", { value: sdk });
    this.call = msg.call;
    this.from = msg.from || "";
    this.to = msg.to || "";
    this.tenant = msg.tenant || "";
    this.ringMs = typeof msg.ring_ms === "number" ? msg.ring_ms : null;
    this.at = msg.at ?? null;
    this.state = "ringing";
    this.reason = null;
  }

  /** accept takes the call; resolves with the call id (see Callgate.accept). */
  accept() { return this._sdk._answerIncoming(this, true); }

  /** decline refuses the call; the tenant's fallback takes it. */
  decline() { return this._sdk._answerIncoming(this, false).then(() => {}); }
}

// preferG711 puts PCMU, PCMA and telephone-event/8000 first in the offer, since callgate
// relays G.711 without transcoding; the other codecs stay, in their order.
function preferG711(tr) {
  try {
    const caps = globalThis.RTCRtpReceiver?.getCapabilities?.("audio")?.codecs;
    if (!caps || typeof tr.setCodecPreferences !== "function") return;
    const rank = (c) => {
      const m = c.mimeType.toLowerCase();
      if (m === "audio/pcmu") return 0;
      if (m === "audio/pcma") return 1;
      if (m === "audio/telephone-event" && c.clockRate === 8000) return 2;
      return 3;
    };
    tr.setCodecPreferences([...caps].sort((a, b) => rank(a) - rank(b)));
  } catch { /* keep the browser's order */ }
}

// ---- the drop-in dialer widget ------------------------------------------------------

const DIALER_CSS = `
.cg-dialer{--cg-accent:#1f6feb;--cg-red:#d1242f;--cg-green:#1a7f37;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff;border:1px solid #d0d7de;border-radius:12px;box-shadow:0 8px 24px rgba(140,149,159,.2);padding:14px;width:260px;box-sizing:border-box}
.cg-dialer *{box-sizing:border-box}
.cg-dialer.cg-floating{position:fixed;right:20px;bottom:20px;z-index:2147483000}
.cg-head{display:flex;justify-content:space-between;align-items:center;margin-bottom:8px}
.cg-title{font-weight:600}
.cg-conn{font-size:12px;color:#656d76}
.cg-conn[data-state=ready]{color:var(--cg-green)}
.cg-conn[data-state=reconnecting],.cg-conn[data-state=closed]{color:var(--cg-red)}
.cg-state{min-height:2.8em;font-size:13px;color:#424a53;margin-bottom:8px}
.cg-state[data-state=connected]{color:var(--cg-green);font-weight:600}
.cg-number{width:100%;font-size:18px;padding:8px 10px;border:1px solid #d0d7de;border-radius:8px;margin-bottom:8px;letter-spacing:.5px}
.cg-number:focus{outline:2px solid var(--cg-accent);outline-offset:-1px}
.cg-pad{display:grid;grid-template-columns:repeat(3,1fr);gap:6px;margin-bottom:8px}
.cg-pad button,.cg-actions button{font:inherit;border:1px solid #d0d7de;background:#f6f8fa;border-radius:8px;padding:8px 0;cursor:pointer}
.cg-pad button{font-size:16px}
.cg-pad button:hover,.cg-actions button:hover:not(:disabled){background:#eaeef2}
.cg-actions{display:grid;grid-template-columns:1fr 1fr 1fr;gap:6px}
.cg-actions .cg-call{background:var(--cg-green);border-color:var(--cg-green);color:#fff}
.cg-actions .cg-hangup{background:var(--cg-red);border-color:var(--cg-red);color:#fff}
.cg-actions button:disabled{opacity:.45;cursor:default}
.cg-actions button[aria-pressed=true]{background:#fff8c5;border-color:#d4a72c}
.cg-error{color:var(--cg-red);font-size:12px;margin-top:6px;min-height:1em}
`;

/**
 * mountDialer puts a dialer panel (number field, numpad, call / hang up, mute, state
 * line) into element, built on a Callgate instance: options.sdk, or a new one made from
 * options (url, token, …) and connected at once unless options.autoConnect is false.
 * options.floating pins the panel to the bottom right of the window; options.title names
 * it; options.number prefills the number.
 * Returns {sdk, element, dial(number), setNumber(number), unmount()}.
 */
export function mountDialer(element, options = {}) {
  const doc = element?.ownerDocument || globalThis.document;
  if (!element || !doc) throw new CallgateError("invalid_argument", "mountDialer needs an element");
  const ownSDK = !options.sdk;
  const sdk = options.sdk || new Callgate(options);

  if (!doc.getElementById("callgate-dialer-style")) {
    const style = doc.createElement("style");
    style.id = "callgate-dialer-style";
    style.textContent = DIALER_CSS;
    doc.head.appendChild(style);
  }

  const root = doc.createElement("div");
  root.className = "cg-dialer" + (options.floating ? " cg-floating" : "");
  root.setAttribute("data-testid", "cg-dialer");
  root.innerHTML = `
    <div class="cg-head"><span class="cg-title"></span><span class="cg-conn" data-role="conn" data-testid="cg-conn"></span></div>
    <div class="cg-state" data-role="state" data-testid="cg-state" aria-live="polite"></div>
    <input class="cg-number" data-role="number" data-testid="cg-number" type="tel" inputmode="tel" autocomplete="off" placeholder="+86 138 0000 0001" aria-label="Number to call">
    <div class="cg-pad" data-role="pad"></div>
    <div class="cg-actions">
      <button type="button" class="cg-call" data-role="call" data-testid="cg-call">Call</button>
      <button type="button" class="cg-hangup" data-role="hangup" data-testid="cg-hangup">Hang up</button>
      <button type="button" data-role="mute" data-testid="cg-mute" aria-pressed="false">Mute</button>
    </div>
    <div class="cg-error" data-role="error" data-testid="cg-error" role="alert"></div>`;
  root.querySelector(".cg-title").textContent = options.title || "Call";
  const $ = (role) => root.querySelector(`[data-role="${role}"]`);
  const conn = $("conn"), stateLine = $("state"), number = $("number"), pad = $("pad");
  const callBtn = $("call"), hangBtn = $("hangup"), muteBtn = $("mute"), errLine = $("error");
  if (options.number) number.value = options.number;
  for (const d of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]) {
    const b = doc.createElement("button");
    b.type = "button";
    b.textContent = d;
    b.dataset.digit = d;
    pad.appendChild(b);
  }
  element.appendChild(root);

  let last = null; // last call event
  let timer = null;
  const showError = (e) => { errLine.textContent = e ? (e.message || String(e)) : ""; };

  const render = () => {
    const s = sdk.state;
    conn.dataset.state = s;
    conn.textContent = { idle: "offline", connecting: "connecting…", ready: "online", reconnecting: "reconnecting…", closed: "offline" }[s] || s;
    const c = sdk.currentCall;
    const active = !!c;
    stateLine.dataset.state = c ? c.state : (last?.state || "");
    if (c?.state === "connected" && c.connectedAt) {
      stateLine.textContent = `Connected ${formatDuration(Date.now() - c.connectedAt)}`;
    } else if (c) {
      stateLine.textContent = describeState(c);
    } else if (last) {
      stateLine.textContent = describeState(last);
    } else {
      stateLine.textContent = s === "ready" ? "Ready to call" : "";
    }
    callBtn.disabled = s !== "ready" || active;
    hangBtn.disabled = !active && !sdk._dialing;
    // A customer calling back: Call answers it, Hang up declines it.
    const inc = !active ? sdk.incoming : null;
    root.dataset.incoming = inc ? inc.call : "";
    callBtn.textContent = inc ? "Accept" : "Call";
    hangBtn.textContent = inc ? "Decline" : "Hang up";
    if (inc) {
      stateLine.dataset.state = "incoming";
      stateLine.textContent = `${inc.from || "A customer"} is calling back`;
      callBtn.disabled = hangBtn.disabled = s !== "ready";
    }
    muteBtn.disabled = !active;
    muteBtn.setAttribute("aria-pressed", String(sdk.muted));
    muteBtn.textContent = sdk.muted ? "Unmute" : "Mute";
  };

  const dial = async (n) => {
    if (n != null) number.value = cleanNumber(n);
    showError(null);
    last = null;
    try {
      const id = await sdk.dial(number.value);
      render();
      return id;
    } catch (e) {
      showError(e);
      render();
      throw e;
    }
  };

  const offs = [
    sdk.on("statechange", render),
    sdk.on("call", (ev) => { last = ev; render(); }),
    sdk.on("incoming", render),
    sdk.on("incomingcancelled", render),
    sdk.on("mute", render),
    sdk.on("micrefused", (d) => showError(d)),
    sdk.on("error", (d) => showError(d)),
    sdk.on("ready", () => { showError(null); render(); }),
  ];
  const onPad = (e) => {
    const d = e.target?.dataset?.digit;
    if (!d) return;
    const c = sdk.currentCall;
    if (c && (c.state === "connected" || c.state === "early")) sdk.sendDTMF(d).catch(showError);
    else if (!c) { number.value += d; number.focus(); }
  };
  const answer = (accept) => {
    showError(null);
    last = null;
    (accept ? sdk.accept() : sdk.decline()).catch(showError).finally(render);
  };
  const onCall = () => (sdk.incoming && !sdk.currentCall ? answer(true) : dial().catch(() => {}));
  const onHang = () => (sdk.incoming && !sdk.currentCall ? answer(false) : sdk.hangup().catch(showError));
  const onMute = () => sdk.mute(!sdk.muted).catch(showError).finally(render);
  const onKey = (e) => { if (e.key === "Enter") onCall(); };
  const onPaste = () => setTimeout(() => { number.value = cleanNumber(number.value); }, 0);
  pad.addEventListener("click", onPad);
  callBtn.addEventListener("click", onCall);
  hangBtn.addEventListener("click", onHang);
  muteBtn.addEventListener("click", onMute);
  number.addEventListener("keydown", onKey);
  number.addEventListener("paste", onPaste);
  timer = setInterval(() => { if (sdk.currentCall?.state === "connected") render(); }, 250);
  render();

  if (ownSDK && options.autoConnect !== false) sdk.connect().catch(showError).finally(render);

  return {
    sdk,
    element: root,
    dial,
    setNumber(n) { number.value = cleanNumber(n); },
    unmount() {
      clearInterval(timer);
      for (const off of offs) off();
      pad.removeEventListener("click", onPad);
      callBtn.removeEventListener("click", onCall);
      hangBtn.removeEventListener("click", onHang);
      muteBtn.removeEventListener("click", onMute);
      root.remove();
      if (ownSDK) sdk.disconnect();
    },
  };
}

export default Callgate;
