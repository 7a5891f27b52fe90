-- Every session that ends is written to `session_ends`, in the transaction that ends it: the
-- log posts-servers follow (`GET /sessions/ended`) to refuse the session's access tokens.
-- Triggers write it, so that no way of ending a session (logout, global logout, reuse
-- detection, an operator command, a deleted user, any later one) can forget to.

-- Unix seconds: the latest `exp` of an access token issued for this session (login, rotation,
-- grace); with `expires_at`, how long posts-servers must remember that it ended.
ALTER TABLE sessions ADD COLUMN access_until BIGINT;
-- Why it ended: `logout`, `global_logout`, `reuse`, `operator`, ...
ALTER TABLE sessions ADD COLUMN end_reason TEXT;

-- `seq` is the feed's cursor. A reader must never see entry n+1 committed while n is not yet:
-- it would move past n for good. So the log has one writer at a time (the advisory lock below,
-- taken before `seq` is drawn and held to the commit): entries commit in `seq` order.
CREATE TABLE session_ends (
    seq      BIGSERIAL PRIMARY KEY,
    sid      TEXT NOT NULL,
    until    BIGINT NOT NULL, -- Unix seconds: no access token of the session is valid after it
    ended_at BIGINT NOT NULL, -- Unix milliseconds
    reason   TEXT NOT NULL
);

CREATE INDEX session_ends_by_until ON session_ends (until);

-- This log's identity: a follower that finds another one (a database replaced) starts over.
CREATE TABLE feed_log (
    id     INT PRIMARY KEY CHECK (id = 1),
    log_id TEXT NOT NULL
);

INSERT INTO feed_log (id, log_id) VALUES (1, md5(random()::text || clock_timestamp()::text));

-- The store takes the same lock first, before any row lock, in every transaction that ends
-- sessions (so that two of them never wait on each other); here it is a no-op then, and a
-- safety net otherwise. NOTIFY is delivered at commit, once per transaction, to every
-- auth-server instance listening.
CREATE FUNCTION record_session_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7243016539);
    IF TG_OP = 'DELETE' THEN
        INSERT INTO session_ends (sid, until, ended_at, reason)
        VALUES (
            OLD.id,
            LEAST(OLD.expires_at, COALESCE(OLD.access_until, OLD.expires_at)),
            (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT,
            'deleted'
        );
    ELSE
        INSERT INTO session_ends (sid, until, ended_at, reason)
        VALUES (
            NEW.id,
            LEAST(NEW.expires_at, COALESCE(NEW.access_until, NEW.expires_at)),
            NEW.revoked_at,
            COALESCE(NEW.end_reason, 'revoked')
        );
    END IF;
    PERFORM pg_notify('session_ends', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER session_ended AFTER UPDATE OF revoked_at ON sessions
FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION record_session_end();

CREATE TRIGGER live_session_deleted AFTER DELETE ON sessions
FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND OLD.expires_at > FLOOR(EXTRACT(EPOCH FROM clock_timestamp())))
EXECUTE FUNCTION record_session_end();
