-- Drawing rooms (strokes log, participants) and the real-time outbox (SQLite).
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id BIGINT NOT NULL REFERENCES users(id),
    family_id BIGINT REFERENCES families(id),
    invitation_code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    voice_id BIGINT,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    background TEXT NOT NULL,
    next_seq BIGINT NOT NULL DEFAULT 1,
    stroke_count BIGINT NOT NULL DEFAULT 0,
    image_upload_id TEXT,
    animate_job_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    submitted_at BIGINT
);
CREATE INDEX drawings_family ON drawings(family_id, created_at);
CREATE INDEX drawings_host ON drawings(host_id, created_at);

CREATE TABLE drawing_participants (
    drawing_id BIGINT NOT NULL REFERENCES drawings(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (drawing_id, user_id)
);
CREATE INDEX drawing_participants_user ON drawing_participants(user_id);

CREATE TABLE drawing_log (
    drawing_id BIGINT NOT NULL REFERENCES drawings(id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    client_id TEXT NOT NULL,
    target_seq BIGINT,
    body TEXT NOT NULL,
    undone BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (drawing_id, seq),
    UNIQUE (drawing_id, user_id, client_id)
);

CREATE TABLE realtime_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
