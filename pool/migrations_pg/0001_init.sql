-- 0001: the whole schema of callgate on PostgreSQL, as the SQLite migrations 0001 to
-- 0015 left it, plus the instance identity a shared store needs.
--
-- Conventions, as in the SQLite schema: times are BIGINT unix milliseconds (UTC), NULL
-- meaning "not yet"; text that may be empty is NOT NULL DEFAULT ''; rows other
-- systems refer to by id are never reused (identity columns) and are soft-deleted.
-- Several callgate instances share one database: a row one instance owns (a lease, an
-- open call record, a liveness mark) names it in an "instance" column.

CREATE TABLE bindings (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        TEXT    NOT NULL DEFAULT '',
    mode          TEXT    NOT NULL CHECK (mode IN ('AXN', 'AXB', 'AXYB')),
    virtual       TEXT    NOT NULL CHECK (virtual <> ''),
    party_a       TEXT    NOT NULL DEFAULT '',
    party_b       TEXT    NOT NULL CHECK (party_b <> ''),
    y             TEXT    NOT NULL DEFAULT '',
    trunk         TEXT    NOT NULL DEFAULT '',
    static        BOOLEAN NOT NULL DEFAULT false,
    expiry_type   TEXT    NOT NULL DEFAULT 'never'
                  CHECK (expiry_type IN ('never', 'after_bind', 'after_first_call', 'after_last_call', 'at')),
    expiry_sec    BIGINT  NOT NULL DEFAULT 0 CHECK (expiry_sec >= 0),
    expire_at     BIGINT,
    created_at    BIGINT  NOT NULL,
    first_call_at BIGINT,
    last_call_at  BIGINT,
    deleted_at    BIGINT,
    y_trunk       TEXT    NOT NULL DEFAULT '',
    city          TEXT    NOT NULL DEFAULT '',
    channel       TEXT    NOT NULL DEFAULT '',
    pool          TEXT    NOT NULL DEFAULT '',
    idem_key      TEXT    NOT NULL DEFAULT '',
    idem_hash     TEXT    NOT NULL DEFAULT '',
    updated_at    BIGINT,
    end_reason    TEXT    NOT NULL DEFAULT '',
    -- The instant the binding stops routing (Binding.EndsAt in SQL); NULL: no end yet.
    ends_at       BIGINT GENERATED ALWAYS AS (
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

CREATE INDEX bindings_by_virtual ON bindings (virtual, party_a) WHERE deleted_at IS NULL;
CREATE INDEX bindings_by_virtual_b ON bindings (virtual, party_b) WHERE deleted_at IS NULL;
CREATE INDEX bindings_by_y ON bindings (y, party_b) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX bindings_static_identity ON bindings (virtual, mode, party_a)
    WHERE static AND deleted_at IS NULL;
CREATE INDEX bindings_by_end ON bindings (ends_at) WHERE deleted_at IS NULL AND ends_at IS NOT NULL;
CREATE UNIQUE INDEX bindings_idempotency ON bindings (tenant, idem_key) WHERE idem_key <> '';
CREATE INDEX bindings_by_pair ON bindings (tenant, party_a, party_b) WHERE deleted_at IS NULL;
CREATE INDEX bindings_by_tenant ON bindings (tenant, id) WHERE deleted_at IS NULL;
CREATE INDEX bindings_by_tenant_b ON bindings (tenant, party_b) WHERE deleted_at IS NULL;
CREATE INDEX bindings_idle ON bindings ((coalesce(last_call_at, created_at)))
    WHERE deleted_at IS NULL AND NOT static AND expiry_type = 'never';

-- virtual_numbers: the allocatable numbers. Allocation locks a number's row (FOR
-- UPDATE SKIP LOCKED) for the rest of its transaction, and every change to the
-- bindings on a number updates "bound" in the same transaction: so all changes to one
-- number are serialised across instances.
CREATE TABLE virtual_numbers (
    number    TEXT    NOT NULL PRIMARY KEY CHECK (number <> ''),
    pool      TEXT    NOT NULL CHECK (pool <> ''),
    tenant    TEXT    NOT NULL DEFAULT '',
    supplier  TEXT    NOT NULL DEFAULT '',
    region    TEXT    NOT NULL DEFAULT '',
    trunk     TEXT    NOT NULL DEFAULT '',
    state     TEXT    NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'blocked', 'retired')),
    bound     INTEGER NOT NULL DEFAULT 0 CHECK (bound >= 0),
    synced_at BIGINT  NOT NULL
);

