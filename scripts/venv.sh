# Sourced by scripts/panel and scripts/test: make .venv from pyproject.toml, pinned by constraints.txt.
venv="${MAILADMIN_VENV:-.venv}"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
  touch "$stamp"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
