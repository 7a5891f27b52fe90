-- Posts, each owned by the user (token `sub`) who wrote it.
CREATE TABLE posts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL -- Unix milliseconds
);

-- Serves "the caller's posts, newest first" without a sort.
CREATE INDEX posts_user_newest ON posts (user_id, created_at DESC, id DESC);
