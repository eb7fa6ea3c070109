-- Where each sample's vector lives: the session keeps vectors in Arrow IPC parts under
-- DIR/vectors/ (session/vectors.py), one part per `Store.add`, and this table maps a sample id
-- to its part and row. It is written in the same transaction as the sample, so a rolled back
-- add leaves at most an unreferenced part file and never a vector SQLite does not know. A
-- later add of the same id (after such a rollback, or a re-embed) replaces the row: the
-- newest part wins.
CREATE TABLE vector_rows (
    id TEXT PRIMARY KEY,
    part INTEGER NOT NULL,
    row INTEGER NOT NULL
) WITHOUT ROWID;
