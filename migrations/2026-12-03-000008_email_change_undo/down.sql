DROP TABLE email_change_undos;
ALTER TABLE one_time_secrets DROP COLUMN session_id;
