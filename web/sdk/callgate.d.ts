// Types of callgate.js, the browser SDK of callgate (signaling protocol v1).

export declare const VERSION: string;
export declare const PROTOCOL_VERSION: 1;

export type FeedbackKind = "no_ring" | "noise" | "one_way_audio" | "wrong_number" | "other";
export declare const FEEDBACK_KINDS: readonly FeedbackKind[];

/** Error codes sent by the server (docs/signaling.md). */
export type ServerErrorCode =
  | "bad_request" | "bad_version" | "bad_credentials" | "signed_in_elsewhere" | "do_not_call" | "capped" | "seats_exhausted" | "not_ready"
  | "invalid_number" | "busy" | "no_call" | "no_route" | "unavailable" | "internal"
  | "locked_out" | "token_revoked";

/** Error codes of the SDK itself. */
export type SDKErrorCode =
  | "connect_failed" | "connection_lost" | "not_connected" | "disconnected" | "timeout"
  | "mic_refused" | "media_failed" | "no_credentials" | "invalid_argument";

export type ErrorCode = ServerErrorCode | SDKErrorCode;

export declare const ERROR_MESSAGES: Readonly<Record<ErrorCode, string>>;
export declare const END_REASONS: Readonly<Record<string, string>>;
export declare const SIP_CODES: Readonly<Record<number, string>>;
export declare const STATE_NAMES: Readonly<Record<CallState, string>>;
export declare const INCOMING_END_REASONS: Readonly<Record<string, string>>;

/** Every error the SDK rejects with. */
export declare class CallgateError extends Error {
  constructor(code: ErrorCode | string, message?: string, extra?: object);
  readonly name: "CallgateError";
  /** Which error: a server code or an SDK code. */
  readonly code: ErrorCode | string;
  /** The server's own message, when it sent one. */
  readonly serverMessage?: string;
  /** The request id the server's error echoed. */
  readonly id?: string;
  /** For mic_refused: the getUserMedia error name (NotAllowedError, NotFoundError, …). */
  readonly reason?: string;
}

/** "answering" is the SDK's own: a callback accepted, not yet connected. */
export type CallState = "answering" | "dialing" | "ringing" | "early" | "connected" | "held" | "ended";

/** A server `call` event (or one the SDK makes up: `local: true`). */
export interface CallEvent {
  type: "call";
  call: string;
  state: CallState;
  /** The dial request id, on the first event of a call placed by dial(). */
  id?: string;
  to?: string;
  from?: string;
  /** Unix milliseconds. */
  at?: number;
  /** Final SIP code, on "ended" (200 for an answered call). */
  code?: number;
  /** On "ended": caller_bye, callee_bye, cancel, no_answer, callee_486, rtp_timeout,
   * max_duration, shutdown, transferred, connection_lost (local), … */
  reason?: string;
  /** Who ended it; "caller" is the customer of a callback. */
  by?: "agent" | "callee" | "caller" | "system";
  /** Billed seconds, on "ended". */
  billed?: number;
  /** True for events the SDK made up (the connection was lost or closed). */
  local?: boolean;
}

/** A customer's callback ringing on the page: the detail of the `incoming` event. */
export declare class IncomingCall {
  readonly call: string;
  /** The customer (the agent's own customer: show it). */
  readonly from: string;
  /** The caller number the customer called back. */
  readonly to: string;
  readonly tenant: string;
  /** How long it rings, ms, when the server said. */
  readonly ringMs: number | null;
  /** Unix ms. */
  readonly at: number | null;
  readonly state: "ringing" | "accepted" | "declined" | "cancelled";
  /** Why it stopped ringing, once cancelled: cancel (the customer hung up), no_answer, shutdown, connection_lost, disconnected, gone. */
  readonly reason: string | null;
  /** Takes the call; resolves with the call id once the server has it. */
  accept(): Promise<string>;
  /** Refuses the call; the tenant's fallback takes it. */
  decline(): Promise<void>;
}

/** @deprecated the `incoming` event's detail is an IncomingCall. */
export type IncomingEvent = IncomingCall;

export interface IncomingCancelledDetail {
  call: string;
  reason: string;
  incoming: IncomingCall;
}

/** The call in progress: the merge of its events so far. */
export interface CurrentCall extends Omit<CallEvent, "type" | "id"> {
  /** Local Date.now() when the call became connected, or null. */
  connectedAt: number | null;
  /** "inbound" for an accepted callback. */
  direction: "inbound" | "outbound";
}

export interface Seats { used: number; total: number }

/** The server's `ready` message. */
export interface ReadyMessage {
  type: "ready";
  v: 1;
  agent: string;
  tenant: string;
  seats: Seats;
  ice_servers: Array<string | RTCIceServer>;
}

