-- A detector fine-tuned from another one records which (issue #13 §3); NULL for a fresh one.
ALTER TABLE studio_detectors ADD COLUMN base_detector_id BIGINT;