CREATE INDEX virtual_numbers_by_load ON virtual_numbers (pool, state, bound, number);

-- binding_parties: the invariant "at most one active binding per (virtual number,
-- party)" is its primary key.
CREATE TABLE binding_parties (
    number        TEXT   NOT NULL,
    party         TEXT   NOT NULL,
    binding_id    BIGINT NOT NULL REFERENCES bindings (id),
    cooling_until BIGINT,
    PRIMARY KEY (number, party)
);

CREATE INDEX binding_parties_by_binding ON binding_parties (binding_id);
CREATE INDEX binding_parties_by_cooling ON binding_parties (cooling_until) WHERE cooling_until IS NOT NULL;

CREATE TABLE calls (
    id             TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    seq            BIGINT  GENERATED ALWAYS AS IDENTITY,      -- insertion order, breaks ties
    tenant         TEXT    NOT NULL DEFAULT '',
    direction      TEXT    NOT NULL DEFAULT '',
    agent          TEXT    NOT NULL DEFAULT '',
    caller         TEXT    NOT NULL DEFAULT '',
    callee         TEXT    NOT NULL DEFAULT '',
    virtual        TEXT    NOT NULL DEFAULT '',
    in_trunk       TEXT    NOT NULL DEFAULT '',
    out_trunk      TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL DEFAULT 'setup',
    sip_code       INTEGER NOT NULL DEFAULT 0,
    reason         TEXT    NOT NULL DEFAULT '',
    hangup_by      TEXT    NOT NULL DEFAULT '',
    setup_at       BIGINT  NOT NULL,
    ring_at        BIGINT,
    answer_at      BIGINT,
    end_at         BIGINT,
    billed_sec     BIGINT  NOT NULL DEFAULT 0 CHECK (billed_sec >= 0),
    cost_milli     BIGINT  NOT NULL DEFAULT 0,
    packets_from_a BIGINT  NOT NULL DEFAULT 0,
    packets_to_a   BIGINT  NOT NULL DEFAULT 0,
    packets_from_b BIGINT  NOT NULL DEFAULT 0,
    packets_to_b   BIGINT  NOT NULL DEFAULT 0,
    instance       TEXT    NOT NULL DEFAULT ''                -- the instance handling the call
);

CREATE INDEX calls_by_setup ON calls (setup_at, seq);
CREATE INDEX calls_by_tenant_setup ON calls (tenant, setup_at, seq);
CREATE INDEX calls_by_tenant_agent_setup ON calls (tenant, agent, setup_at, seq);
CREATE INDEX calls_by_tenant_callee ON calls (tenant, callee, setup_at);
CREATE INDEX calls_open ON calls (instance, setup_at) WHERE end_at IS NULL;

