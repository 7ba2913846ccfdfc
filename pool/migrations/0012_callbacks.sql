-- 0012: the implicit A-V-B relations agents' outbound calls create, so that a customer
-- who calls back the caller number an agent used reaches that agent.
--
-- The conventions of 0001 hold: times are INTEGER unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''. Numbers are E.164.

-- callback_relations: the customer saw `number` calling (an agent's call from one of
-- the tenant's caller numbers); a call from `customer` to `number` reaches `agent`
-- until expires_at. One row per (number, customer): each new call from an agent to
-- the customer on that number replaces the agent and pushes the expiry out. A caller
-- number belongs to one tenant, so (number, customer) is never ambiguous.
CREATE TABLE callback_relations (
    number       TEXT    NOT NULL CHECK (number <> ''),
    customer     TEXT    NOT NULL CHECK (customer <> ''),
    tenant       TEXT    NOT NULL CHECK (tenant <> ''),
    agent        TEXT    NOT NULL CHECK (agent <> ''),
    call_id      TEXT    NOT NULL DEFAULT '',                  -- the call that made or refreshed it
    last_call_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (number, customer)
) WITHOUT ROWID;

-- Finding expired relations to delete (a few at each write).
CREATE INDEX callback_relations_by_expiry ON callback_relations (expires_at);
