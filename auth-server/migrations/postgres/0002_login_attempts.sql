-- The per-username login limit, shared by every instance on this database: one GCRA bucket
-- per username key. `tat` (theoretical arrival time) is when the bucket is full again; a row
-- whose `tat` has passed counts as no row and is purged in the background.
CREATE TABLE login_attempts (
    username_key TEXT PRIMARY KEY,
    tat          TIMESTAMPTZ NOT NULL
);
