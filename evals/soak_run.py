"""The soak eval's runs: inputs, `assay run` as a subprocess, SIGKILL-and-resume, and output checks."""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path
from typing import Any

ALPACA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca" / "alpaca_5000.json"
TRACEBACK = "Traceback (most recent call last)"
TOPICS = ("sorting a list in Python", "the water cycle", "writing a cover letter", "compound interest",
          "photosynthesis", "SQL joins", "planning a garden", "the French revolution", "unit testing", "budgeting")


def write_inputs(folder: Path, n_alpaca: int, n_chats: int, seed: int) -> list[Path]:
    """An Alpaca subset (JSON array) and generated multi-turn ShareGPT chats (JSONL); every record has an id."""
    rng = random.Random(seed)
    pool = json.loads(ALPACA.read_text(encoding="utf-8"))
    alpaca = [{**pool[i], "id": f"alpaca-{i}"} for i in sorted(rng.sample(range(len(pool)), n_alpaca))]
    chats = []
    for i in range(n_chats):
        topic = TOPICS[i % len(TOPICS)]
        turns = [{"from": "system", "value": f"You are a patient tutor. Keep answers about {topic} short."}] if i % 3 == 0 else []
        for t in range(rng.randint(2, 4)):
            turns.append({"from": "human", "value": f"Question {t + 1} about {topic}: what should I know next (chat {i})?"})
            turns.append({"from": "gpt", "value": f"Part {t + 1} on {topic}: start from the basics, then practise "
                                                  f"with one small example and check it step by step."})
        chats.append({"id": f"chat-{i}", "conversations": turns})
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "pool_alpaca.json", folder / "chats_sharegpt.jsonl"]
    paths[0].write_text(json.dumps(alpaca, ensure_ascii=False, indent=1), encoding="utf-8")
    paths[1].write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chats), encoding="utf-8")
    return paths


def assay_cmd(*args: str) -> list[str]:
    """The assay CLI, run with this interpreter, under `nice` (the machine is shared)."""
    return ["nice", "-n", "10", sys.executable, "-m", "assay", *args]


@dataclass
class RunLog:
    """What a (possibly killed and resumed) run did."""

    session: Path
    attempts: list[dict[str, Any]] = field(default_factory=list)
    kills: int = 0
    finished: bool = False
    stuck: int = 0  # resumes that exited 0 without an export
    hung: int = 0  # processes still running after `hang_s`, then killed
    wall_s: float = 0.0

    def logs(self) -> list[Path]:
        """Every stdout/stderr file of this run's processes."""
        return [Path(a[k]) for a in self.attempts for k in ("stdout", "stderr")]


def _spawn(cmd: list[str], env: dict[str, str], logs: Path, tag: str) -> tuple[subprocess.Popen, dict[str, Any]]:
    out, err = logs / f"{tag}.out", logs / f"{tag}.err"
    proc = subprocess.Popen(cmd, env=env, stdout=out.open("wb"), stderr=err.open("wb"), stdin=subprocess.DEVNULL)
    return proc, {"tag": tag, "cmd": cmd[3:], "stdout": str(out), "stderr": str(err), "started": time.monotonic()}


