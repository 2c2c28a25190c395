"""core/ must never pull in Qt: it is what lets the CLI and CI run without a display."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parents[2]


def test_importing_every_core_module_loads_no_qt() -> None:
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.") if ".migrations" not in m.name]
    assert "core.analysis.inference" in names and "core.store.segments" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "qt = ('PySide6', 'pyqtgraph', 'PyQt5', 'PyQt6')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in qt)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt modules: {out.stdout.strip()}"


def test_no_core_source_mentions_a_qt_import() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "core").rglob("*.py")
        if any(
            line.lstrip().startswith(("import PySide6", "from PySide6", "import pyqtgraph", "from pyqtgraph"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
