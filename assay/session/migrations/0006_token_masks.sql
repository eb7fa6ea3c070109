-- Token-level loss masks (token cleaning, `assay tokens`): one row per sample, replaced when the
-- sample is scored again. `tokens` is JSON [[turn, start, end, score, masked], ...]: turn indexes
-- the sample's messages, start/end are character offsets into that message's content, masked is
-- 0/1. `total` and `masked` count the tokens so the report can sum them without parsing JSON.
CREATE TABLE token_masks (
    sample_id TEXT PRIMARY KEY,
    scorer TEXT NOT NULL,
    tokenizer TEXT NOT NULL,
    tokens TEXT NOT NULL,
    total INTEGER NOT NULL,
    masked INTEGER NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
