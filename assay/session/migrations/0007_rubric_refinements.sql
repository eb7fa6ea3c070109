-- `assay rubric refine`: each refinement run, every rubric proposal it scored, the judge's
-- decisions it used (held-out, training and pending review items), and what each decided item
-- tells about the winning rubric (its guideline effectiveness).
CREATE TABLE rubric_refinements (
    id              INTEGER PRIMARY KEY,
    ts              TEXT NOT NULL,
    model           TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    holdout         REAL NOT NULL,             -- the share of decided items held out
    n_train         INTEGER NOT NULL,
    n_holdout       INTEGER NOT NULL,
    keep_threshold  REAL NOT NULL,             -- the overall score an expand item needs
    base_rubric     TEXT NOT NULL,             -- JSON [{name, description}]
    base_agreement  REAL NOT NULL,             -- held-out agreement of the base rubric
    winner          INTEGER,                   -- the proposal pending items were ranked by (kept, else best)
    fragment        TEXT                       -- the recipe fragment written, if a proposal was kept
);

CREATE TABLE rubric_proposals (
    id                INTEGER PRIMARY KEY,
    refinement_id     INTEGER NOT NULL REFERENCES rubric_refinements(id),
    n                 INTEGER NOT NULL,        -- 1, 2, … within the run
    rubric            TEXT,                    -- JSON [{name, description}]; NULL when the editor failed
    rationale         TEXT,
    agreement_before  REAL NOT NULL,           -- held-out agreement of the best rubric so far
    agreement_after   REAL,                    -- held-out agreement under this proposal
    n_train           INTEGER NOT NULL,
    n_holdout         INTEGER NOT NULL,
    kept              INTEGER NOT NULL,        -- 1 when agreement rose strictly
    error             TEXT,
    call_ids          TEXT NOT NULL DEFAULT '[]'  -- the editor's and the re-judging calls
);
CREATE INDEX rubric_proposals_run ON rubric_proposals(refinement_id, n);

-- The judge's decision on an item under one rubric: `rubric` is 'base' or the proposal's id.
CREATE TABLE rubric_verdicts (
    refinement_id  INTEGER NOT NULL REFERENCES rubric_refinements(id),
    item_id        INTEGER NOT NULL,           -- review_items.id
    rubric         TEXT NOT NULL,
    split          TEXT NOT NULL,              -- train | holdout | pending
    decision       TEXT,                       -- approve | reject; NULL when the judge failed
    overall        REAL,
    tie            INTEGER NOT NULL DEFAULT 0,
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX rubric_verdicts_run ON rubric_verdicts(refinement_id, item_id);

-- A decided item's guideline effectiveness: +1 the winning rubric fixes the judge's decision
-- on it, -1 it breaks a right one, 0 unchanged.
CREATE TABLE rubric_effects (
    refinement_id  INTEGER NOT NULL REFERENCES rubric_refinements(id),
    item_id        INTEGER NOT NULL,
    human          TEXT NOT NULL,
    base           TEXT,
    winner         TEXT,
    effect         INTEGER NOT NULL
);
