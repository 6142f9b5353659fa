ALTER TABLE users DROP COLUMN session_epoch;
DROP TABLE sessions;
