-- Trace review at scale (the viewer and `assay trace` on sessions of 100k samples): every
-- filter and per-round count it offers reads an index instead of the whole samples table.

-- Keyset paging within one status, and the op counts of each round.
CREATE INDEX samples_status_page ON samples(status);
CREATE INDEX samples_round_op ON samples(round, op);
-- Filters on a sample's cluster and its judge score; queries must use these exact expressions.
CREATE INDEX samples_cluster ON samples(json_extract(tags, '$.cluster[0]'));
CREATE INDEX samples_quality ON samples(json_extract(scores, '$.judge_overall'));

-- Lineage: which samples derive from which, so descendants are an index look-up rather
-- than a scan of every sample's parent list. Kept current by a trigger: samples are
-- inserted once and never change their parents.
CREATE TABLE sample_parents (
    parent_id TEXT NOT NULL,
    child_id  TEXT NOT NULL
);
CREATE INDEX sample_parents_parent ON sample_parents(parent_id);
INSERT INTO sample_parents (parent_id, child_id)
    SELECT p.value, s.id FROM samples s, json_each(s.parent_ids) p;
CREATE TRIGGER samples_lineage AFTER INSERT ON samples BEGIN
    INSERT INTO sample_parents (parent_id, child_id) SELECT value, NEW.id FROM json_each(NEW.parent_ids);
END;

-- The timeline: decisions and LLM spend per round and agent (covering, so the large
-- request/response texts are never read for a count).
CREATE INDEX decisions_round ON decisions(round, agent, action);
CREATE INDEX llm_calls_spend ON llm_calls(agent, model, round, outcome, prompt_tokens, completion_tokens, cost_usd, latency_ms);
