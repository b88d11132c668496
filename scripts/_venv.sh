# Sourced by scripts/test and scripts/demo: make .venv and install tempest with its dev
# tools, again only when pyproject.toml changed.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: tempest needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.tempest-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  # This machine's pip config names local indexes that may be absent; drop that noise only.
  quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "^WARNING: Location '" >&2); }
  quiet_pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
  quiet_pip install --quiet --disable-pip-version-check -e . --group dev
  echo "$wanted" > "$stamp"
fi
