"""``python manage.py --help`` in a fresh tempest project vs Django 5.2's ``manage.py help``.

Creates both projects in a temporary folder (Django goes into a throwaway virtual
environment under bench/.cache, made once), then times the two commands alternately and
prints the medians and their ratio. Targets: tempest median <= 0.35 s and <= 0.6x Django.

Usage: .venv/bin/python bench/manage_help.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
DJANGO_VENV = CACHE / "django-5.2"


def django_python() -> Path:
    python = DJANGO_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DJANGO_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "django>=5.2,<5.3",
            ],
            check=True,
        )
    return python


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()}")
    return elapsed


def main(runs: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPEST_", "DJANGO_"))}
    django = django_python()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run(
            [sys.executable, "-m", "tempest", "startproject", "shop"],
            cwd=root,
            check=True,
            env=env,
            capture_output=True,
        )
        tempest_project = root / "shop"
        subprocess.run(
            [sys.executable, "manage.py", "startapp", "orders"],
            cwd=tempest_project,
            check=True,
            env=env,
            capture_output=True,
        )
        django_project = root / "djsite"
        django_project.mkdir()
        subprocess.run(
            [str(django), "-m", "django", "startproject", "djsite", "."],
            cwd=django_project,
            check=True,
            env=env,
        )
        commands = {
            "tempest": ([sys.executable, "manage.py", "--help"], tempest_project),
            "django": ([str(django), "manage.py", "help"], django_project),
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for command, cwd in commands.values():  # warm the file cache and .pyc files
            timed(command, cwd, env)
        for _ in range(runs):
            for name, (command, cwd) in commands.items():
                samples[name].append(timed(command, cwd, env))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(
            f"{name:8} median {value * 1000:7.1f} ms  (min {min(samples[name]) * 1000:.1f} ms, {runs} runs)"
        )
    print(f"tempest median <= 350 ms: {'yes' if medians['tempest'] <= 0.35 else 'NO'}")
    print(f"ratio tempest/django: {medians['tempest'] / medians['django']:.3f}  (target <= 0.6)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    main(parser.parse_args().runs)
