-- Auto-annotation proposals (issue #13 §2): boxes a trained detector proposed on a media's
-- frames, waiting for the user to accept (they become shapes of the annotation journal) or
-- reject them. A new auto-annotation of a frame replaces that frame's pending proposals.
CREATE TABLE studio_proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    media_id BIGINT NOT NULL REFERENCES studio_media(id),
    frame BIGINT NOT NULL,
    label_id BIGINT NOT NULL,
    detector_id BIGINT NOT NULL,
    job_id TEXT NOT NULL,
    score REAL NOT NULL,
    x1 REAL NOT NULL,
    y1 REAL NOT NULL,
    x2 REAL NOT NULL,
    y2 REAL NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX studio_proposals_frame ON studio_proposals(media_id, frame, status);

-- One queued or running `auto_annotate` job per media (made atomic by the database, as for
-- trainings: two concurrent requests cannot both insert one).
CREATE UNIQUE INDEX jobs_one_auto_annotate_per_media ON jobs (json_extract(params, '$.media_id'))
WHERE kind = 'auto_annotate' AND status IN ('queued', 'running');
