"""Fixtures of the end-to-end tests that install tempest from its wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, clean_env, run


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built once per run for every test that installs it."""
    dist = tmp_path_factory.mktemp("dist")
    built = run(
        [PYTHON, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        REPO,
        timeout=300,
        env=clean_env(),
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return next(dist.glob("tempest_framework-*.whl"))
