-- The login request's `User-Agent`, kept short (printable ASCII, at most 100 characters), so
-- that a user can tell their sessions apart (`GET /sessions`); NULL if the client sent none.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
