-- Reference-counted blobs. Uploads share a blob by content hash; `refs` counts the upload rows
-- (and uploads in flight) that point to it and changes in the same transaction as those rows.
-- A blob whose count reaches zero is marked `deleting_since` (Unix ms, database clock) by the
-- transaction that took the last reference; an upload of the same bytes waits until the
-- deleter has removed the object and the row, so it never counts on an object being deleted.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    refs BIGINT NOT NULL,
    deleting_since BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX blobs_updated ON blobs(updated_at);

INSERT INTO blobs (sha256, refs, updated_at)
SELECT sha256, COUNT(*), MAX(created_at) FROM uploads GROUP BY sha256;
