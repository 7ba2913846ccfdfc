// Protocol tests of callgate.js with a fake WebSocket, RTCPeerConnection and
// getUserMedia. Run: node --test web/sdk/
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Callgate, CallgateError, resolveURL, describeEnd, describeError, describeSIPCode, cleanNumber, formatDuration,
} from "./callgate.js";

// ---- fakes -----------------------------------------------------------------------

// FakeServer plays callgate: it sees every message the SDK sends and answers auth and
// offer by itself unless a test overrides `on`.
class FakeServer {
  constructor() {
    this.sockets = [];
    this.received = [];
    this.refuse = 0; // the next N sockets fail to open
    this.ready = { type: "ready", v: 1, agent: "alice", tenant: "demo", seats: { used: 1, total: 5 }, ice_servers: ["stun:stun.example.net:3478"] };
    this.on = {};
    const server = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        server.sockets.push(this);
        const refuse = server.refuse > 0;
        if (refuse) server.refuse--;
        setTimeout(() => {
          if (refuse) {
            this.readyState = 3;
            this.onerror?.({});
            this.onclose?.({ code: 1006, reason: "" });
            return;
          }
          this.readyState = 1;
          this.onopen?.({});
        }, 0);
      }
      send(data) {
        assert.equal(this.readyState, 1, "send on a socket that is not open");
        const msg = JSON.parse(data);
        server.received.push(msg);
        const h = server.on[msg.type] || server.defaults[msg.type];
        if (h) setTimeout(() => h.call(server, msg, this), 0);
      }
      close(code = 1000, reason = "") {
        if (this.readyState === 3) return;
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code, reason }), 0);
      }
      // Server side.
      push(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
      drop(code = 1006) {
        this.readyState = 3;
        this.onclose?.({ code, reason: "" });
      }
    };
    this.defaults = {
      auth(msg, ws) { ws.push({ ...this.ready, id: msg.id }); },
      offer(msg, ws) { ws.push({ type: "answer", id: msg.id, sdp: "v=0 answer" }); },
    };
  }
  get ws() { return this.sockets[this.sockets.length - 1]; }
  last(type) { return this.received.filter((m) => m.type === type).at(-1); }
  all(type) { return this.received.filter((m) => m.type === type); }
}

function fakeMedia({ canInsertDTMF = true } = {}) {
  const media = { peers: [], gum: [], track: null, refuse: null };
  media.getUserMedia = async (constraints) => {
    media.gum.push(constraints);
    if (media.refuse) {
      const e = new Error("Permission denied");
      e.name = media.refuse;
      throw e;
    }
    const track = { kind: "audio", enabled: true, readyState: "live", stop() { this.readyState = "ended"; } };
    media.track = track;
    return { getAudioTracks: () => [track], getTracks: () => [track] };
  };
  media.RTCPeerConnection = class FakePC extends EventTarget {
    constructor(config) {
      super();
      this.config = config;
      this.iceGatheringState = "new";
      this.connectionState = "new";
      this.transceivers = [];
      this.closed = false;
      media.peers.push(this);
    }
    addTransceiver(track, init) {
      const dtmf = { canInsertDTMF, toneBuffer: "", inserted: [], insertDTMF(t) { this.inserted.push(t); this.toneBuffer = t; } };
      const tr = { track, init, sender: { track, dtmf } };
      this.transceivers.push(tr);
      return tr;
    }
    async createOffer() { return { type: "offer", sdp: "v=0 offer" }; }
    async setLocalDescription(d) {
      this.localDescription = { type: d.type, sdp: d.sdp };
      this.iceGatheringState = "gathering";
      setTimeout(() => {
        this.localDescription = { type: d.type, sdp: d.sdp + " +candidates" };
        this.iceGatheringState = "complete";
        this.dispatchEvent(new Event("icegatheringstatechange"));
      }, 1);
    }
    async setRemoteDescription(d) { this.remoteDescription = d; }
    close() { this.closed = true; }
  };
  return media;
}

