"""A session directory: its DB (samples, trace, cache), its Chroma store, its gateway.

Layout of DIR: `session.db` (SQLite), `vectors/` (the embeddings, Arrow parts: session/vectors.py),
`chroma/` (the embedded vector index, fed from those: session/store.py), and the files a
session writes (`ingest_rejects.jsonl`, exports). Clock, ids and environment are injected
through `Runtime`, never read from globals.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from assay import __version__
from assay.core.config import AgentRole, Config, StoreSettings
from assay.session.db import connect
from assay.core.errors import AssayError
from assay.session.runtime import Runtime  # re-exported: callers take it from here
from assay.session.samples import SampleTable
from assay.trace.log import Redactor, Trace

DB_NAME = "session.db"


def is_session(directory: Path) -> bool:
    """Whether a folder holds an assay session."""
    return (directory / DB_NAME).is_file()


class Session:
    """One curation session on disk."""

    def __init__(self, directory: Path, runtime: Runtime, config: Config, *, read_only: bool = False) -> None:
        self.dir = directory
        self.runtime = runtime
        self.config = config
        self.read_only = read_only
        self._locked = False  # set by `open`, which takes the writer lock
        self.conn = connect(directory / DB_NAME, read_only=read_only)
        self.redactor = Redactor(runtime.env)
        self.trace = Trace(self.conn, runtime.clock, self.redactor)
        self.samples = SampleTable(self.conn, runtime.clock)
        # Builds the store's embedder from (store settings, env); None: `embedder_for`, in this process. The
        # CLI sets the Ray engine's here (pipeline/engine/ray_embed.py): session must not import what is above it.
        self.embedder_factory: Callable[[StoreSettings, Mapping[str, str]], Any] | None = None

    @classmethod
    def open(cls, directory: str | Path, runtime: Runtime, config: Config, *, create: bool,
             set_recipe: bool = False) -> Session:
        """Open a session folder for writing, creating it (and registering it) when `create` is set.

        A new session stores `config` as its recipe. An existing one keeps its recipe unless
        `set_recipe` (only `assay resume` passes it): the settings `config` was explicitly
        given apply to this opening alone, and those that differ are named in a note. The
        session's writer lock is held until `close()`; a second writer is refused.
        """
        from assay.session import lock as session_lock
        from assay.core.recipe import difference_note, differing, given_settings, stored_recipe, with_settings

        directory = Path(directory).expanduser().resolve()
        if not is_session(directory) and not create:
            raise AssayError(f"{directory}: not an assay session (no {DB_NAME}); create one with `assay ingest`")
        if not is_session(directory) and directory.exists() and any(
                p.name != session_lock.LOCK_NAME for p in directory.iterdir()):
            raise AssayError(f"{directory}: folder exists and is not empty; pick a new folder for the session")
        directory.mkdir(parents=True, exist_ok=True)
        session_lock.acquire(directory)
        try:
            exists = is_session(directory)  # again, under the lock: another process may have just made it
            session = cls(directory, runtime, config)
            session._locked = True
            stored = session.meta("config")
            if not exists:
                session._init_meta()
                from assay.session.registry import register

                register(directory, runtime)
            if stored is None or set_recipe:
                session.set_meta("config", config.model_dump(mode="json"))
            else:
                recipe = stored_recipe(directory, stored)
                given = given_settings(config)
                session.config = with_settings(recipe, given)
                changes = differing(recipe, given)
                if changes:
                    runtime.note(difference_note(directory, changes))
                    session.trace.event("recipe", "settings for one command differ from the recipe",
                                        {k: {"recipe": a, "command": b} for k, (a, b) in changes.items()})
        except BaseException:
            session_lock.release(directory)
            raise
        return session

    @classmethod
    def open_read_only(cls, directory: str | Path, runtime: Runtime) -> Session:
        """Open an existing session for reading only (trace review)."""
        directory = Path(directory).expanduser().resolve()
        if not is_session(directory):
            raise AssayError(f"{directory}: not an assay session (no {DB_NAME})")
        probe = connect(directory / DB_NAME, read_only=True)
        row = probe.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        probe.close()
        from assay.core.recipe import stored_recipe

        config = stored_recipe(directory, json.loads(row[0])) if row else Config()
        return cls(directory, runtime, config, read_only=True)

    def _init_meta(self) -> None:
        self.set_meta("session_id", self.runtime.new_id())
        self.set_meta("created_at", self.runtime.clock().isoformat())
        self.set_meta("assay_version", __version__)

    def meta(self, key: str, default: Any = None) -> Any:
        """A stored session fact (id, creation time, config, dry-run flag …)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        """Store a session fact."""
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    @property
    def id(self) -> str:
        """The session's id (also names its Chroma collection)."""
        return str(self.meta("session_id"))

    @cached_property
    def store(self) -> Any:
        """The vector store (loads the embedding model and Chroma on first use)."""
        from assay.session.embeddings import embedder_for
        from assay.session.store import ChromaPlace, Store, reconcile

        settings = self.config.store
        make = self.embedder_factory or embedder_for
        embedder = make(settings, self.runtime.env)  # the shared cache in front: nothing embedded twice
        # A place, not a client: Chroma runs in the store's helper process, off the pipeline's path.
        store = Store(self.samples, embedder, ChromaPlace(str(self.dir), settings.chroma_url), f"assay-{self.id}")
        if not self.read_only:
            reconcile(store)  # Chroma is derived from SQLite: catch up on what a kill left behind
        return store

    @cached_property
    def gateway(self) -> Any:
        """The session's LLM gateway, with its budget restored from the trace."""
        from assay.llm.factory import build_gateway

        if self.config.dry_run:
            self.set_meta("dry_run", True)
        return build_gateway(self.config, self.trace, self.conn, seed=self.config.llm.seed)

    def model_for(self, role: AgentRole) -> str:
        """The litellm model string an agent role uses in this session."""
        from assay.llm.factory import model_name

        return model_name(self.config, role)

    def rng(self, purpose: str) -> random.Random:
        """A random generator seeded from the session's seed and a purpose name."""
        return random.Random(f"{self.config.llm.seed}:{purpose}")

    def close(self) -> None:
        """Close the DB connection and, for a writer, give back the session's lock."""
        store = self.__dict__.get("store")  # only if it was ever opened: closing must not load a model
        try:
            if store is not None:
                store.close()  # first: it waits for Chroma to catch up, then clears the stale mark in the DB
        finally:
            self.conn.close()
            self._release_lock()

    def _release_lock(self) -> None:
        if self._locked:
            from assay.session import lock as session_lock

            self._locked = False
            session_lock.release(Path(self.dir))


