"""`scripts/panel` from a fresh shell: it says what it is doing at every step (no silent
minutes), listens on PORT, and serves the login page with the demo data loaded."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_readme import _fresh_shell_env

ROOT = Path(__file__).resolve().parent.parent
STEPS = [
    "mailadmin: compiling translations",
    "mailadmin: migrating the database",
    "mailadmin: loading the demo data",
]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_scripts_panel_reports_progress_and_serves_on_port(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        ["scripts/panel"],
        cwd=ROOT,
        env=_fresh_shell_env(PORT=str(port), MAILADMIN_VAR_DIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the server it execs goes with it
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 600  # a guard against a hang, not a measurement
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "mailadmin is running at" in line:
                break
        text = "".join(output)
        positions = [text.find(step) for step in STEPS]
        assert all(p >= 0 for p in positions), text
        assert positions == sorted(positions), text
        assert f"http://127.0.0.1:{port}/login/" in text, text
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert body is not None and "password" in body.lower()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_scripts_panel_refuses_a_port_that_is_no_number():
    result = subprocess.run(
        ["scripts/panel"],
        cwd=ROOT,
        env=_fresh_shell_env(PORT="eighty"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    assert "PORT" in result.stderr