def drive(run_args: list[str], session: Path, env: dict[str, str], logs: Path, *, kills: int,
          kill_after_s: Callable[[RunLog, int], float], provider_log: list[dict[str, Any]], hang_s: float = 900.0,
          max_plain_resumes: int = 4) -> RunLog:
    """`assay run`, SIGKILLed `kills` times and resumed each time, then resumed until it finishes.

    Each process is killed `kill_after_s(log so far, requests the provider has seen)` seconds
    after it starts, until the kills are used up.
    """
    logs.mkdir(parents=True, exist_ok=True)
    result = RunLog(session)
    started = time.monotonic()
    plain = 0
    cmd = assay_cmd("run", *run_args, "--out", str(session))
    for n in range(kills + max_plain_resumes + 1):
        proc, info = _spawn(cmd, env, logs, f"{n:02d}-{'run' if n == 0 else 'resume'}")
        requests_before = len(provider_log)
        delay = round(kill_after_s(result, requests_before), 2) if result.kills < kills else None
        try:
            rc = proc.wait(timeout=hang_s if delay is None else delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            info.update(killed_at_s=delay if delay is not None else hang_s, hung=delay is None)
        mine = provider_log[requests_before:]
        info.update(rc=rc, requests=len(mine), first_request_s=round(mine[0]["t"] - info["started"], 2) if mine else None)
        result.attempts.append(info)
        cmd = assay_cmd("resume", str(session))
        if info.get("hung"):
            result.hung += 1
            break
        if "killed_at_s" in info:
            result.kills += 1
            continue
        exported = (session / "curated.jsonl").exists()
        if rc == 0 and exported:
            result.finished = True
            break
        if rc == 0:
            result.stuck += 1
        plain += 1
        if plain > max_plain_resumes or (rc != 0 and not is_session(session)):
            break
    result.wall_s = time.monotonic() - started
    return result


def is_session(folder: Path) -> bool:
    """Whether `assay run` got as far as creating the session."""
    return (folder / "session.db").is_file()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL export ([] when the file is missing)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _canon(record: Any) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def normalised(record: dict[str, Any]) -> str:
    """A record with the run-specific parts taken out: sample ids are random per session."""
    record = dict(record)
    if isinstance(record.get("_assay"), dict):
        meta = {k: v for k, v in record["_assay"].items() if k not in ("id", "parent_ids")}
        meta["parents"] = len(record["_assay"].get("parent_ids") or [])
        record["_assay"] = meta
    return _canon(record)


def multiset_diff(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """How many records are in one list and not the other (as multisets, ids normalised)."""
    ca, cb = collections.Counter(map(normalised, a)), collections.Counter(map(normalised, b))
    return sum(((ca - cb) + (cb - ca)).values())


def accounting(inputs: list[Path], session: Path) -> dict[str, int]:
    """Input records found 0 times (lost) or more than once (duplicated) in curated + rejected."""
    found = collections.Counter(_canon(r) for r in read_jsonl(session / "curated.jsonl"))
    found.update(_canon({k: v for k, v in r.items() if k != "_assay"}) for r in read_jsonl(session / "rejected.jsonl"))
    records = json.loads(inputs[0].read_text(encoding="utf-8")) + read_jsonl(inputs[1])
    wanted = collections.Counter(map(_canon, records))
    lost = sum(max(0, n - found[k]) for k, n in wanted.items())
    doubled = sum(max(0, found[k] - n) for k, n in wanted.items())
    # Every sample the session held (lineage) must be exported once: rewrites and syntheses too.
    held = len(read_jsonl(session / "lineage.jsonl"))
    unexported = held - sum(found.values())
    return {"inputs": len(records), "lost": lost, "duplicated": doubled, "held": held, "unexported": unexported}


def session_figures(session: Path) -> dict[str, Any]:
    """Stop reason and the spend the session itself recorded (read-only)."""
    if not is_session(session):
        return {"stop": None, "recorded_usd": 0.0, "recorded_calls": 0, "stages": {}}
    conn = sqlite3.connect(f"file:{session / 'session.db'}?mode=ro", uri=True)
    try:
        stop = conn.execute("SELECT message FROM events WHERE kind = 'stop' ORDER BY id DESC LIMIT 1").fetchone()
        calls, usd = conn.execute("SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM llm_calls "
                                  "WHERE outcome != 'cached'").fetchone()
        rounds = dict(conn.execute("SELECT action, COUNT(*) FROM rounds GROUP BY action").fetchall())
        events = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
        judged = conn.execute("SELECT COUNT(*) FROM decisions WHERE agent = 'judge'").fetchone()[0]
    finally:
        conn.close()
    stages = {"judge": judged, "repair": rounds.get("repair", 0), "expand": rounds.get("expand", 0),
              "select": events.get("select", 0), "export": events.get("export", 0)}
    return {"stop": stop[0] if stop else None, "recorded_usd": usd, "recorded_calls": calls, "stages": stages}


def tracebacks(paths: list[Path]) -> int:
    """Tracebacks printed in these log files."""
    return sum(p.read_text(encoding="utf-8", errors="replace").count(TRACEBACK) for p in paths if p.exists())