function setup(opts = {}) {
  const server = new FakeServer();
  const media = fakeMedia(opts.media);
  const sdk = new Callgate({
    url: "http://callgate.test:8080",
    token: "tok-1",
    WebSocket: server.WebSocket,
    RTCPeerConnection: media.RTCPeerConnection,
    getUserMedia: media.getUserMedia,
    AudioContext: null,
    document: null,
    random: () => 0.5, // no jitter: delays are exact
    reconnect: { initial: 20, max: 80 },
    requestTimeout: 500,
    iceTimeout: 200,
    ...opts.sdk,
  });
  const events = [];
  for (const t of ["ready", "call", "ended", "incoming", "incomingcancelled", "error", "disconnected", "reconnecting", "reconnected", "micrefused", "statechange", "mute"]) {
    sdk.addEventListener(t, (e) => events.push({ type: t, detail: e.detail }));
  }
  const next = (type, pred = () => true) => new Promise((resolve) => {
    const h = (e) => { if (pred(e.detail)) { sdk.removeEventListener(type, h); resolve(e.detail); } };
    sdk.addEventListener(type, h);
  });
  return { server, media, sdk, events, next };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

// ---- tests -----------------------------------------------------------------------

test("resolveURL: origins, schemes, default path", () => {
  assert.equal(resolveURL("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
  assert.equal(resolveURL("https://cg.example.com/"), "wss://cg.example.com/ws");
  assert.equal(resolveURL("wss://cg.example.com/agent/ws"), "wss://cg.example.com/agent/ws");
  assert.equal(resolveURL(undefined, "https://cg.example.com/sdk/callgate.js"), "wss://cg.example.com/ws");
  assert.equal(resolveURL("/ws", "http://cg.example.com:8080/sdk/callgate.js"), "ws://cg.example.com:8080/ws");
  assert.throws(() => resolveURL("ftp://x/"), (e) => e.code === "invalid_argument");
});

test("connect: auth, ready, getUserMedia, one sendrecv transceiver, offer after ICE, answer applied", async () => {
  const { server, media, sdk, events } = setup();
  const ready = await sdk.connect();
  assert.equal(server.ws.url, "ws://callgate.test:8080/ws");
  const auth = server.received[0];
  assert.equal(auth.type, "auth");
  assert.equal(auth.v, 1);
  assert.equal(auth.token, "tok-1");
  assert.equal(typeof auth.id, "string");
  assert.deepEqual(media.gum, [{ audio: true }]);
  assert.equal(media.peers.length, 1);
  const pc = media.peers[0];
  assert.deepEqual(pc.config.iceServers, [{ urls: "stun:stun.example.net:3478" }]);
  assert.equal(pc.transceivers.length, 1);
  assert.equal(pc.transceivers[0].init.direction, "sendrecv");
  const offer = server.last("offer");
  assert.equal(offer.sdp, "v=0 offer +candidates", "offer must be sent after ICE gathering completes");
  assert.deepEqual(pc.remoteDescription, { type: "answer", sdp: "v=0 answer" });
  assert.deepEqual(ready.seats, { used: 1, total: 5 });
  assert.equal(sdk.state, "ready");
  assert.deepEqual(sdk.seats, { used: 1, total: 5 });
  assert.equal(events.filter((e) => e.type === "ready").length, 1);
  assert.deepEqual(server.received.map((m) => m.type), ["auth", "offer"]);
  sdk.disconnect();
});

test("connect with tenant, agent and password", async () => {
  const { server, sdk } = setup({ sdk: { token: undefined, tenant: "demo", agent: "alice", password: "pw" } });
  await sdk.connect();
  const auth = server.received[0];
  assert.deepEqual([auth.tenant, auth.agent, auth.password, auth.token], ["demo", "alice", "pw", undefined]);
  sdk.disconnect();
});

test("bad credentials reject connect with the code and do not reconnect", async () => {
  const { server, sdk, events } = setup();
  server.on.auth = (msg, ws) => { ws.push({ type: "error", id: msg.id, code: "bad_credentials", message: "bad credentials" }); ws.close(); };
  await assert.rejects(sdk.connect(), (e) => e instanceof CallgateError && e.code === "bad_credentials");
  await tick(60);
  assert.equal(server.sockets.length, 1);
  assert.equal(sdk.state, "closed");
  assert.equal(events.filter((e) => e.type === "reconnecting").length, 0);
});

test("a refused microphone fires micrefused with a clear message and frees the seat", async () => {
  const { server, media, sdk, events } = setup();
  media.refuse = "NotAllowedError";
  await assert.rejects(sdk.connect(), (e) => e.code === "mic_refused");
  const ev = events.find((e) => e.type === "micrefused");
  assert.ok(ev, "micrefused fired");
  assert.match(ev.detail.message, /refused/i);
  assert.equal(ev.detail.name, "NotAllowedError");
  assert.equal(server.ws.readyState, 3, "socket closed, seat freed");
  assert.equal(server.all("offer").length, 0);
});

test("dial resolves with the call id of the first call event carrying its request id", async () => {
  const { server, sdk, events } = setup();
  await sdk.connect();
  server.on.dial = (msg, ws) => {
    ws.push({ type: "call", call: "OTHER", state: "ringing" }); // someone else's: ignored
    ws.push({ type: "call", id: msg.id, call: "C1", state: "dialing", to: "+8613800000001", from: "+8675500000001" });
    ws.push({ type: "call", call: "C1", state: "ringing" });
  };
  const id = await sdk.dial("+86 138-0000-0001");
  assert.equal(id, "C1");
  assert.equal(server.last("dial").to, "+86 138-0000-0001");
  await tick(5);
  assert.equal(sdk.currentCall.call, "C1");
  assert.equal(sdk.currentCall.state, "ringing");
  assert.deepEqual(events.filter((e) => e.type === "call" && e.detail.call === "C1").map((e) => e.detail.state), ["dialing", "ringing"]);

  const ws = server.ws;
  ws.push({ type: "call", call: "C1", state: "connected", at: 1795217754123 });
  assert.ok(sdk.currentCall.connectedAt > 0);
  const hung = sdk.hangup();
  await tick(5);
  assert.deepEqual(server.last("hangup"), { type: "hangup", call: "C1", id: server.last("hangup").id });
  ws.push({ type: "call", call: "C1", state: "ended", code: 200, reason: "caller_bye", by: "agent", billed: 12 });
  await hung;
  assert.equal(sdk.currentCall, null);
  const ended = events.find((e) => e.type === "ended");
  assert.equal(ended.detail.reason, "caller_bye");
  sdk.disconnect();
});

test("an error reply rejects dial with an Error carrying .code", async () => {
  const { server, sdk, events } = setup();
  await sdk.connect();
  server.on.dial = (msg, ws) => ws.push({ type: "error", id: msg.id, code: "invalid_number", message: "\"12ab\" contains 'a'" });
  await assert.rejects(sdk.dial("12ab"), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.code, "invalid_number");
    assert.match(e.message, /not a dialable number/);
    return true;
  });
  assert.equal(events.filter((e) => e.type === "error").length, 0, "a claimed error is not also an error event");
  // An error nobody waits for is an event.
  server.ws.push({ type: "error", code: "bad_request", message: "unknown type" });
  assert.equal(events.filter((e) => e.type === "error").at(-1).detail.code, "bad_request");
  sdk.disconnect();
});

test("dial before connect, and an empty number, reject locally", async () => {
  const { sdk } = setup();
  await assert.rejects(sdk.dial("+8613800000001"), (e) => e.code === "not_connected");
  await sdk.connect();
  await assert.rejects(sdk.dial("  "), (e) => e.code === "invalid_number");
  sdk.disconnect();
});

async function inCall(server, sdk, state = "connected") {
  server.on.dial = (msg, ws) => {
    ws.push({ type: "call", id: msg.id, call: "C9", state: "dialing", to: "+8613800000009" });
    ws.push({ type: "call", call: "C9", state });
  };
  await sdk.connect();
  await sdk.dial("13800000009");
}

test("mute disables the local track and sends mute; ok resolves", async () => {
  const { server, media, sdk } = setup();
  await inCall(server, sdk);
  server.on.mute = (msg, ws) => ws.push({ type: "ok", id: msg.id });
  await sdk.mute(true);
  assert.equal(media.track.enabled, false);
  assert.deepEqual(server.last("mute"), { type: "mute", call: "C9", muted: true, id: server.last("mute").id });
  await sdk.mute(false);
  assert.equal(media.track.enabled, true);
  assert.equal(server.last("mute").muted, false);
  sdk.disconnect();
});

test("sendDTMF uses the browser's RTCDTMFSender when it can", async () => {
  const { server, media, sdk } = setup();
  await inCall(server, sdk);
  assert.equal(await sdk.sendDTMF("12"), "browser");
  assert.equal(await sdk.sendDTMF("#"), "browser");
  const dtmf = media.peers[0].transceivers[0].sender.dtmf;
  assert.deepEqual(dtmf.inserted, ["12", "12#"], "queued digits are kept");
  assert.equal(server.all("dtmf").length, 0);
  await assert.rejects(sdk.sendDTMF("1x"), (e) => e.code === "invalid_argument");
  sdk.disconnect();
});

test("sendDTMF falls back to the dtmf message", async () => {
  const { server, sdk } = setup({ media: { canInsertDTMF: false } });
  await inCall(server, sdk);
  server.on.dtmf = (msg, ws) => ws.push({ type: "ok", id: msg.id });
  assert.equal(await sdk.sendDTMF("5*#"), "server");
  assert.equal(server.last("dtmf").digits, "5*#");
  assert.equal(server.last("dtmf").call, "C9");
  sdk.disconnect();
});

test("hold, transfer, feedback, history", async () => {
  const { server, sdk } = setup();
  await inCall(server, sdk);
  server.on.hold = (msg, ws) => { ws.push({ type: "ok", id: msg.id }); ws.push({ type: "call", call: msg.call, state: msg.on ? "held" : "connected" }); };
  await sdk.hold(true);
  assert.equal(server.last("hold").on, true);
  await tick(5);
  assert.equal(sdk.currentCall.state, "held");
  await sdk.hold(false);
  await tick(5);
  assert.equal(sdk.currentCall.state, "connected");

  server.on.transfer = (msg, ws) => ws.push({ type: "call", call: msg.call, state: "ended", code: 200, reason: "transferred", by: "agent" });
  await sdk.transfer("+86 139 0000 0002");
  assert.equal(server.last("transfer").to, "+86 139 0000 0002");
  assert.equal(sdk.currentCall, null);

  server.on.feedback = (msg, ws) => ws.push({ type: "ok", id: msg.id });
  await sdk.feedback("C9", "one_way_audio", "customer could not hear me");
  assert.deepEqual(server.last("feedback"), { type: "feedback", call: "C9", kind: "one_way_audio", note: "customer could not hear me", id: server.last("feedback").id });
  await assert.rejects(sdk.feedback("C9", "bad_kind"), (e) => e.code === "invalid_argument");

  const calls = [{ call: "C9", to: "+8613800000009", state: "ended", code: 200, reason: "transferred", billed: 3 }];
  server.on.history = (msg, ws) => ws.push({ type: "history", id: msg.id, calls });
  assert.deepEqual(await sdk.history(5), calls);
  assert.equal(server.last("history").limit, 5);
  sdk.disconnect();
});

test("a request the server never answers times out", async () => {
  const { sdk } = setup({ sdk: { requestTimeout: 30 } });
  await sdk.connect();
  await assert.rejects(sdk.history(), (e) => e.code === "timeout");
  sdk.disconnect();
});

test("a drop during a call ends it locally (connection_lost), then reconnects with backoff", async () => {
  const { server, media, sdk, events, next } = setup();
  await inCall(server, sdk);
  const first = server.ws;
  server.refuse = 2; // the first two reconnect attempts fail
  const reconnected = next("reconnected");
  const t0 = Date.now();
  first.drop(1006);

  const ended = events.find((e) => e.type === "ended");
  assert.ok(ended, "ended emitted for the call in progress");
  assert.equal(ended.detail.call, "C9");
  assert.equal(ended.detail.reason, "connection_lost");
  assert.equal(sdk.currentCall, null);
  const disc = events.find((e) => e.type === "disconnected");
  assert.equal(disc.detail.reconnect, true);
  assert.equal(sdk.state, "reconnecting");
  assert.equal(media.peers[0].closed, true);
  await assert.rejects(sdk.dial("1"), (e) => e.code === "not_connected");

  const ready = await reconnected;
  assert.ok(Date.now() - t0 >= 20 + 40 + 80 - 10, "waited the backoff delays");
  const delays = events.filter((e) => e.type === "reconnecting").map((e) => e.detail.delay);
  assert.deepEqual(delays, [20, 40, 80], "1x, 2x, 4x the initial delay, capped at max");
  assert.equal(server.sockets.length, 4);
  assert.deepEqual(server.received.map((m) => m.type).filter((t) => t === "auth" || t === "offer"), ["auth", "offer", "auth", "offer"]);
  assert.equal(media.peers.length, 2, "a fresh peer connection");
  assert.equal(media.gum.length, 1, "the microphone stream is kept");
  assert.equal(ready.agent, "alice");
  assert.equal(sdk.state, "ready");

  // After a success the backoff starts over.
  server.ws.drop();
  await next("reconnected");
  assert.equal(events.filter((e) => e.type === "reconnecting").at(-1).detail.delay, 20);
  sdk.disconnect();
});

test("backoff is capped and jittered", async () => {
  const { server, sdk, events, next } = setup({ sdk: { random: () => 1, reconnect: { initial: 10, max: 25, jitter: 0.2 } } });
  await sdk.connect();
  server.refuse = 3;
  const done = next("reconnected");
  server.ws.drop();
  await done;
  const delays = events.filter((e) => e.type === "reconnecting").map((e) => e.detail.delay);
  assert.deepEqual(delays, [12, 24, 25, 25]);
  sdk.disconnect();
});

test("bad credentials while reconnecting stop reconnecting", async () => {
  const { server, sdk, events, next } = setup();
  await sdk.connect();
  server.on.auth = (msg, ws) => ws.push({ type: "error", id: msg.id, code: "bad_credentials", message: "bad credentials" });
  const gone = next("disconnected", (d) => d.reconnect === false);
  server.ws.drop();
  await gone;
  assert.equal(sdk.state, "closed");
  assert.equal(events.filter((e) => e.type === "error").at(-1).detail.code, "bad_credentials");
  await tick(100);
  assert.equal(server.sockets.length, 2);
});

test("disconnect closes for good and rejects what is pending", async () => {
  const { server, media, sdk, events } = setup();
  await sdk.connect();
  const h = sdk.history();
  sdk.disconnect();
  await assert.rejects(h, (e) => e.code === "disconnected");
  assert.equal(sdk.state, "closed");
  assert.equal(media.track.readyState, "ended", "microphone released");
  await tick(60);
  assert.equal(server.sockets.length, 1);
  assert.equal(events.filter((e) => e.type === "reconnecting").length, 0);
  assert.equal(events.filter((e) => e.type === "disconnected").at(-1).detail.reconnect, false);
});

test("describe helpers speak plain words", () => {
  assert.match(describeEnd({ state: "ended", code: 486, reason: "callee_486" }), /Busy.*SIP 486/);
  assert.match(describeEnd({ state: "ended", code: 200, reason: "callee_bye", billed: 65 }), /customer hung up.*01:05 billed/);
  assert.match(describeEnd({ state: "ended", code: 404, reason: "callee_404" }), /does not exist/);
  assert.match(describeError("seats_exhausted"), /seats/);
  assert.equal(describeSIPCode(0), "");
  assert.equal(cleanNumber(" ＋86　138－0000－0001 "), "+86 138-0000-0001");
  assert.equal(formatDuration(3723000), "1:02:03");
});

// ---- callbacks -------------------------------------------------------------------

const INCOMING = { type: "incoming", call: "CB1", from: "+8613900000002", to: "+862100000001", tenant: "demo", ring_ms: 30000, at: 1795217754123 };

test("a callback rings, accept() takes it: answering, then the server's call events", async () => {
  const { server, sdk, events, next } = setup();
  await sdk.connect();
  const ringing = next("incoming");
  server.ws.push(INCOMING);
  const inc = await ringing;
  assert.equal(sdk.incoming, inc);
  assert.deepEqual([inc.call, inc.from, inc.to, inc.tenant, inc.ringMs, inc.state], ["CB1", "+8613900000002", "+862100000001", "demo", 30000, "ringing"]);
  server.on.accept = (msg, ws) => ws.push({ type: "ok", id: msg.id });
  assert.equal(await inc.accept(), "CB1");
  assert.deepEqual(server.last("accept"), { type: "accept", call: "CB1", id: server.last("accept").id });
  assert.equal(inc.state, "accepted");
  assert.equal(sdk.incoming, null);
  assert.equal(sdk.currentCall.call, "CB1");
  assert.equal(sdk.currentCall.direction, "inbound");
  assert.equal(sdk.currentCall.state, "answering");
  server.ws.push({ type: "call", call: "CB1", state: "connected", from: "+8613900000002", to: "+862100000001", at: 1795217755000 });
  assert.equal(sdk.currentCall.state, "connected");
  assert.ok(sdk.currentCall.connectedAt > 0);
  assert.deepEqual(events.filter((e) => e.type === "call").map((e) => e.detail.state), ["answering", "connected"]);

  await assert.rejects(inc.accept(), (e) => e.code === "no_call", "a taken call cannot be answered again");

  // The controls work on it; the customer hangs up.
  server.on.mute = (msg, ws) => ws.push({ type: "ok", id: msg.id });
  await sdk.mute(true);
  assert.equal(server.last("mute").call, "CB1");
  server.ws.push({ type: "call", call: "CB1", state: "ended", code: 200, reason: "caller_bye", by: "caller", billed: 7 });
  assert.equal(sdk.currentCall, null);
  const ended = events.filter((e) => e.type === "ended").at(-1).detail;
  assert.match(describeEnd(ended), /customer hung up/);
  sdk.disconnect();
});

test("decline() refuses the callback; the server's error leaves it ringing", async () => {
  const { server, sdk, events } = setup();
  await sdk.connect();
  server.ws.push(INCOMING);
  server.on.accept = (msg, ws) => ws.push({ type: "error", id: msg.id, code: "busy", message: "hang up the current call" });
  await assert.rejects(sdk.accept(), (e) => e.code === "busy");
  assert.equal(sdk.incoming?.state, "ringing", "still ringing after busy");
  server.on.decline = (msg, ws) => ws.push({ type: "ok", id: msg.id });
  await sdk.decline("CB1");
  assert.equal(server.last("decline").call, "CB1");
  assert.equal(sdk.incoming, null);
  assert.equal(sdk.currentCall, null);
  assert.equal(events.filter((e) => e.type === "incomingcancelled").length, 0);
  await assert.rejects(sdk.accept(), (e) => e.code === "no_call");
  sdk.disconnect();
});

test("incoming_cancelled stops the ringing; a lost connection too", async () => {
  const { server, sdk, events } = setup();
  await sdk.connect();
  server.ws.push(INCOMING);
  const inc = sdk.incoming;
  server.ws.push({ type: "incoming_cancelled", call: "CB1", reason: "cancel", at: 1 });
  assert.equal(sdk.incoming, null);
  assert.deepEqual([inc.state, inc.reason], ["cancelled", "cancel"]);
  const cancelled = events.find((e) => e.type === "incomingcancelled").detail;
  assert.deepEqual([cancelled.call, cancelled.reason], ["CB1", "cancel"]);
  await assert.rejects(inc.accept(), (e) => e.code === "no_call");
  assert.equal(server.all("accept").length, 0, "nothing sent for a call that stopped ringing");

  server.ws.push({ ...INCOMING, call: "CB2" });
  server.ws.drop();
  assert.equal(sdk.incoming, null);
  assert.equal(events.filter((e) => e.type === "incomingcancelled").at(-1).detail.reason, "connection_lost");
  sdk.disconnect();
});

test("a connected event that overtakes accept's ok makes the callback the current call", async () => {
  const { server, sdk, events } = setup();
  await sdk.connect();
  server.ws.push(INCOMING);
  server.on.accept = (msg, ws) => {
    ws.push({ type: "ok", id: msg.id });
    ws.push({ type: "call", call: msg.call, state: "connected", at: 1795217755000 });
  };
  assert.equal(await sdk.accept(), "CB1");
  assert.equal(sdk.incoming, null);
  assert.deepEqual([sdk.currentCall.state, sdk.currentCall.direction], ["connected", "inbound"]);
  assert.deepEqual(events.filter((e) => e.type === "call").map((e) => e.detail.state), ["connected"]);
  sdk.disconnect();
});
