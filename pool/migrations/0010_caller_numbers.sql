-- 0010: caller numbers for agents' outbound calls: the numbers (synced from config),
-- their leases (the per-call locks), the frequency-cap counters, number health, the
-- escalation state per callee, and the do-not-call lists.
--
-- The conventions of 0001 hold: times are INTEGER unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''. Calendar days are INTEGER yyyymmdd in the
-- tenant's time zone (the caller of the store computes them); hours are unix hours
-- (unix milliseconds / 3,600,000). Numbers are E.164.

-- caller_numbers: the fixed, certified and mobile numbers of the config's pools, synced
-- at start (SyncCallerNumbers). The config columns are replaced at each sync; the
-- runtime columns (last_used_at, resting_until, rest_reason) survive it.
CREATE TABLE caller_numbers (
    number        TEXT    NOT NULL PRIMARY KEY CHECK (number <> ''),
    tenant        TEXT    NOT NULL CHECK (tenant <> ''),
    kind          TEXT    NOT NULL CHECK (kind IN ('fixed', 'certified', 'mobile')),
    pool          TEXT    NOT NULL DEFAULT '',
    supplier      TEXT    NOT NULL DEFAULT '',
    trunks        TEXT    NOT NULL DEFAULT '',                 -- comma-separated, in order
    cities        TEXT    NOT NULL DEFAULT '',                 -- '|'-separated
    provinces     TEXT    NOT NULL DEFAULT '',                 -- '|'-separated
    per_day       INTEGER NOT NULL DEFAULT 0,                  -- 0: tenant's cap; < 0: none
    per_hour      INTEGER NOT NULL DEFAULT 0,                  -- 0: tenant's cap; < 0: none
    last_used_at  INTEGER,                                     -- last reservation
    resting_until INTEGER,                                     -- set when its answer rate collapsed
    rest_reason   TEXT    NOT NULL DEFAULT '',
    synced_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- A tenant's numbers of one kind, least recently used first.
CREATE INDEX caller_numbers_lru ON caller_numbers (tenant, kind, last_used_at);

-- caller_leases: the lock on a number while a call uses it. One row per number: a
-- reservation overwrites an expired row. A lease whose lease_until has passed holds
-- nothing, whether or not the sweeper has deleted it yet.
CREATE TABLE caller_leases (
    number      TEXT    NOT NULL PRIMARY KEY,
    lease_id    INTEGER NOT NULL UNIQUE,
    tenant      TEXT    NOT NULL DEFAULT '',
    call_id     TEXT    NOT NULL DEFAULT '',
    callee      TEXT    NOT NULL DEFAULT '',
    instance    TEXT    NOT NULL DEFAULT '',                   -- the callgate process holding it
    day         INTEGER NOT NULL,                              -- the tenant's day it counted on
    acquired_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX caller_leases_by_until ON caller_leases (lease_until);

-- Frequency-cap counters, counted at reservation and given back when a call was never
-- placed. Windows: the tenant's calendar day; the sliding hour counts caller_attempts.
CREATE TABLE caller_day_counts (
    number TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (number, day)
) WITHOUT ROWID;

CREATE INDEX caller_day_counts_by_day ON caller_day_counts (day);

CREATE TABLE callee_day_counts (
    tenant TEXT    NOT NULL,
    callee TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (tenant, callee, day)
) WITHOUT ROWID;

CREATE INDEX callee_day_counts_by_day ON callee_day_counts (day);

-- Calls from one caller number to one callee in a day; read per (callee, day).
CREATE TABLE pair_day_counts (
    callee TEXT    NOT NULL,
    day    INTEGER NOT NULL,
    caller TEXT    NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (callee, day, caller)
) WITHOUT ROWID;

-- The sweeper deletes whole days.
CREATE INDEX pair_day_counts_by_day ON pair_day_counts (day);

-- Each reservation's time, for the sliding-hour cap; swept after an hour.
CREATE TABLE caller_attempts (
    number   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    lease_id INTEGER NOT NULL,
    PRIMARY KEY (number, at, lease_id)
) WITHOUT ROWID;

CREATE INDEX caller_attempts_by_at ON caller_attempts (at);

-- caller_health: calls that reached the callee's network, and answers, per number and
-- unix hour; a number whose answer rate over the tenant's window falls below its floor
-- rests (caller_numbers.resting_until) and starts again from no history.
CREATE TABLE caller_health (
    number   TEXT    NOT NULL,
    hour     INTEGER NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    answers  INTEGER NOT NULL CHECK (answers >= 0),
    PRIMARY KEY (number, hour)
) WITHOUT ROWID;

CREATE INDEX caller_health_by_hour ON caller_health (hour);

-- callee_escalation: how the last placed call to a callee ended and from which kind
-- of number, so the next call escalates to the next kind after an unanswered one.
CREATE TABLE callee_escalation (
    tenant  TEXT    NOT NULL,
    callee  TEXT    NOT NULL,
    kind    TEXT    NOT NULL CHECK (kind IN ('fixed', 'certified', 'mobile')),
    outcome TEXT    NOT NULL CHECK (outcome IN ('answered', 'unanswered')),
    at      INTEGER NOT NULL,
    PRIMARY KEY (tenant, callee)
) WITHOUT ROWID;

CREATE INDEX callee_escalation_by_at ON callee_escalation (at);

-- do_not_call: numbers nobody may call: tenant '' is the global list, others a
-- tenant's own. Numbers are stored normalised (E.164), so every way of writing one
-- matches the same row.
CREATE TABLE do_not_call (
    tenant   TEXT    NOT NULL DEFAULT '',
    number   TEXT    NOT NULL CHECK (number <> ''),
    added_at INTEGER NOT NULL,
    source   TEXT    NOT NULL DEFAULT '',                      -- api, csv:<file>, complaint, …
    PRIMARY KEY (tenant, number)
) WITHOUT ROWID;
