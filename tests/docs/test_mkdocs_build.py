"""The documentation site builds with no warning (mkdocs --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, clean_env

MKDOCS = Path(sys.executable).with_name("mkdocs")


def test_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(NO_MKDOCS_2_WARNING="1"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "commands" / "writing" / "index.html").is_file()