/** One call of history(). Times are unix milliseconds. */
export interface HistoryCall {
  call: string;
  to: string;
  from: string;
  state: CallState;
  code: number;
  reason: string;
  setup_at: number;
  answer_at?: number;
  end_at?: number;
  billed: number;
}

export interface ErrorDetail {
  code: ErrorCode | string;
  /** Plain words, ready to show. */
  message: string;
  serverMessage?: string;
  id?: string;
}

export interface DisconnectedDetail {
  /** WebSocket close code. */
  code: number;
  reason: string;
  /** True when the SDK will reconnect by itself. */
  reconnect: boolean;
}

export interface ReconnectingDetail {
  /** 1 for the first attempt after a drop. */
  attempt: number;
  /** Milliseconds until the attempt. */
  delay: number;
  /** Date.now() of the attempt. */
  at: number;
}

export interface MicRefusedDetail {
  /** The getUserMedia error name: NotAllowedError, NotFoundError, NotReadableError, … */
  name: string;
  /** A clear sentence for the agent. */
  message: string;
}

export type SessionState = "idle" | "connecting" | "ready" | "reconnecting" | "closed";

export interface CallgateEventMap {
  /** The session is ready for calls (after connect() and after every reconnect). */
  ready: CustomEvent<ReadyMessage>;
  /** Every call state change. */
  call: CustomEvent<CallEvent>;
  /** A call ended (also fired, with reason "connection_lost", when the socket drops mid-call). */
  ended: CustomEvent<CallEvent>;
  /** A customer calls back: accept() or decline() the detail. */
  incoming: CustomEvent<IncomingCall>;
  /** A callback stopped ringing before an answer (the customer hung up, the ring timeout, …). */
  incomingcancelled: CustomEvent<IncomingCancelledDetail>;
  /** A server error no promise reported, or a fatal error while reconnecting. */
  error: CustomEvent<ErrorDetail>;
  disconnected: CustomEvent<DisconnectedDetail>;
  reconnecting: CustomEvent<ReconnectingDetail>;
  reconnected: CustomEvent<ReadyMessage>;
  micrefused: CustomEvent<MicRefusedDetail>;
  statechange: CustomEvent<{ state: SessionState }>;
  mute: CustomEvent<{ muted: boolean }>;
  dtmf: CustomEvent<{ call: string; digits: string; via: "browser" | "server" }>;
  /** The peer connection's state ("connected", "failed", …) or "track" when remote audio arrives. */
  media: CustomEvent<{ state: RTCPeerConnectionState | "track" }>;
}

export interface BackoffOptions {
  /** First delay, ms (1000). */
  initial?: number;
  /** Longest delay, ms (30000). */
  max?: number;
  /** Growth per attempt (2). */
  factor?: number;
  /** ± fraction of randomness (0.2). */
  jitter?: number;
}

export interface Credentials {
  token?: string;
  tenant?: string;
  agent?: string;
  password?: string;
}

export interface CallgateOptions extends Credentials {
  /** Websocket URL or callgate origin ("https://callgate.example.com"). Default: /ws of
   * the origin that served callgate.js. http(s) becomes ws(s); an origin alone gets /ws. */
  url?: string;
  /** Where remote audio plays; default: a hidden <audio autoplay> the SDK appends to <body>. */
  audioElement?: HTMLAudioElement;
  /** getUserMedia's `audio` constraint (true). */
  audioConstraints?: boolean | MediaTrackConstraints;
  /** false: never reconnect by itself. */
  reconnect?: false | BackoffOptions;
  /** ms to wait for ICE gathering before sending the offer anyway (4000). */
  iceTimeout?: number;
  /** ms to wait for a server reply (15000). */
  requestTimeout?: number;
  /** Put PCMU/PCMA first in the offer (true). */
  preferG711?: boolean;
  // Test overrides.
  WebSocket?: typeof WebSocket;
  RTCPeerConnection?: typeof RTCPeerConnection;
  getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  AudioContext?: typeof AudioContext | null;
  document?: Document | null;
  setTimeout?: typeof setTimeout;
  clearTimeout?: typeof clearTimeout;
  random?: () => number;
  now?: () => number;
}

export interface RTPStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  /** Seconds. */
  jitter: number;
  /** Seconds, when known. */
  roundTripTime: number | null;
}

export declare class Callgate extends EventTarget {
  constructor(options?: CallgateOptions);

