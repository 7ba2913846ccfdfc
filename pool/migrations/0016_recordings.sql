-- 0016: call recordings (media/record.go): one stereo WAV file per recorded call.
--
-- The conventions of 0001 hold: times are INTEGER unix milliseconds (UTC), text that
-- may be empty is NOT NULL DEFAULT ''. A recording starts before its call record is
-- written (records go through the journal), so call_id does not reference calls;
-- the tenant is kept here for the API's tenant check.

CREATE TABLE call_recordings (
    call_id    TEXT    PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    path       TEXT    NOT NULL,                  -- the WAV file, as callgate opened it
    state      TEXT    NOT NULL,                  -- recording, done, failed
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,                           -- NULL while recording
    bytes      INTEGER NOT NULL DEFAULT 0,        -- size of the file, header included
    dropped    INTEGER NOT NULL DEFAULT 0,        -- packets the writer could not keep up with
    error      TEXT    NOT NULL DEFAULT ''        -- why a failed recording stopped
);

-- A tenant's recent recordings.
CREATE INDEX call_recordings_by_tenant ON call_recordings (tenant, started_at);
