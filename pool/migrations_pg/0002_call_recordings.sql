-- 0002: call recordings (media/record.go), as the SQLite migration 0016 keeps them:
-- one stereo WAV file per recorded call.
--
-- The conventions of 0001 hold: times are BIGINT unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''. A recording starts before its call record is
-- written (records go through the journal), so call_id does not reference calls;
-- the tenant is kept here for the API's tenant check. As in calls, "instance" names
-- the callgate instance recording, so that a restarted instance closes its own
-- interrupted recordings and no one else's (unless that one stopped marking itself
-- alive).

CREATE TABLE call_recordings (
    call_id    TEXT   PRIMARY KEY CHECK (call_id <> ''),
    tenant     TEXT   NOT NULL,
    path       TEXT   NOT NULL,                  -- the WAV file, as callgate opened it
    state      TEXT   NOT NULL CHECK (state IN ('recording', 'done', 'failed')),
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,                           -- NULL while recording
    bytes      BIGINT NOT NULL DEFAULT 0,        -- size of the file, header included
    dropped    BIGINT NOT NULL DEFAULT 0,        -- packets the writer could not keep up with
    error      TEXT   NOT NULL DEFAULT '',       -- why a failed recording stopped
    instance   TEXT   NOT NULL DEFAULT ''        -- the instance recording the call
);

-- A tenant's recent recordings.
CREATE INDEX call_recordings_by_tenant ON call_recordings (tenant, started_at);
-- Recent recordings of every tenant.
CREATE INDEX call_recordings_by_start ON call_recordings (started_at);
-- Recordings not finished, for the restart sweep.
CREATE INDEX call_recordings_open ON call_recordings (instance) WHERE state = 'recording';
