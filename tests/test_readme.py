"""The README's commands work when pasted into a fresh shell: every script it names exists and
runs, every `manage.py` command it names is registered, no line depends on an activated venv
(`python manage.py ...`), and every variable it exports is one the project reads."""

import os
import re
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FENCED = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, re.S)
SHELL = "\n".join(FENCED)


def test_the_readme_has_shell_blocks():
    assert len(FENCED) >= 5 and "scripts/manage" in SHELL


def test_every_script_it_names_exists_and_is_executable():
    named = set(re.findall(r"\bscripts/([\w.-]+)", README))
    assert {"panel", "test", "manage"} <= named
    for name in named:
        path = ROOT / "scripts" / name
        assert path.is_file(), f"README names scripts/{name}, which does not exist"
        if not name.endswith(".sh"):  # sourced helpers need no x bit
            assert os.access(path, os.X_OK), f"scripts/{name} is not executable"


def test_every_management_command_it_names_is_registered():
    named = set(re.findall(r"\b(?:scripts/manage|manage\.py)\s+([a-z_]+)", README))
    named |= set(re.findall(r'"scripts/manage",\s*"([a-z_]+)"', README))
    assert {"apikey", "migrate", "createdb", "mailstack"} <= named
    missing = named - set(get_commands())
    assert not missing, f"README names manage.py commands that do not exist: {sorted(missing)}"


def test_no_line_needs_an_activated_venv():
    """`python manage.py` fails in a fresh shell (no venv, DEBUG off); `scripts/manage` works."""
    lines = [line for line in SHELL.splitlines() if re.search(r"\bpython3? manage\.py\b", line)]
    assert not lines, lines
    bare_python = [
        line for line in SHELL.splitlines() if re.match(r"\s*python\b", line) or '["python"' in line
    ]
    assert not bare_python, f"Debian has no `python` outside a venv: {bare_python}"


def test_every_exported_variable_is_read_by_the_project():
    exported = set(re.findall(r"\bexport\s+([A-Z_][A-Z0-9_]*)=", SHELL))
    exported |= set(re.findall(r"^\s*([A-Z_][A-Z0-9_]*)=\S+ scripts/", SHELL, re.M))
    sources = (ROOT / "mailadmin" / "settings.py").read_text() + "".join(
        p.read_text() for p in (ROOT / "scripts").iterdir() if p.is_file()
    )
    assert "DATABASE_URL" in exported
    unread = {name for name in exported if f'"{name}"' not in sources and name not in sources}
    assert not unread, f"README exports variables nothing reads: {sorted(unread)}"


def test_the_documented_port_variable_is_the_one_scripts_panel_reads():
    assert "PORT=" in README and "${PORT:-8000}" in (ROOT / "scripts" / "panel").read_text()


def _fresh_shell_env(**extra: str) -> dict[str, str]:
    """What a new terminal has: no venv on PATH, no DEBUG, SECRET_KEY or DATABASE_URL."""
    path = ":".join(
        p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":") if ".venv" not in p
    )
    keep = {"HOME", "LANG", "USER", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "PATH": path, **extra}


def test_scripts_manage_works_from_a_fresh_shell(tmp_path):
    result = subprocess.run(
        ["scripts/manage", "check"],
        cwd=ROOT,
        env=_fresh_shell_env(MAILADMIN_VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_scripts_manage_keeps_debug_off_when_a_secret_key_is_set(tmp_path):
    result = subprocess.run(
        [
            "scripts/manage",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=_fresh_shell_env(
            MAILADMIN_VAR_DIR=str(tmp_path),
            SECRET_KEY="k" * 60,
            ALLOWED_HOSTS="panel.example.net",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.postgres
def test_createdb_creates_the_database_once(db):
    from django.db import connection

    params = connection.settings_dict
    name = f"mailadmin_createdb_{uuid.uuid4().hex[:10]}"
    url = (
        f"postgres://{params['USER'] or 'postgres'}"
        f"{':' + params['PASSWORD'] if params['PASSWORD'] else ''}"
        f"@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{name}"
    )
    env = _fresh_shell_env(DATABASE_URL=url)
    try:
        first = subprocess.run(
            ["scripts/manage", "createdb"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert first.returncode == 0, first.stderr
        assert f"Created database '{name}'" in first.stdout
        again = subprocess.run(
            ["scripts/manage", "createdb"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert again.returncode == 0 and f"Database '{name}' exists" in again.stdout
    finally:
        conninfo = {k: v for k, v in connection.get_connection_params().items() if k != "context"}
        conninfo.pop("cursor_factory", None)
        conninfo["dbname"] = "postgres"
        with psycopg.connect(autocommit=True, **conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
