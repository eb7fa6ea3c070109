"""The soak eval's secret check: where a planted API key (or a masked echo of it) turns up.

It scans every file of the session folders byte for byte (SQLite pages, WAL, Chroma, exports,
report), a SQL dump of each SQLite file, the stdout/stderr of every process, `assay trace`
output, and what `assay ui` serves, run from an environment that does not hold the key
(a colleague's viewer cannot redact a key it has never seen).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from soak_provider import FaultyProvider
from soak_run import assay_cmd

MASKED = re.compile(r"sk-[A-Za-z0-9_-]{0,16}\*{3,}([A-Za-z0-9_-]{0,8})")


def planted_key(seed: int) -> str:
    """A fake, key-shaped secret that no real provider would accept."""
    return "sk-soak-PLANTED" + hashlib.sha256(f"soak-key-{seed}".encode()).hexdigest()[:32]


def count_in(text: str, key: str) -> int:
    """Occurrences of the key: whole, masked (sk-so****…wxyz), or its random core on its own."""
    whole = text.count(key)
    core = key[-32:]
    fragments = max(0, text.count(core[:12]) - whole) + max(0, text.count(core[-12:]) - whole)
    masked = sum(1 for m in MASKED.finditer(text) if m.group(1) and key.endswith(m.group(1))
                 and key.startswith(m.group(0).split("*", 1)[0]))
    return whole + masked + fragments


def check_counter(key: str) -> None:
    """Guard the measurement itself: the counter must see the key whole, masked and in part."""
    samples = {f"x {key} y": 1, f"key {key[:6]}{'*' * 20}{key[-4:]}.": 1, f"core {key[-32:-16]}": 1, "sk-ab****wxyz": 0}
    for text, want in samples.items():
        if count_in(text, key) != want:
            raise SystemExit(f"soak: the key counter is broken on {text!r}")


def env_without(env: dict[str, str], key: str) -> dict[str, str]:
    """The environment minus every variable holding the key: a colleague's shell."""
    return {k: v for k, v in env.items() if key not in v}


def scan_tree(folder: Path, key: str) -> dict[str, int]:
    """Hits per file under `folder` (raw bytes, plus a SQL dump of SQLite files); only files with hits."""
    hits: dict[str, int] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        n = count_in(path.read_bytes().decode("utf-8", errors="replace"), key)
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            n += count_in(_dump(path), key)
        if n:
            hits[str(path.relative_to(folder))] = n
    return hits


