-- Drops the partitions with it.
DROP TABLE audit_events;
