DROP TABLE one_time_secrets;
ALTER TABLE users DROP COLUMN email_verified;
