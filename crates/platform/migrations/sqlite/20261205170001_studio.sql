-- The detector studio (issue #13): projects with labels and media (videos and images stored as
-- one JPEG per frame), each media's annotation journal (the document and its operation log, so
-- undo/redo and version checks survive restarts), and trained detectors.
-- (Rates and durations are integers: frames per 1000 s, milliseconds.)
CREATE TABLE studio_projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    shared_with_family BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX studio_projects_owner ON studio_projects(owner_id);

CREATE TABLE studio_labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES studio_projects(id),
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE studio_media (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES studio_projects(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    job_id TEXT,
    upload_id TEXT NOT NULL,
    frame_count BIGINT NOT NULL DEFAULT 0,
    width BIGINT NOT NULL DEFAULT 0,
    height BIGINT NOT NULL DEFAULT 0,
    fps_milli BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX studio_media_project ON studio_media(project_id);

CREATE TABLE studio_frames (
    media_id BIGINT NOT NULL REFERENCES studio_media(id),
    number BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    PRIMARY KEY (media_id, number)
);

CREATE TABLE studio_annotations (
    media_id BIGINT PRIMARY KEY REFERENCES studio_media(id),
    version BIGINT NOT NULL,
    journal TEXT NOT NULL,
    annotated_frames BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);

CREATE TABLE studio_detectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES studio_projects(id),
    name TEXT NOT NULL,
    job_id TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    metrics TEXT NOT NULL,
    history TEXT NOT NULL,
    head TEXT NOT NULL,
    train_frames BIGINT NOT NULL,
    eval_frames BIGINT NOT NULL,
    training_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX studio_detectors_project ON studio_detectors(project_id);
