-- How each session's login was authenticated (the `amr` claim, by name):
-- a refresh writes them into every access token the session gets, so a
-- login that passed the second factor stays `aal2` until it ends, and one
-- that did not cannot become it. Sessions from before are password logins.
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'pwd'
    CHECK (auth_methods IN ('pwd', 'pwd+otp', 'pwd+rc'));
