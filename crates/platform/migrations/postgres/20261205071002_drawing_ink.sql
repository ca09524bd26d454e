-- Ink: summed segment length × width of a stroke, in square canvas pixels (what rendering it
-- costs). Each log entry carries its ink and the trigger sums it per drawing; the append refuses
-- a stroke that would take its drawing past the limit, so rendering a drawing is bounded.
ALTER TABLE drawings ADD COLUMN ink BIGINT NOT NULL DEFAULT 0;
ALTER TABLE drawing_log ADD COLUMN ink BIGINT NOT NULL DEFAULT 0;
CREATE OR REPLACE FUNCTION drawing_log_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE drawings
       SET next_seq = NEW.seq + 1,
           stroke_count = stroke_count + (CASE WHEN NEW.kind = 'stroke' THEN 1 ELSE 0 END),
           ink = ink + NEW.ink,
           updated_at = NEW.created_at
     WHERE id = NEW.drawing_id;
    IF NEW.target_seq IS NOT NULL THEN
        UPDATE drawing_log SET undone = 1 WHERE drawing_id = NEW.drawing_id AND seq = NEW.target_seq;
    END IF;
    RETURN NULL;
END
$$;