def session_recipe(directory: str | Path, runtime: Runtime) -> Config:
    """The recipe a session runs with (stored when it was made, changed only by `assay resume`)."""
    session = Session.open_read_only(directory, runtime)
    try:
        return session.config
    finally:
        session.close()


def session_for_output(out: Path, session_dir: Path | None, runtime: Runtime, config: Config, *,
                       command: str) -> Session:
    """The session an LLM command records into: the one named, else one of its own under `$ASSAY_HOME/sessions/`.

    LLM work always has a session, so every call is traced and cached and a rerun pays nothing
    twice. Unasked, it no longer lands beside the output (a `*.session/` folder the user never
    wanted): it goes under the assay home, named after the command and the output, so the same
    command writing the same file reopens it, and one line on stderr says where it is.
    """
    legacy = out.with_name(out.name + ".session")  # where sessions went before: reuse it, so a rerun still pays nothing twice
    directory = session_dir or (legacy if (legacy / DB_NAME).exists() else default_session_dir(out, runtime, command))
    session = Session.open(directory, runtime, config, create=True)
    if session_dir is None:
        runtime.note(f"session: {session.dir} (`assay trace {session.dir}` shows every call; --session DIR puts it elsewhere)")
    return session


def default_session_dir(out: Path, runtime: Runtime, command: str) -> Path:
    """`$ASSAY_HOME/sessions/COMMAND-OUTNAME-HASH`: the hash of the output's full path keeps two
    `out.jsonl` in different folders apart, and the same output always maps to the same session."""
    import hashlib
    import re

    from assay.session.registry import registry_path

    target = Path(out).expanduser().resolve()
    digest = hashlib.sha256(str(target).encode("utf-8")).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", target.name)[:60] or "out"
    return registry_path(runtime).parent / "sessions" / f"{command}-{name}-{digest}"
