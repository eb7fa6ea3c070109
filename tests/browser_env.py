"""What the browser tests need: Debian's chromium and playwright. A test module that imports
this is skipped, with the reason, when either is missing."""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ASSAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if find_spec("playwright") is None:
    pytest.skip("playwright is not installed (pip install playwright; the browser is Debian's chromium)",
                allow_module_level=True)
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set ASSAY_CHROMIUM)", allow_module_level=True)