CREATE TABLE call_attempts (
    call_id     TEXT    NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    trunk       TEXT    NOT NULL DEFAULT '',
    from_number TEXT    NOT NULL DEFAULT '',
    to_number   TEXT    NOT NULL DEFAULT '',
    sip_code    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT    NOT NULL DEFAULT '',
    start_at    BIGINT,
    ring_at     BIGINT,
    answer_at   BIGINT,
    end_at      BIGINT,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE call_feedback (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id    TEXT   NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL CHECK (kind IN ('no_ring', 'noise', 'one_way_audio', 'wrong_number', 'other')),
    note       TEXT   NOT NULL DEFAULT '',
    agent      TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE INDEX call_feedback_by_call ON call_feedback (call_id);

-- alive: per instance, the last time its journal wrote. The open call records of an
-- instance whose mark is older than the store's dead-instance timeout are closed as
-- of the mark.
CREATE TABLE alive (
    instance TEXT   NOT NULL PRIMARY KEY,
    at       BIGINT NOT NULL
);

CREATE TABLE api_nonces (
    app   TEXT   NOT NULL,
    nonce TEXT   NOT NULL,
    ts    BIGINT NOT NULL,
    PRIMARY KEY (app, nonce)
);

CREATE INDEX api_nonces_by_ts ON api_nonces (ts);

CREATE TABLE caller_numbers (
    number        TEXT    NOT NULL PRIMARY KEY CHECK (number <> ''),
    tenant        TEXT    NOT NULL CHECK (tenant <> ''),
    kind          TEXT    NOT NULL CHECK (kind IN ('fixed', 'certified', 'mobile')),
    pool          TEXT    NOT NULL DEFAULT '',
    supplier      TEXT    NOT NULL DEFAULT '',
    trunks        TEXT    NOT NULL DEFAULT '',
    cities        TEXT    NOT NULL DEFAULT '',
    provinces     TEXT    NOT NULL DEFAULT '',
    per_day       INTEGER NOT NULL DEFAULT 0,
    per_hour      INTEGER NOT NULL DEFAULT 0,
    last_used_at  BIGINT,
    resting_until BIGINT,
    rest_reason   TEXT    NOT NULL DEFAULT '',
    synced_at     BIGINT  NOT NULL
);

CREATE INDEX caller_numbers_lru ON caller_numbers (tenant, kind, last_used_at);

-- caller_leases: the lock on a number while a call uses it, held by an instance until
-- lease_until. A lease past lease_until holds nothing: a dead instance's locks come
-- back when they expire, and no other instance has to guess that it died.
CREATE TABLE caller_leases (
    number      TEXT    NOT NULL PRIMARY KEY,
    lease_id    BIGINT  NOT NULL UNIQUE,
    tenant      TEXT    NOT NULL DEFAULT '',
    call_id     TEXT    NOT NULL DEFAULT '',
    callee      TEXT    NOT NULL DEFAULT '',
    instance    TEXT    NOT NULL DEFAULT '',
    day         INTEGER NOT NULL,
    acquired_at BIGINT  NOT NULL,
    lease_until BIGINT  NOT NULL
);

CREATE INDEX caller_leases_by_until ON caller_leases (lease_until);
CREATE INDEX caller_leases_by_instance ON caller_leases (instance);

CREATE TABLE caller_day_counts (
    number TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (number, day)
);

CREATE INDEX caller_day_counts_by_day ON caller_day_counts (day);

CREATE TABLE callee_day_counts (
    tenant TEXT    NOT NULL,
    callee TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (tenant, callee, day)
);

CREATE INDEX callee_day_counts_by_day ON callee_day_counts (day);

CREATE TABLE pair_day_counts (
    callee TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    caller TEXT    NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (callee, day, caller)
);

CREATE INDEX pair_day_counts_by_day ON pair_day_counts (day);

CREATE TABLE caller_attempts (
    number   TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    lease_id BIGINT NOT NULL,
    PRIMARY KEY (number, at, lease_id)
);

CREATE INDEX caller_attempts_by_at ON caller_attempts (at);

CREATE TABLE caller_health (
    number   TEXT    NOT NULL,
    hour     BIGINT  NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    answers  INTEGER NOT NULL CHECK (answers >= 0),
    PRIMARY KEY (number, hour)
);

CREATE INDEX caller_health_by_hour ON caller_health (hour);

CREATE TABLE callee_escalation (
    tenant  TEXT   NOT NULL,
    callee  TEXT   NOT NULL,
    kind    TEXT   NOT NULL CHECK (kind IN ('fixed', 'certified', 'mobile')),
    outcome TEXT   NOT NULL CHECK (outcome IN ('answered', 'unanswered')),
    at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, callee)
);

CREATE INDEX callee_escalation_by_at ON callee_escalation (at);

CREATE TABLE do_not_call (
    tenant   TEXT   NOT NULL DEFAULT '',
    number   TEXT   NOT NULL CHECK (number <> ''),
    added_at BIGINT NOT NULL,
    source   TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, number)
);

CREATE TABLE callback_relations (
    number       TEXT   NOT NULL CHECK (number <> ''),
    customer     TEXT   NOT NULL CHECK (customer <> ''),
    tenant       TEXT   NOT NULL CHECK (tenant <> ''),
    agent        TEXT   NOT NULL CHECK (agent <> ''),
    call_id      TEXT   NOT NULL DEFAULT '',
    last_call_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (number, customer)
);

CREATE INDEX callback_relations_by_expiry ON callback_relations (expires_at);

CREATE TABLE agent_tokens (
    id         TEXT   PRIMARY KEY,
    hash       BYTEA  NOT NULL,
    tenant     TEXT   NOT NULL,
    agent      TEXT   NOT NULL,
    app        TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX agent_tokens_by_agent ON agent_tokens (tenant, agent);
CREATE INDEX agent_tokens_by_expiry ON agent_tokens (expires_at);
