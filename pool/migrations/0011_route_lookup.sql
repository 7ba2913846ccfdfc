-- 0011: the inbound lookup by (virtual number, caller), and the liveness mark that
-- lets a restart close the records of calls a killed process left open.

-- AXB: B calls back V. With bindings_by_virtual (virtual, party_a) and bindings_by_y
-- (y, party_b) every arm of the routing query is an index search on both numbers,
-- so a lookup reads the caller's own rows, not every binding on a busy number.
CREATE INDEX bindings_by_virtual_b ON bindings (virtual, party_b) WHERE deleted_at IS NULL;

-- Support's question "every call to this customer" (the business API's callee filter).
CREATE INDEX calls_by_tenant_callee ON calls (tenant, callee, setup_at);

-- Calls not yet ended, for the restart sweep.
CREATE INDEX calls_open ON calls (setup_at) WHERE end_at IS NULL;

-- alive: one row, the last time the running process's journal wrote. A call record
-- still open at start-up belongs to a process that died; it is closed as of this time.
CREATE TABLE alive (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
