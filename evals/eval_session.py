"""The session an LLM eval records into: `--session DIR`, or a scratch folder under /tmp."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from assay.core.config import Config, LLMSettings, Models
from assay.session.session import Runtime, Session


def open_eval_session(args: argparse.Namespace, name: str) -> Session:
    """A session with the eval's model, dry-run flag and concurrency; it traces and caches every call."""
    config = Config(dry_run=args.dry_run, models=Models(default=args.model),
                    llm=LLMSettings(concurrency=args.concurrency))
    if args.session:
        return Session.open(args.session, Runtime(), config, create=True)
    session = Session(Path(tempfile.mkdtemp(prefix=f"assay-eval-{name}-")), Runtime(), config)
    session.set_meta("session_id", f"eval-{name}")
    return session
