"""Production-like settings: deploy checks are clean, a missing SECRET_KEY refuses to start, and the
migrations match the models."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        and not k.endswith("_FILE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 30 + "a-long-random-production-secret-value-1234567890",
    "ALLOWED_HOSTS": "panel.example.net",
    "DATABASE_URL": "postgres://mailadmin@db.example.net:5432/mailadmin",
}


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_runs_without_secret_key_on_sqlite():
    result = run_manage("check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_migrations_match_models():
    result = run_manage("makemigrations", "--check", "--dry-run", DEBUG="1")
    assert result.returncode == 0, result.stdout + result.stderr


# Each bad value must stop the process and name its variable; a typo must never read as a default.
BAD_VALUES = [
    ("DEBUG", "ture"),
    ("SECURE_SSL_REDIRECT", "maybe"),
    ("MAILADMIN_TRANSPORT_ALLOW_INTERNAL", "yes please"),
    ("AXES_FAILURE_LIMIT", "five"),
    ("MAILADMIN_MAX_ALIAS_RECIPIENTS", "-1"),
    ("MAIL_DB_PORT", "70000"),
    ("MAILADMIN_DNS_TIMEOUT", "soon"),
    ("MAILADMIN_MAX_QUOTA_BYTES", "16TiB"),
    ("DATABASE_URL", "mysql//db.example.net/mailadmin"),
    ("REDIS_URL", "127.0.0.1:6379"),
    ("CELERY_BROKER_URL", "redis://127.0.0.1:port/0"),
    ("ALLOWED_HOSTS", "panel.example.net, other host"),
    ("MAIL_PASSWORD_SCHEME", "MD5"),
    ("MAILADMIN_API_RATE", "lots"),
    ("LOG_LEVEL", "LOUD"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[name for name, _ in BAD_VALUES])
def test_a_bad_value_refuses_to_start_and_names_the_variable(name, value):
    env = {**PRODUCTION, name: value}
    result = run_manage("check", **env)
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_a_url_with_a_password_is_not_echoed_when_refused():
    result = run_manage("check", **{**PRODUCTION, "REDIS_URL": "http://user:hunter2-secret@x/"})
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
    assert "hunter2-secret" not in result.stderr


@pytest.mark.parametrize("word", ["1", "true", "Yes", "ON"])
def test_the_boolean_words_still_read_as_true(word):
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", DEBUG=word
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_a_secret_is_read_from_its_file(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-compose-secret-" + "y" * 40 + "\n")
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        SECRET_KEY_FILE=str(secret),
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "from-a-compose-secret-" + "y" * 40


def test_a_missing_secret_file_or_both_forms_refuse_to_start(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    missing = run_manage("check", SECRET_KEY_FILE=str(tmp_path / "nope"), **env)
    assert missing.returncode != 0
    assert "SECRET_KEY_FILE" in missing.stderr.splitlines()[-1]
    secret = tmp_path / "secret_key"
    secret.write_text("z" * 60)
    both = run_manage("check", SECRET_KEY_FILE=str(secret), **PRODUCTION)
    assert both.returncode != 0
    assert "SECRET_KEY" in both.stderr.splitlines()[-1]
