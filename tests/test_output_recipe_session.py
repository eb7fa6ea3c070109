"""`assay recipe show --session DIR`: the recipe stored in a session, itself a recipe that round-trips."""

from __future__ import annotations

from pathlib import Path

from assay.core.config_sources import load_config
from assay.session.session import Runtime, Session
from tests.test_cli import assay


def test_recipe_show_prints_the_sessions_stored_recipe(tmp_path: Path) -> None:
    config = load_config(overrides={"targets.size": 42, "budget.max_rounds": 3, "screen.minhash.threshold": 0.85})
    Session.open(tmp_path / "s", Runtime(), config, create=True).close()
    shown = assay("recipe", "show", "--session", str(tmp_path / "s"), home=tmp_path / "home").stdout
    assert "size = 42" in shown and "max_rounds = 3" in shown and "threshold = 0.85" in shown
    # Not the defaults a bare `recipe show` prints: the session's own settings.
    assert "size = 42" not in assay("recipe", "show", home=tmp_path / "home").stdout
    saved = tmp_path / "r.toml"
    saved.write_text(shown)
    again = assay("recipe", "show", "--recipe", str(saved), home=tmp_path / "home").stdout
    assert again == shown


def test_recipe_show_session_refuses_other_settings_and_non_sessions(tmp_path: Path) -> None:
    Session.open(tmp_path / "s", Runtime(), load_config(), create=True).close()
    mixed = assay("recipe", "show", "--session", str(tmp_path / "s"), "--set", "targets.size=5", home=tmp_path, check=False)
    assert mixed.returncode == 2 and "assay resume" in mixed.stderr
    missing = assay("recipe", "show", "--session", str(tmp_path / "nowhere"), home=tmp_path, check=False)
    assert missing.returncode == 2 and "not an assay session" in missing.stderr
