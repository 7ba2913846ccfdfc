-- 0003: virtual-number pools, API-created bindings (allocation, idempotency, GC) and
-- the nonces of signed business-API requests.
--
-- The conventions of 0001 hold: times are INTEGER unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''.

-- virtual_numbers: the numbers of the config's pools of type "virtual", synced at start
-- (SyncVirtualNumbers). A number that leaves the config is retired, not deleted: its
-- bindings keep routing until they end, and it is never allocated again unless it
-- comes back.
CREATE TABLE virtual_numbers (
    number    TEXT    NOT NULL PRIMARY KEY CHECK (number <> ''),
    pool      TEXT    NOT NULL CHECK (pool <> ''),
    tenant    TEXT    NOT NULL DEFAULT '',                 -- '' = a pool shared by all tenants
    supplier  TEXT    NOT NULL DEFAULT '',
    region    TEXT    NOT NULL DEFAULT '',
    trunk     TEXT    NOT NULL DEFAULT '',                 -- carries B-legs showing this number
    state     TEXT    NOT NULL DEFAULT 'available'
              CHECK (state IN ('available', 'blocked', 'retired')),
    -- bound counts the live (not deleted) bindings using the number as X or as Y; the
    -- store keeps it in step in the transactions that bind and unbind, and
    -- SyncVirtualNumbers recomputes it.
    bound     INTEGER NOT NULL DEFAULT 0 CHECK (bound >= 0),
    synced_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Allocation: the least-bound available numbers of one pool first.
CREATE INDEX virtual_numbers_by_load ON virtual_numbers (pool, state, bound, number);

-- binding_parties: who holds each virtual number. A row (number, party) exists while
-- a live binding routes calls from party to number (AXB: (X, A) and (X, B); AXYB:
-- (X, A) and (Y, B); AXN: (X, '*'), the whole number) and, after the binding ends,
-- until its cool-down is over (cooling_until). The primary key is the invariant "at
-- most one active binding per (virtual number, party)".
CREATE TABLE binding_parties (
    number        TEXT    NOT NULL,
    party         TEXT    NOT NULL,                        -- E.164, or '*' for AXN
    binding_id    INTEGER NOT NULL REFERENCES bindings (id),
    cooling_until INTEGER,                                 -- NULL: held by a live binding
    PRIMARY KEY (number, party)
) WITHOUT ROWID;

CREATE INDEX binding_parties_by_binding ON binding_parties (binding_id);
CREATE INDEX binding_parties_by_cooling ON binding_parties (cooling_until) WHERE cooling_until IS NOT NULL;

-- bindings: what the business API records about a binding besides its routing.
ALTER TABLE bindings ADD COLUMN y_trunk    TEXT NOT NULL DEFAULT '';  -- carries B-legs showing Y
ALTER TABLE bindings ADD COLUMN city       TEXT NOT NULL DEFAULT '';  -- pool policy inputs
ALTER TABLE bindings ADD COLUMN channel    TEXT NOT NULL DEFAULT '';
ALTER TABLE bindings ADD COLUMN pool       TEXT NOT NULL DEFAULT '';  -- pool X came from
ALTER TABLE bindings ADD COLUMN idem_key   TEXT NOT NULL DEFAULT '';  -- idempotency key of the create
ALTER TABLE bindings ADD COLUMN idem_hash  TEXT NOT NULL DEFAULT '';  -- hash of the create request
ALTER TABLE bindings ADD COLUMN updated_at INTEGER;
ALTER TABLE bindings ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';  -- unbound | expired | idle | config

-- One create per (tenant, idempotency key).
CREATE UNIQUE INDEX bindings_idempotency ON bindings (tenant, idem_key) WHERE idem_key <> '';
-- Get-or-bind: a tenant's live binding of a party pair.
CREATE INDEX bindings_by_pair ON bindings (tenant, party_a, party_b) WHERE deleted_at IS NULL;
-- Listing a tenant's live bindings in ID order, page by page (the rowid is the key's
-- tail, so "id > cursor" seeks).
CREATE INDEX bindings_by_tenant ON bindings (tenant) WHERE deleted_at IS NULL;
-- Listing a tenant's bindings of party B (party A uses bindings_by_pair).
CREATE INDEX bindings_by_tenant_b ON bindings (tenant, party_b) WHERE deleted_at IS NULL;
-- GC: live API bindings without expiry, by when they were last used.
CREATE INDEX bindings_idle ON bindings (coalesce(last_call_at, created_at))
    WHERE deleted_at IS NULL AND static = 0 AND expiry_type = 'never';

-- The live bindings of an existing database hold their numbers.
INSERT OR IGNORE INTO binding_parties (number, party, binding_id)
    SELECT virtual, '*', id FROM bindings WHERE deleted_at IS NULL AND mode = 'AXN';
INSERT OR IGNORE INTO binding_parties (number, party, binding_id)
    SELECT virtual, party_a, id FROM bindings WHERE deleted_at IS NULL AND mode IN ('AXB', 'AXYB');
INSERT OR IGNORE INTO binding_parties (number, party, binding_id)
    SELECT virtual, party_b, id FROM bindings WHERE deleted_at IS NULL AND mode = 'AXB';
INSERT OR IGNORE INTO binding_parties (number, party, binding_id)
    SELECT y, party_b, id FROM bindings WHERE deleted_at IS NULL AND mode = 'AXYB';

-- api_nonces: the nonces of accepted signed API requests, with the request's
-- timestamp, kept while a request with that timestamp could still be accepted.
CREATE TABLE api_nonces (
    app   TEXT    NOT NULL,
    nonce TEXT    NOT NULL,
    ts    INTEGER NOT NULL,
    PRIMARY KEY (app, nonce)
) WITHOUT ROWID;

CREATE INDEX api_nonces_by_ts ON api_nonces (ts);
