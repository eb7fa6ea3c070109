-- Text search at scale (`assay trace --grep`, the viewer's `q=`): FTS5 indexes over the
-- searched text, so a search reads the index instead of every row (1.1 s on 100k samples).
--
-- The trigram tokenizer indexes every three-character run, so a quoted phrase matches any
-- substring of three characters or more, as the LIKE '%text%' it replaces did; queries keep
-- that LIKE as a check on the index's candidates (the index folds all Unicode case, LIKE
-- only ASCII) and fall back to it for shorter text. External-content tables: the text is
-- stored once, in its own table; the index holds only the trigrams, keyed by rowid.
-- Sample rowids must therefore stay put (the viewer's paging relies on them too): after a
-- VACUUM, run INSERT INTO samples_text(samples_text) VALUES ('rebuild').

CREATE VIRTUAL TABLE samples_text USING fts5(
    messages, content='samples', content_rowid='rowid', tokenize='trigram'
);
INSERT INTO samples_text (samples_text) VALUES ('rebuild');  -- backfill the samples already stored

-- Kept in step by triggers. A sample's messages never change in practice (status, reason,
-- scores and tags do, and `UPDATE OF messages` lets those updates skip the index), but an
-- update of them is followed all the same. An external-content delete must name the old text.
CREATE TRIGGER samples_text_insert AFTER INSERT ON samples BEGIN
    INSERT INTO samples_text (rowid, messages) VALUES (NEW.rowid, NEW.messages);
END;
CREATE TRIGGER samples_text_delete AFTER DELETE ON samples BEGIN
    INSERT INTO samples_text (samples_text, rowid, messages) VALUES ('delete', OLD.rowid, OLD.messages);
END;
CREATE TRIGGER samples_text_update AFTER UPDATE OF messages ON samples BEGIN
    INSERT INTO samples_text (samples_text, rowid, messages) VALUES ('delete', OLD.rowid, OLD.messages);
    INSERT INTO samples_text (rowid, messages) VALUES (NEW.rowid, NEW.messages);
END;

-- Decisions are searched by reason and action (their id is their rowid, stable for good).
CREATE VIRTUAL TABLE decisions_text USING fts5(
    reason, action, content='decisions', content_rowid='id', tokenize='trigram'
);
INSERT INTO decisions_text (decisions_text) VALUES ('rebuild');

CREATE TRIGGER decisions_text_insert AFTER INSERT ON decisions BEGIN
    INSERT INTO decisions_text (rowid, reason, action) VALUES (NEW.id, NEW.reason, NEW.action);
END;
CREATE TRIGGER decisions_text_delete AFTER DELETE ON decisions BEGIN
    INSERT INTO decisions_text (decisions_text, rowid, reason, action) VALUES ('delete', OLD.id, OLD.reason, OLD.action);
END;
CREATE TRIGGER decisions_text_update AFTER UPDATE OF id, reason, action ON decisions BEGIN
    INSERT INTO decisions_text (decisions_text, rowid, reason, action) VALUES ('delete', OLD.id, OLD.reason, OLD.action);
    INSERT INTO decisions_text (rowid, reason, action) VALUES (NEW.id, NEW.reason, NEW.action);
END;
