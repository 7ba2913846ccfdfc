-- 0001: bindings, call records and their attempts.
--
-- Conventions for every table in this schema:
--   * times are INTEGER unix milliseconds (UTC); NULL means "not yet" / zero time.Time;
--   * text columns that may be empty are NOT NULL DEFAULT '' (so they compare and index
--     predictably; NULL is reserved for times);
--   * rows that other systems refer to by id are never reused (AUTOINCREMENT) and are
--     soft-deleted (deleted_at) so the GC can apply a cool-down before reuse.

-- bindings: virtual-number bindings, both config-defined (static = 1) and API-created.
CREATE TABLE bindings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT    NOT NULL DEFAULT '',
    mode          TEXT    NOT NULL CHECK (mode IN ('AXN', 'AXB', 'AXYB')),
    virtual       TEXT    NOT NULL CHECK (virtual <> ''),  -- X
    party_a       TEXT    NOT NULL DEFAULT '',             -- '' for AXN
    party_b       TEXT    NOT NULL CHECK (party_b <> ''),
    y             TEXT    NOT NULL DEFAULT '',             -- AXYB only
    trunk         TEXT    NOT NULL DEFAULT '',             -- '' = pool's choice
    static        INTEGER NOT NULL DEFAULT 0 CHECK (static IN (0, 1)),
    expiry_type   TEXT    NOT NULL DEFAULT 'never'
                  CHECK (expiry_type IN ('never', 'after_bind', 'after_first_call', 'after_last_call', 'at')),
    expiry_sec    INTEGER NOT NULL DEFAULT 0 CHECK (expiry_sec >= 0),
    expire_at     INTEGER,                                 -- for expiry_type 'at'
    created_at    INTEGER NOT NULL,
    first_call_at INTEGER,
    last_call_at  INTEGER,
    deleted_at    INTEGER,                                 -- unbound / reclaimed; start of cool-down
    -- ends_at is the instant the binding stops routing; NULL = no end (yet). It is the
    -- one SQL statement of the expiry rules (Binding.EndsAt is the Go one) and is
    -- indexed for the GC.
    ends_at       INTEGER GENERATED ALWAYS AS (
                      CASE expiry_type
                          WHEN 'after_bind'       THEN created_at + expiry_sec * 1000
                          WHEN 'after_first_call' THEN first_call_at + expiry_sec * 1000
                          WHEN 'after_last_call'  THEN coalesce(last_call_at, created_at) + expiry_sec * 1000
                          WHEN 'at'               THEN expire_at
                      END
                  ) STORED,
    CHECK (mode = 'AXN'  OR party_a <> ''),
    CHECK (mode <> 'AXN' OR party_a = ''),
    CHECK ((mode = 'AXYB') = (y <> '')),
    CHECK (expiry_type <> 'at' OR expire_at IS NOT NULL),
    CHECK (expiry_type NOT IN ('after_bind', 'after_first_call', 'after_last_call') OR expiry_sec > 0)
);

-- Lookup of a call to X (and, with party_a, of (A, X)); live rows only.
CREATE INDEX bindings_by_virtual ON bindings (virtual, party_a) WHERE deleted_at IS NULL;
-- Lookup of B's call to Y in AXYB.
CREATE INDEX bindings_by_y ON bindings (y, party_b) WHERE deleted_at IS NULL;
-- A static binding is identified by (virtual, mode, party_a): at most one live row each.
CREATE UNIQUE INDEX bindings_static_identity ON bindings (virtual, mode, party_a)
    WHERE static = 1 AND deleted_at IS NULL;
-- GC: live bindings ordered by when they stop routing.
CREATE INDEX bindings_by_end ON bindings (ends_at) WHERE deleted_at IS NULL AND ends_at IS NOT NULL;

-- calls: one row per call, inbound or outbound.
CREATE TABLE calls (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    tenant     TEXT    NOT NULL DEFAULT '',
    direction  TEXT    NOT NULL DEFAULT '',                -- 'inbound' | 'outbound'
    agent      TEXT    NOT NULL DEFAULT '',
    caller     TEXT    NOT NULL DEFAULT '',
    callee     TEXT    NOT NULL DEFAULT '',
    virtual    TEXT    NOT NULL DEFAULT '',
    in_trunk   TEXT    NOT NULL DEFAULT '',
    out_trunk  TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL DEFAULT 'setup',
    sip_code   INTEGER NOT NULL DEFAULT 0,
    reason     TEXT    NOT NULL DEFAULT '',
    hangup_by  TEXT    NOT NULL DEFAULT '',
    setup_at   INTEGER NOT NULL,
    ring_at    INTEGER,
    answer_at  INTEGER,
    end_at     INTEGER,
    billed_sec INTEGER NOT NULL DEFAULT 0 CHECK (billed_sec >= 0),
    cost_milli INTEGER NOT NULL DEFAULT 0,
    -- RTP packets received from / sent to the caller's leg (a) and the callee's (b).
    packets_from_a INTEGER NOT NULL DEFAULT 0,
    packets_to_a   INTEGER NOT NULL DEFAULT 0,
    packets_from_b INTEGER NOT NULL DEFAULT 0,
    packets_to_b   INTEGER NOT NULL DEFAULT 0
);

-- Listing newest first, across tenants or per tenant (rowid breaks ties).
CREATE INDEX calls_by_setup ON calls (setup_at);
CREATE INDEX calls_by_tenant_setup ON calls (tenant, setup_at);

-- call_attempts: the outbound legs tried for a call, in order.
CREATE TABLE call_attempts (
    call_id     TEXT    NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    trunk       TEXT    NOT NULL DEFAULT '',
    from_number TEXT    NOT NULL DEFAULT '',
    to_number   TEXT    NOT NULL DEFAULT '',
    sip_code    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT    NOT NULL DEFAULT '',
    start_at    INTEGER,
    ring_at     INTEGER,
    answer_at   INTEGER,
    end_at      INTEGER,
    PRIMARY KEY (call_id, seq)
) WITHOUT ROWID;
