-- Posts, each owned by the user (token `sub`) who wrote it.
--
-- `title` and `body` are the client's text as UTF-8 bytes: a post may contain U+0000 (JSON
-- allows it, and the SQLite backend keeps it), which a PostgreSQL `text` value cannot hold.
CREATE TABLE posts (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    TEXT        NOT NULL,
    username   TEXT        NOT NULL,
    title      BYTEA       NOT NULL,
    body       BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL -- stamped by the server, to the millisecond
);

-- Serves "the caller's posts, newest first" without a sort.
CREATE INDEX posts_user_newest ON posts (user_id, created_at DESC, id DESC);
