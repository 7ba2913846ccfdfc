-- 0015: agent login tokens issued by the business API.
--
-- The conventions of 0001 hold: times are INTEGER unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''. A token is never stored: only the SHA-256 of
-- the whole token string ("cgt_<id>_<secret>"), so a copy of the database logs no
-- one in.

CREATE TABLE agent_tokens (
    id         TEXT    PRIMARY KEY,                        -- 16 hex digits, also inside the token
    hash       BLOB    NOT NULL,                           -- SHA-256 of the token (32 bytes)
    tenant     TEXT    NOT NULL,
    agent      TEXT    NOT NULL,
    app        TEXT    NOT NULL DEFAULT '',                -- the API app that issued it
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER                                     -- NULL until revoked
);

-- Revoking every token of one agent.
CREATE INDEX agent_tokens_by_agent ON agent_tokens (tenant, agent);

-- Forgetting tokens long expired.
CREATE INDEX agent_tokens_by_expiry ON agent_tokens (expires_at);
