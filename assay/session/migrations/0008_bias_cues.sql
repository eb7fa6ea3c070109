-- Bias-cue detection (issue 16, RAZOR-style; assay/session/bias_cues.py). One row per detection
-- run (what outcome the cues were tested against, how, and over how many responses), and one row
-- per candidate cue tested in it, significant or not, so a later reader can re-apply any alpha.
-- A cue's fields are those of core/bias_cue.py's `Cue`: its presence is decided by that code,
-- so detection, repair and the report count the same responses.
CREATE TABLE bias_cue_runs (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    outcome TEXT NOT NULL,            -- 'score' (judge overall) or 'kept' (1 kept / 0 dropped)
    n INTEGER NOT NULL,               -- responses tested
    alpha REAL NOT NULL,
    method TEXT NOT NULL,             -- how p was adjusted for the number of candidates
    permutations INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    source TEXT NOT NULL              -- 'session' or the scored file read
);

CREATE TABLE bias_cue_findings (
    run_id INTEGER NOT NULL REFERENCES bias_cue_runs(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,            -- 1 = smallest adjusted p, then largest |effect|
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    pattern TEXT NOT NULL,
    min_words INTEGER NOT NULL,
    effect REAL NOT NULL,             -- stratum-weighted mean outcome with the cue minus without
    p REAL NOT NULL,
    adjusted_p REAL NOT NULL,
    prevalence REAL NOT NULL,         -- share of the n responses carrying the cue
    carriers INTEGER NOT NULL,
    PRIMARY KEY (run_id, rank)
) WITHOUT ROWID;
