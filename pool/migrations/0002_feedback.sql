-- 0002: feedback agents attach to call records, and listing one agent's calls.
--
-- The conventions of 0001 hold: times are INTEGER unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''.

-- call_feedback: what an agent reported about a call (no ring, noise, one-way audio,
-- …); a call may have any number of reports. They go with the call record.
CREATE TABLE call_feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id    TEXT    NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL
               CHECK (kind IN ('no_ring', 'noise', 'one_way_audio', 'wrong_number', 'other')),
    note       TEXT    NOT NULL DEFAULT '',
    agent      TEXT    NOT NULL DEFAULT '',                 -- who reported it
    created_at INTEGER NOT NULL
);

-- A call's feedback, read with the call record (and found by the cascade).
CREATE INDEX call_feedback_by_call ON call_feedback (call_id);

-- Listing one agent's calls newest first (agent names are unique within a tenant).
CREATE INDEX calls_by_tenant_agent_setup ON calls (tenant, agent, setup_at);
