DROP TABLE signing_keys;
DROP SEQUENCE signing_key_changes;