def _dump(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    except sqlite3.DatabaseError as err:
        return f"(not readable: {err})"
    finally:
        conn.close()


def scan_files(paths: list[Path], key: str) -> dict[str, int]:
    """Hits per file (logs, outputs); only files with hits."""
    hits = {str(p): count_in(p.read_text(encoding="utf-8", errors="replace"), key) for p in paths if p.exists()}
    return {p: n for p, n in hits.items() if n}


def viewer_pages(session: Path) -> list[str]:
    """Viewer pages and API answers worth reading: lists, and every failed call and decision (up to 40)."""
    paths = ["/", "/samples", "/decisions", "/review", "/api/summary", "/api/samples", "/api/facets", "/api/decisions"]
    conn = sqlite3.connect(f"file:{session / 'session.db'}?mode=ro", uri=True)
    try:
        calls = [r[0] for r in conn.execute("SELECT id FROM llm_calls WHERE outcome NOT IN ('ok', 'cached') LIMIT 40")]
        decisions = [r[0] for r in conn.execute("SELECT id FROM decisions WHERE reason IS NOT NULL AND "
                                                "(reason LIKE '%rror%' OR reason LIKE '%fail%') LIMIT 40")]
        samples = [r[0] for r in conn.execute("SELECT id FROM samples LIMIT 10")]
    finally:
        conn.close()
    paths += [p for c in calls for p in (f"/calls/{c}", f"/api/calls/{c}")]
    paths += [p for d in decisions for p in (f"/decisions/{d}", f"/api/decisions/{d}")]
    paths += [p for s in samples for p in (f"/samples/{s}", f"/api/samples/{s}")]
    return paths


def scan_viewer(session: Path, env: dict[str, str], key: str, logs: Path) -> dict[str, object]:
    """Start `assay ui` on a free port, fetch the pages, count hits and server errors; then stop it."""
    out, err = logs / "ui.out", logs / "ui.err"
    proc = subprocess.Popen(assay_cmd("ui", str(session), "--port", "0"), env=env, stdout=out.open("wb"),
                            stderr=err.open("wb"), stdin=subprocess.DEVNULL)
    try:
        url = _announced(proc, out)
        if url is None:
            return {"pages": 0, "hits": 0, "errors_5xx": 0, "failed": "viewer did not start", "logs": [out, err]}
        hits = fivexx = 0
        paths = viewer_pages(session)
        for path in paths:
            status, body = _fetch(url.rstrip("/") + path)
            fivexx += status >= 500
            hits += count_in(body, key)
        return {"pages": len(paths), "hits": hits, "errors_5xx": fivexx, "failed": None, "logs": [out, err]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait()


def _announced(proc: subprocess.Popen, out: Path, wait_s: float = 120.0) -> str | None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and proc.poll() is None:
        match = re.search(r"(http://\S+)", out.read_text(encoding="utf-8", errors="replace"))
        if match:
            url = match.group(1)
            for _ in range(100):  # the URL is announced just before the server listens
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    return url
                except urllib.error.HTTPError:
                    return url
                except OSError:
                    time.sleep(0.2)
        time.sleep(0.3)
    return None


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", errors="replace")


def secrets(work: Path, sessions: list[Path], env: dict[str, str], key: str, args: argparse.Namespace, runs: dict) -> dict:
    """Where the planted key shows up: session folders, logs, trace output, viewer, judge and models check."""
    extra = work / "echo"
    extra.mkdir(exist_ok=True)
    colleague = env_without(env, key)
    logs: list[Path] = []
    with FaultyProvider(seed=args.seed, planted_key=key, timeout_s=args.timeout_s, force=("echo401", "echo400")) as echo:
        echo_env = {**env, "ASSAY_LLM__API_BASE": echo.base_url}
        chats = work / "inputs" / "chats_sharegpt.jsonl"
        for tag, cmd in (("judge", ["judge", str(chats), "--out", str(extra / "judged.jsonl"), "--model", args.model,
                                    "--limit", "3", "--session", str(extra / "judge_session")]),
                         ("models_check", ["models", "check", "--model", args.model, "--api-base", echo.base_url,
                                           "--session", str(extra / "check_session")])):
            logs += _run(assay_cmd(*cmd), echo_env, extra / tag)
        echoed = {"requests": len(echo.log), "key_sent": echo.key_sent()}
    for session in sessions:
        if (session / "session.db").exists():
            logs += _run(assay_cmd("trace", str(session), "--json"), colleague, session.parent / "logs" / "trace_json")
            logs += _run(assay_cmd("trace", str(session)), colleague, session.parent / "logs" / "trace_text")
    viewer = scan_viewer(sessions[-1], colleague, key, sessions[-1].parent / "logs") if (sessions[-1] / "session.db").exists() \
        else {"pages": 0, "hits": 0, "errors_5xx": 0, "failed": "no session", "logs": []}
    logs += viewer.pop("logs")
    folders = {str(s): scan_tree(s, key) for s in [*sessions, extra]}
    run_logs = scan_files([p for r in runs.values() for p in r.logs()] + logs, key)
    total = sum(sum(h.values()) for h in folders.values()) + sum(run_logs.values()) + int(viewer["hits"])
    return {"total": total, "folders": folders, "logs_with_key": run_logs, "viewer": viewer, "echo_server": echoed,
            "logs": [str(p) for p in logs]}


def _run(cmd: list[str], env: dict[str, str], stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    out, err = stem.with_suffix(".out"), stem.with_suffix(".err")
    with out.open("wb") as o, err.open("wb") as e:
        subprocess.run(cmd, env=env, stdout=o, stderr=e, stdin=subprocess.DEVNULL, timeout=600)
    return [out, err]
