-- The session database: samples, the trace (events, decisions, LLM calls) and the LLM cache.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Immutable content of every sample ever seen; status, reason and scores change over a session.
CREATE TABLE samples (
    id         TEXT PRIMARY KEY,
    messages   TEXT NOT NULL,
    source     TEXT NOT NULL,
    op         TEXT NOT NULL,
    parent_ids TEXT NOT NULL,
    format     TEXT,
    record     TEXT,
    status     TEXT NOT NULL DEFAULT 'active',
    reason     TEXT,
    scores     TEXT NOT NULL DEFAULT '{}',
    tags       TEXT NOT NULL DEFAULT '{}',
    round      INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX samples_status ON samples(status, reason);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    ts      TEXT NOT NULL,
    round   INTEGER,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE decisions (
    id        INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    round     INTEGER,
    sample_id TEXT,
    agent     TEXT NOT NULL,
    action    TEXT NOT NULL,
    reason    TEXT,
    scores    TEXT NOT NULL DEFAULT '{}',
    call_ids  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX decisions_sample ON decisions(sample_id);
CREATE INDEX decisions_agent ON decisions(agent, action);

CREATE TABLE llm_calls (
    id                INTEGER PRIMARY KEY,
    ts                TEXT NOT NULL,
    round             INTEGER,
    agent             TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_version    TEXT NOT NULL,
    request           TEXT NOT NULL,
    response          TEXT,
    outcome           TEXT NOT NULL,   -- ok | invalid | error | cached
    error             TEXT,
    attempt           INTEGER NOT NULL,
    latency_ms        REAL NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0,
    cache_key         TEXT
);
CREATE INDEX llm_calls_agent ON llm_calls(agent);

CREATE TABLE llm_call_samples (
    call_id   INTEGER NOT NULL REFERENCES llm_calls(id),
    sample_id TEXT NOT NULL
);
CREATE INDEX llm_call_samples_sample ON llm_call_samples(sample_id);

CREATE TABLE llm_cache (
    key               TEXT PRIMARY KEY,
    model             TEXT NOT NULL,
    response          TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL NOT NULL,
    created_at        TEXT NOT NULL
);
