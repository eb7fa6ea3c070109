-- The curation loop: what each round did, every quality verdict and where it came from,
-- and the items a --review session holds for a person to approve or reject.
CREATE TABLE rounds (
    round       INTEGER PRIMARY KEY,
    action      TEXT NOT NULL,            -- repair | expand | select | finish
    rationale   TEXT NOT NULL,
    planner     TEXT NOT NULL,            -- policy | llm
    metrics     TEXT NOT NULL DEFAULT '{}',
    gap         TEXT NOT NULL DEFAULT '{}',
    outcome     TEXT NOT NULL DEFAULT '{}',
    spend       TEXT NOT NULL DEFAULT '{}',
    started_at  TEXT NOT NULL,
    finished_at TEXT
);

-- One row per verdict; a sample's current quality is its latest row. `source` says who gave
-- it: the LLM judge, or the classifier trained on the judge's verdicts (--judge-sample).
CREATE TABLE judgements (
    id         INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,
    round      INTEGER,
    sample_id  TEXT NOT NULL,
    source     TEXT NOT NULL,             -- llm | classifier
    overall    REAL,
    scores     TEXT NOT NULL DEFAULT '{}',
    issues     TEXT NOT NULL DEFAULT '[]',
    rationale  TEXT,
    confidence REAL,
    error      TEXT,
    call_ids   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX judgements_sample ON judgements(sample_id, id);

CREATE TABLE review_items (
    id          INTEGER PRIMARY KEY,
    round       INTEGER,
    kind        TEXT NOT NULL,            -- repair | expand | export
    sample_id   TEXT,                     -- the proposed sample (a rewrite or a synthesis)
    parent_id   TEXT,                     -- what it would replace or grow from
    summary     TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | rejected
    created_at  TEXT NOT NULL,
    decided_at  TEXT,
    decided_by  TEXT,
    note        TEXT
);
CREATE INDEX review_items_status ON review_items(status, round);
CREATE INDEX samples_round ON samples(round);
CREATE INDEX llm_calls_round ON llm_calls(round, agent);
