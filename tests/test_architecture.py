"""The layering of ARCHITECTURE.md holds: import-linter's contracts (pyproject.toml) pass, and
the tree stays readable (no file over 400 lines, the median around 150).

These fail the suite, and so CI, on any upward import, any import cycle between sibling
modules, or a module grown past what a reader takes in at once."""

from __future__ import annotations

import statistics
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "assay"
MAX_LINES = 400
MAX_MEDIAN_LINES = 150


def test_import_contracts_are_kept(capsys):
    from importlinter.cli import lint_imports

    exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report


def test_contracts_cover_every_package_and_admit_no_exceptions():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = config["contracts"]
    assert all("ignore_imports" not in c for c in contracts), "exceptions hide a broken layer"
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    assert layers["exhaustive"] is True  # a new top-level package must be given a layer
    assert any(c["type"] == "acyclic_siblings" and c["ancestors"] == ["assay"] for c in contracts)
    below_interface = {"assay." + layer for line in layers["layers"][3:] for layer in line.split(" | ")}
    (rendering,) = [c for c in contracts if set(c.get("forbidden_modules", ())) == {"rich", "typer"}]
    assert set(rendering["source_modules"]) == below_interface  # every layer under cli, ui and report


def _source_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]


def test_no_module_is_longer_than_a_reader_takes_in_at_once():
    lengths = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in _source_files()}
    too_long = {path: n for path, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines: {too_long}"
    # __init__ files are mostly empty; they would flatter the median.
    median = statistics.median(n for path, n in lengths.items() if not path.endswith("__init__.py"))
    assert median <= MAX_MEDIAN_LINES, f"median module length {median} > {MAX_MEDIAN_LINES}"
