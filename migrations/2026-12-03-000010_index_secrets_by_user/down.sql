DROP INDEX one_time_secrets_user_idx;
