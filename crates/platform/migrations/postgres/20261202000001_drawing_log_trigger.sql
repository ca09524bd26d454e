-- The drawing log keeps its drawing's counters itself: appending an entry is one statement
-- (INSERT … SELECT next_seq … FOR UPDATE … RETURNING), and this trigger moves next_seq past it,
-- counts strokes and marks an undo's target, inside that statement's transaction.
CREATE FUNCTION drawing_log_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE drawings
       SET next_seq = NEW.seq + 1,
           stroke_count = stroke_count + (CASE WHEN NEW.kind = 'stroke' THEN 1 ELSE 0 END),
           updated_at = NEW.created_at
     WHERE id = NEW.drawing_id;
    IF NEW.target_seq IS NOT NULL THEN
        UPDATE drawing_log SET undone = 1 WHERE drawing_id = NEW.drawing_id AND seq = NEW.target_seq;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER drawing_log_appended AFTER INSERT ON drawing_log
    FOR EACH ROW EXECUTE FUNCTION drawing_log_appended();
