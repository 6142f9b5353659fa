DROP TABLE pending_revocation_marks;
