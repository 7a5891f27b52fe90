-- Users: the username is kept as given; `username_key` (ASCII-lowercased) makes it unique regardless of case.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL -- Unix milliseconds
);

-- A session is one login: a family of refresh tokens of which only `current_jti` may be spent.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_jti  TEXT NOT NULL,
    previous_jti TEXT,
    rotated_at   BIGINT,          -- Unix milliseconds of the last rotation
    created_at   BIGINT NOT NULL, -- Unix milliseconds
    expires_at   BIGINT NOT NULL, -- Unix seconds: REFRESH_TOKEN_TTL after login
    revoked_at   BIGINT           -- Unix milliseconds; set by logout or reuse detection
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