  readonly options: CallgateOptions;
  /** The websocket URL in use. */
  readonly url: string;
  readonly state: SessionState;
  /** The `ready` message of the current session. */
  readonly session: ReadyMessage | null;
  readonly seats: Seats | null;
  readonly currentCall: CurrentCall | null;
  /** The callback ringing on the page, or null. */
  readonly incoming: IncomingCall | null;
  readonly inCall: boolean;
  readonly muted: boolean;
  readonly ws: WebSocket | null;
  readonly pc: RTCPeerConnection | null;
  readonly localStream: MediaStream | null;
  readonly remoteStream: MediaStream | null;
  readonly audioElement: HTMLAudioElement | null;
  readonly audioContext: AudioContext | null;
  /** AnalyserNode on the microphone (fftSize 1024), once connected. */
  readonly micAnalyser: AnalyserNode | null;
  /** AnalyserNode on the remote audio (fftSize 4096), once it arrives:
   * getFloatFrequencyData / getFloatTimeDomainData for tests. */
  readonly remoteAnalyser: AnalyserNode | null;

  /** Opens the session; resolves once calls can be placed. During "reconnecting": tries now. */
  connect(credentials?: Credentials): Promise<ReadyMessage>;
  /** Places a call; resolves with the call id on its first call event. */
  dial(number: string): Promise<string>;
  /** Accepts the callback ringing (or callId); resolves with its call id. Rejects no_call, busy. */
  accept(callId?: string): Promise<string>;
  /** Declines the callback ringing (or callId). */
  decline(callId?: string): Promise<void>;
  /** Hangs up the current call (or callId); resolves when it has ended. */
  hangup(callId?: string): Promise<void>;
  /** Mutes (true) or unmutes the microphone: local track and, during a call, the server. */
  mute(on?: boolean): Promise<void>;
  /** Sends DTMF digits (0-9 * # A-D) on the current call. */
  sendDTMF(digits: string): Promise<"browser" | "server">;
  /** Blind transfer of the current call. */
  transfer(number: string): Promise<void>;
  /** Hold (true) or resume (false) the current call. */
  hold(on?: boolean): Promise<void>;
  /** Attaches feedback to a call record; note is cut to 2000 bytes. */
  feedback(callId: string, kind: FeedbackKind, note?: string): Promise<void>;
  /** The agent's recent calls, newest first; limit 0..200 (20). */
  history(limit?: number): Promise<HistoryCall[]>;
  /** Ends the session for good; releases the microphone. */
  disconnect(): void;
  /** Logs out: the server revokes the issued token of this session, then disconnect(). */
  logout(): Promise<void>;

  /** Microphone level 0..1 (-60..0 dBFS). */
  level(): number;
  /** Remote audio level 0..1. */
  remoteLevel(): number;
  /** Frequency (Hz) of the strongest remote component, 0 if nothing above minDb (-100). */
  remoteFrequencyPeak(minDb?: number): number;
  /** Audio RTP counters of the session. */
  stats(): Promise<RTPStats>;

  /** Listens with fn(detail, event); returns a function removing the listener. */
  on<K extends keyof CallgateEventMap>(type: K, fn: (detail: CallgateEventMap[K]["detail"], event: CallgateEventMap[K]) => void): () => void;

  addEventListener<K extends keyof CallgateEventMap>(type: K, listener: (ev: CallgateEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof CallgateEventMap>(type: K, listener: (ev: CallgateEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export interface DialerOptions extends CallgateOptions {
  /** Use this SDK instance instead of making one (it is then not connected nor disconnected by the dialer). */
  sdk?: Callgate;
  /** Connect at once (true; only when the dialer makes the SDK). */
  autoConnect?: boolean;
  /** Pin the panel to the bottom right of the window. */
  floating?: boolean;
  /** Panel title ("Call"). */
  title?: string;
  /** Prefilled number. */
  number?: string;
}

export interface Dialer {
  sdk: Callgate;
  /** The panel's root element (.cg-dialer). */
  element: HTMLElement;
  /** Fills the number (if given) and dials it; resolves with the call id. */
  dial(number?: string): Promise<string>;
  setNumber(number: string): void;
  /** Removes the panel; disconnects the SDK if the dialer made it. */
  unmount(): void;
}

/** Mounts a dialer panel into element. */
export declare function mountDialer(element: HTMLElement, options?: DialerOptions): Dialer;

/** The websocket URL for a `url` option (see CallgateOptions.url). */
export declare function resolveURL(url?: string, base?: string): string;
export declare function describeError(code: string, message?: string): string;
export declare function describeSIPCode(code?: number): string;
export declare function describeEnd(ev: Partial<CallEvent> | Partial<HistoryCall>): string;
export declare function describeState(ev: Partial<CallEvent>): string;
/** m:ss or h:mm:ss. */
export declare function formatDuration(ms: number): string;
/** Full-width digits to ASCII, invisible characters out, whitespace collapsed. */
export declare function cleanNumber(s: string): string;

export default Callgate;
