"""Packaging: subpackages import through the `assay` namespace only."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

MAPPED = ("agents", "tools", "graphs", "prompts")
BARE_IMPORT = re.compile(rf"^\s*(from|import)\s+({'|'.join(MAPPED)})(\.|\s)", re.MULTILINE)


def test_no_module_imports_a_mapped_folder_by_its_bare_name() -> None:
    """`tools.base` works only when the repo root is on sys.path (as under pytest); installed, it is `assay.core.assessment`."""
    offenders = []
    for folder in ("assay", *MAPPED, "evals"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for match in BARE_IMPORT.finditer(path.read_text(encoding="utf-8")):
                line = path.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
                offenders.append(f"{path.relative_to(REPO)}:{line}: {match.group(0).strip()}")
    assert offenders == [], "import these through assay.*:\n" + "\n".join(offenders)


def test_every_subpackage_folder_is_declared() -> None:
    import tomllib

    config = tomllib.loads(Path(REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    on_disk = {f"assay.{name}" for name in MAPPED} | {"assay"} | {
        "assay." + p.parent.relative_to(REPO / "assay").as_posix().replace("/", ".")
        for p in (REPO / "assay").rglob("__init__.py") if p.parent != REPO / "assay"
    }
    assert on_disk <= declared, f"undeclared packages: {sorted(on_disk - declared)}"
