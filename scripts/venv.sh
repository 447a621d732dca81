# Sourced by scripts/panel, scripts/manage and scripts/test: make .venv from pyproject.toml, pinned
# by constraints.txt. Progress goes to stderr, so a command's own output stays clean on stdout.
venv="${MAILADMIN_VENV:-.venv}"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
  echo "mailadmin: creating the virtualenv $venv (python3 -m venv) ..." >&2
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "mailadmin: installing the dependencies into $venv (first time: a minute or two) ..." >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]" >&2
  touch "$stamp"
  echo "mailadmin: dependencies installed." >&2
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
