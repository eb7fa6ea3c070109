"""Opt-in execution of self-contained Python in a subprocess sandbox.

What the sandbox is, exactly:
- a child process `python -I` (isolated: no PYTHONPATH, no user site-packages, the script's
  folder not on sys.path) with a minimal environment, stdin closed, in a fresh temporary
  directory that is its cwd, $HOME and $TMPDIR, deleted afterwards;
- no network: when `unshare -r -n` works (Linux user and network namespaces) the child runs
  in a namespace of its own with only a loopback that is down, so no packet leaves; where it
  does not, the child's `socket.socket`, `socket.create_connection` and `getaddrinfo` are
  replaced before the code runs so that any use raises, which stops ordinary code but not
  code that works to get around it (say `isolation` reports which one ran);
- limits set by `resource.setrlimit` in the child: address space (memory), CPU seconds, file
  size and no core files; plus a wall-clock timeout after which its process group is killed.
It is not a container: the child can read what the user running assay can read.

Only self-contained code runs: imports from the standard library alone, and every name it
reads is bound somewhere in it. A failure the environment causes (no stdin for `input()`, a
missing file, memory) is not held against the code; an uncaught exception or a failed
assert is (`code_runtime:python`). A timeout is reported but not a drop: a long loop is not wrong.
"""

from __future__ import annotations

import ast
import builtins
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

# Exceptions that say the sandbox lacks something (input, files, network, memory), not that the code is wrong.
ENVIRONMENTAL = ("EOFError", "FileNotFoundError", "PermissionError", "ModuleNotFoundError", "ImportError",
                 "MemoryError", "ConnectionError", "ConnectionRefusedError", "OSError", "socket.gaierror",
                 "gaierror", "URLError", "TimeoutError", "KeyboardInterrupt", "IsADirectoryError", "NotADirectoryError")
NO_SOCKETS = (
    "import socket\n"
    "def _blocked(*a, **k):\n    raise OSError('network access is disabled in the assay sandbox')\n"
    "socket.socket = socket.create_connection = socket.getaddrinfo = _blocked\n"
)
GIVEN = re.compile(r"^[A-Za-z_]\w*\s*=\s*(\S.*)$")  # "list = [3, 7, 1]" in an instruction's input
RUNNER = "import runpy, sys\nsys.argv = ['main.py']\nrunpy.run_path('main.py', run_name='__main__')\n"


@dataclass(frozen=True)
class RunResult:
    """What running one program did: ran (False: skipped, `note` says why), its error if any, whether it timed out."""

    ran: bool
    error: str | None = None  # the last line of the traceback, e.g. "ZeroDivisionError: division by zero"
    line: int | None = None  # the failing line of main.py
    timed_out: bool = False
    note: str | None = None

    @property
    def failed(self) -> bool:
        """An error the code itself caused."""
        return self.ran and self.error is not None


def self_contained(code: str) -> str | None:
    """Why the code cannot run on its own (a third-party import, an unbound name), or None if it can."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "does not parse"
    bound: set[str] = set(dir(builtins)) | {"__name__", "__file__", "__doc__"}
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            if isinstance(node, ast.ImportFrom) and node.level:
                return "a relative import"
            for alias in node.names:
                top = (alias.name if isinstance(node, ast.Import) else module).split(".")[0]
                if top not in sys.stdlib_module_names:
                    return f"imports {top}, outside the standard library"
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
    free = sorted(loaded - bound)
    return f"uses {', '.join(free[:3])}, defined nowhere in it" if free else None


@functools.cache
def network_namespace() -> bool:
    """Whether `unshare -r -n` can give a child a network namespace of its own on this machine."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        done = subprocess.run([unshare, "-r", "-n", "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def isolation() -> str:
    """How the sandbox keeps the network out on this machine, in words."""
    return ("network namespace (unshare -r -n)" if network_namespace()
            else "socket functions replaced in the child (no namespace available)")


def given_values(instruction: str) -> str:
    """The values an instruction gives the code to work on ("list = [3, 7, 1]"), as Python, or "".

    Only top-level assignments of a literal: a line of code quoted in the instruction
    ("area = length * width") is not a value given.
    """
    return "\n".join(line.strip() for line in instruction.splitlines()
                     if (found := GIVEN.match(line)) and _literal(found.group(1)))


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def run_python(code: str, *, timeout: float = 5.0, memory_mb: int = 512, given: str = "") -> RunResult:
    """Run self-contained Python in the sandbox; a skipped or environmental failure has `ran` False.

    `given`: assignments from the instruction (`given_values`), run first, so an answer that
    works on the input it was handed ("list.sort()" for "list = [3, 1]") runs as it was meant to.
    """
    if given:
        result = run_python(given + "\n" + code, timeout=timeout, memory_mb=memory_mb)
        shift = given.count("\n") + 1
        line = result.line - shift if result.line is not None and result.line > shift else result.line
        return RunResult(result.ran, result.error, line, result.timed_out, result.note)
    reason = self_contained(code)
    if reason is not None:
        return RunResult(False, note=f"not run: {reason}")
    with tempfile.TemporaryDirectory(prefix="assay-run-") as folder:
        with open(os.path.join(folder, "main.py"), "w", encoding="utf-8") as handle:
            handle.write(code)
        prefix = ["unshare", "-r", "-n"] if network_namespace() else []
        bootstrap = _limits(timeout, memory_mb) + ("" if prefix else NO_SOCKETS) + RUNNER
        env = {"PATH": "/usr/bin:/bin", "HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8",
               "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        with subprocess.Popen([*prefix, sys.executable, "-I", "-c", bootstrap], cwd=folder, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace", start_new_session=True) as child:
            try:
                _, stderr = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)  # the whole group: the program's own children too
                child.communicate()
                return RunResult(True, timed_out=True, note=f"still running after {timeout:g}s; stopped")
    if child.returncode == 0:
        return RunResult(True)
    return _failure(stderr, child.returncode)


def _limits(timeout: float, memory_mb: int) -> str:
    """Python that sets the child's own limits before the program runs (not a preexec_fn: unsafe with threads)."""
    memory, cpu, size = memory_mb * 1024 * 1024, int(timeout) + 1, 16 * 1024 * 1024
    return ("import resource\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
            f"resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu}))\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size}, {size}))\n"
            "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n")


def _failure(stderr: str, returncode: int) -> RunResult:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if returncode < 0:  # killed by a signal: the CPU or memory limit
        return RunResult(False, note=f"stopped by the sandbox's limits (signal {-returncode})")
    if not lines:  # sys.exit(N) without a word: the program chose to stop
        return RunResult(False, note=f"exited with status {returncode} and no traceback")
    last = lines[-1].strip()
    name = last.split(":", 1)[0]
    if name in ENVIRONMENTAL or name.rsplit(".", 1)[-1] in ENVIRONMENTAL:
        return RunResult(False, note=f"not held against the code: {last[:200]}")
    line = None
    for text in lines:
        if 'File "' in text and "main.py" in text and ", line " in text:
            line = int(text.rsplit(", line ", 1)[1].split(",")[0])  # the innermost frame in the program wins
    return RunResult(True, error=last[:300], line=line)
