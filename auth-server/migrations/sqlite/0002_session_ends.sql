-- Every session that ends is written to `session_ends`, in the transaction that ends it: the
-- log posts-servers follow (`GET /sessions/ended`) to refuse the session's access tokens.
-- Triggers write it, so that no way of ending a session (logout, global logout, reuse
-- detection, an operator command, a deleted user, any later one) can forget to.

-- Unix seconds: the latest `exp` of an access token issued for this session (login, rotation,
-- grace); with `expires_at`, how long posts-servers must remember that it ended.
ALTER TABLE sessions ADD COLUMN access_until INTEGER;
-- Why it ended: `logout`, `global_logout`, `reuse`, `operator`, ...
ALTER TABLE sessions ADD COLUMN end_reason TEXT;

-- `seq` is the feed's cursor: SQLite has one writer at a time, so entries commit in its order.
CREATE TABLE session_ends (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    sid      TEXT NOT NULL,
    until    INTEGER NOT NULL, -- Unix seconds: no access token of the session is valid after it
    ended_at INTEGER NOT NULL, -- Unix milliseconds
    reason   TEXT NOT NULL
);

CREATE INDEX session_ends_by_until ON session_ends (until);

-- This log's identity: a follower that finds another one (a database replaced) starts over.
CREATE TABLE feed_log (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    log_id TEXT NOT NULL
);

INSERT INTO feed_log (id, log_id) VALUES (1, lower(hex(randomblob(16))));

CREATE TRIGGER session_ended AFTER UPDATE OF revoked_at ON sessions
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO session_ends (sid, until, ended_at, reason)
    VALUES (
        NEW.id,
        MIN(NEW.expires_at, COALESCE(NEW.access_until, NEW.expires_at)),
        NEW.revoked_at,
        COALESCE(NEW.end_reason, 'revoked')
    );
END;

CREATE TRIGGER live_session_deleted AFTER DELETE ON sessions
WHEN OLD.revoked_at IS NULL AND OLD.expires_at > unixepoch()
BEGIN
    INSERT INTO session_ends (sid, until, ended_at, reason)
    VALUES (
        OLD.id,
        MIN(OLD.expires_at, COALESCE(OLD.access_until, OLD.expires_at)),
        CAST(unixepoch('subsec') * 1000 AS INTEGER),
        'deleted'
    );
END;
