"""docker-compose.yml describes the whole stack and validates (issue 2, "Deployment").

No Docker engine runs here: `docker-compose config` (Debian's docker-compose 1.29, which needs no
engine) checks the file against the compose schema, interpolates the environment and prints the
resolved file, which these tests read. The files the compose file points at (Dockerfiles, the
scripts baked into the images) are checked for the parts the stack relies on.

Without the `docker-compose` binary the tests skip, unless MAILADMIN_REQUIRE_COMPOSE=1 (CI),
where they fail.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKER_DIR = REPO / "docker"
INSTALL_HINT = "apt-get install --no-install-recommends docker-compose"

# What an operator must provide (environment or `.env`); test values, not secrets.
REQUIRED_ENV = {
    "SECRET_KEY": "compose-test-secret-key",
    "POSTGRES_PASSWORD": "compose-test-postgres-password",
    "MAIL_DB_PASSWORD": "compose-test-mail-password",
    "MAIL_HOSTNAME": "mail.example.org",
}

APP_SERVICES = {"web", "worker", "beat", "mailconfig"}
LONG_RUNNING = {"postgres", "redis", "web", "worker", "beat", "postfix", "dovecot", "mailhost"}
PUBLISHED = {
    "postfix": {25, 587, 465},
    "dovecot": {143, 993, 110, 995},
    "web": {8000},
}
APP_ENVIRONMENT = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "MAIL_HOSTNAME",
    "MAIL_DB_HOST",
    "MAIL_DB_NAME",
    "MAIL_DB_ROLE",
    "MAIL_DB_PASSWORD",
    "MAIL_VMAIL_ROOT",
    "MAIL_UID",
    "MAIL_GID",
}


def compose_binary() -> str:
    path = shutil.which("docker-compose")
    if path:
        return path
    message = f"the docker-compose binary is missing: {INSTALL_HINT}"
    if os.environ.get("MAILADMIN_REQUIRE_COMPOSE") == "1":
        pytest.fail(f"MAILADMIN_REQUIRE_COMPOSE=1 but {message}")
    pytest.skip(message)


def run_config(compose_file: Path, tmp_dir: Path, *, env=None, quiet=False):
    """`docker-compose config` on `compose_file`, resolved against the repository (so that a
    copy elsewhere resolves like the original), with a clean environment and an empty env file:
    the developer's own environment or `.env` must not change what is tested."""
    env_file = tmp_dir / "empty.env"
    env_file.write_text("")
    command = [
        compose_binary(),
        "--project-directory",
        str(REPO),
        "--env-file",
        str(env_file),
        "-f",
        str(compose_file),
        "config",
    ]
    if quiet:
        command.append("-q")
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    clean_env["HOME"] = str(tmp_dir)
    clean_env.update(REQUIRED_ENV if env is None else env)
    return subprocess.run(
        command, env=clean_env, capture_output=True, text=True, timeout=120, cwd=tmp_dir
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    result = run_config(COMPOSE_FILE, tmp_path_factory.mktemp("compose"))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def services(resolved):
    return resolved["services"]


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def health_test_text(service: dict) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else test


def mounts(service: dict) -> dict[str, tuple[str, str]]:
    """{target: (source, mode)} for the service's volumes, short or long syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            source, target = parts[0], parts[1]
            mode = parts[2] if len(parts) > 2 else "rw"
        else:
            source, target = volume.get("source"), volume["target"]
            mode = "ro" if volume.get("read_only") else "rw"
        found[target] = (source, mode)
    return found


def published_ports(service: dict) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(int(port["published"]))
        else:
            # "[host_ip:]published:target[/proto]"
            ports.add(int(str(port).split("/")[0].split(":")[-2]))
    return ports


def dockerfile_of(service: dict) -> Path:
    build = service["build"]
    return Path(build["context"]) / build.get("dockerfile", "Dockerfile")


# --- the file validates ---------------------------------------------------------------------


def test_config_validates(tmp_path):
    result = run_config(COMPOSE_FILE, tmp_path, quiet=True)
    assert result.returncode == 0, result.stderr


def test_services(services):
    assert set(services) == LONG_RUNNING | {"mailconfig"}


# --- images -----------------------------------------------------------------------------------


def test_app_services_share_one_image_built_from_app_dockerfile(services):
    for name in APP_SERVICES:
        assert dockerfile_of(services[name]) == DOCKER_DIR / "app.Dockerfile", name
        assert Path(services[name]["build"]["context"]) == REPO, name
    assert len({services[name]["image"] for name in APP_SERVICES}) == 1


def test_app_dockerfile():
    text = (DOCKER_DIR / "app.Dockerfile").read_text()
    from_lines = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert from_lines and all("python:3.11" in line and "bookworm" in line for line in from_lines)
    assert "pip install -c constraints.txt ." in text
    assert "collectstatic --noinput" in text
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}, "the app image must end as a non-root user"
    assert "ENV SECRET_KEY" not in text


@pytest.mark.parametrize(
    "service, dockerfile, packages",
    [
        ("postfix", "postfix.Dockerfile", ["postfix", "postfix-pgsql"]),
        (
            "dovecot",
            "dovecot.Dockerfile",
            ["dovecot-core", "dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd", "dovecot-pgsql"],
        ),
    ],
)
def test_mail_images_are_debian_12_with_debian_packages(services, service, dockerfile, packages):
    assert dockerfile_of(services[service]) == DOCKER_DIR / dockerfile
    text = (DOCKER_DIR / dockerfile).read_text()
    assert any(
        line.startswith("FROM debian:12") or line.startswith("FROM debian:bookworm")
        for line in text.splitlines()
    )
    words = text.replace("\\\n", " ").split()
    assert "apt-get" in words
    for package in packages:
        assert package in words, package


def test_every_dockerfile_and_script_the_stack_names_exists():
    names = ["app.Dockerfile", "postfix.Dockerfile", "dovecot.Dockerfile"]
    dockerfiles = "".join((DOCKER_DIR / name).read_text() for name in names)
    for script in [
        "mailconfig.sh",
        "web-healthcheck.py",
        "postfix-entrypoint.sh",
        "postfix-healthcheck.sh",
        "dovecot-entrypoint.sh",
        "dovecot-healthcheck.sh",
    ]:
        path = DOCKER_DIR / script
        assert path.is_file() and os.access(path, os.X_OK), f"{script} must exist, executable"
        assert script in dockerfiles, f"no Dockerfile installs {script}"


@pytest.mark.parametrize(
    "script",
    [
        "postfix-entrypoint.sh",
        "postfix-healthcheck.sh",
        "dovecot-entrypoint.sh",
        "dovecot-healthcheck.sh",
        "mailconfig.sh",
    ],
)
def test_shell_scripts_parse(script):
    shell = "sh" if script == "mailconfig.sh" else "bash"
    result = subprocess.run([shell, "-n", str(DOCKER_DIR / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- what runs ------------------------------------------------------------------------------


def test_commands(services):
    assert "gunicorn mailadmin.wsgi" in command_text(services["web"])
    assert "--bind=0.0.0.0:8000" in command_text(services["web"])
    assert command_text(services["worker"]).startswith("celery --app=mailadmin worker")
    assert command_text(services["beat"]).startswith("celery --app=mailadmin beat")
    assert command_text(services["mailconfig"]) == "mailadmin-mailconfig"
    job = (DOCKER_DIR / "mailconfig.sh").read_text()
    steps = ["manage.py migrate", "manage.py mailrole", "manage.py mailconfig --output"]
    positions = [job.index(step) for step in steps]
    assert positions == sorted(positions), "migrate, then mailrole, then mailconfig"
    assert '--output "$output"' in job and "output=${MAILCONFIG_OUTPUT:-/config}" in job


def test_mailconfig_is_a_one_shot_job(services):
    assert services["mailconfig"].get("restart", "no") == "no"
    assert "healthcheck" not in services["mailconfig"]


def test_long_running_services_restart_and_have_health_checks(services):
    for name in LONG_RUNNING:
        service = services[name]
        assert service.get("restart") == "unless-stopped", name
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} needs a health check"
        assert not service["healthcheck"].get("disable"), name


def test_health_checks_check_the_right_thing(services):
    assert "pg_isready -h 127.0.0.1" in health_test_text(services["postgres"])
    assert "redis-cli ping" in health_test_text(services["redis"])
    assert health_test_text(services["web"]) == "CMD mailadmin-web-healthcheck"
    web = (DOCKER_DIR / "web-healthcheck.py").read_text()
    assert "http.client" in web and '"127.0.0.1", port' in web
    worker = health_test_text(services["worker"])
    assert "celery --app=mailadmin inspect ping --destination=celery@$$HOSTNAME" in worker
    beat = health_test_text(services["beat"])
    assert "inspect ping --destination=celerybeat@$$HOSTNAME" in beat
    assert "--enable-remote-control" in command_text(services["beat"])
    assert health_test_text(services["postfix"]) == "CMD postfix-healthcheck"
    postfix = (DOCKER_DIR / "postfix-healthcheck.sh").read_text()
    assert '"$daemon_directory/master" -t' in postfix  # what `postfix status` tests, quietly
    assert health_test_text(services["dovecot"]) == "CMD dovecot-healthcheck"
    assert "doveadm service status" in (DOCKER_DIR / "dovecot-healthcheck.sh").read_text()


def test_start_up_order(services):
    def conditions(name):
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    for name in ["web", "worker", "beat"]:
        assert conditions(name) == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "mailconfig": "service_completed_successfully",
        }, name
    assert conditions("mailconfig") == {"postgres": "service_healthy"}
    assert conditions("dovecot") == {
        "postgres": "service_healthy",
        "mailconfig": "service_completed_successfully",
    }
    assert conditions("postfix") == {
        "postgres": "service_healthy",
        "mailconfig": "service_completed_successfully",
        "dovecot": "service_healthy",
    }
    # Waiting for health only works on a service that has a health check.
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health"


# --- volumes, ports, environment ------------------------------------------------------------


def test_shared_volumes(resolved, services):
    declared = set(resolved["volumes"])
    assert {"vmail", "mail-config", "mail-tls", "pg-data", "postfix-spool"} <= declared
    # Maildirs: served by Dovecot, created and renamed by the worker, as the same uid/gid.
    assert mounts(services["dovecot"])["/var/vmail"] == ("vmail", "rw")
    assert mounts(services["worker"])["/var/vmail"] == ("vmail", "rw")
    assert services["worker"]["user"] == "5000:5000"
    # The generated configuration: written by mailconfig, read by the mail servers.
    assert mounts(services["mailconfig"])["/config"] == ("mail-config", "rw")
    assert mounts(services["postfix"])["/config"] == ("mail-config", "ro")
    assert mounts(services["dovecot"])["/config"] == ("mail-config", "ro")
    assert mounts(services["mailconfig"])["/etc/mail-tls"] == ("mail-tls", "rw")
    assert mounts(services["postfix"])["/etc/mail-tls"] == ("mail-tls", "ro")
    assert mounts(services["dovecot"])["/etc/mail-tls"] == ("mail-tls", "ro")
    assert mounts(services["postgres"])["/var/lib/postgresql/data"] == ("pg-data", "rw")
    assert mounts(services["postfix"])["/var/spool/postfix"] == ("postfix-spool", "rw")


def test_published_ports(services):
    for name, service in services.items():
        assert published_ports(service) == PUBLISHED.get(name, set()), name


def test_app_environment(services):
    for name in APP_SERVICES:
        env = services[name]["environment"]
        missing = APP_ENVIRONMENT - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["MAIL_VMAIL_ROOT"] == "/var/vmail"
        assert env["SECRET_KEY"] == REQUIRED_ENV["SECRET_KEY"], "the key comes from outside"
        assert env["MAIL_DB_PASSWORD"] == REQUIRED_ENV["MAIL_DB_PASSWORD"]
        assert env["MAIL_HOSTNAME"] == REQUIRED_ENV["MAIL_HOSTNAME"]
        assert env["DATABASE_URL"] == (
            f"postgres://mailadmin:{REQUIRED_ENV['POSTGRES_PASSWORD']}@postgres:5432/mailadmin"
        )
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["MAIL_DB_HOST"] == "postgres"
        assert (env["MAIL_UID"], env["MAIL_GID"]) == ("5000", "5000")
        # Postfix and Dovecot are separate containers: LMTP and SASL go over the network.
        assert env["MAIL_DOVECOT_HOST"] == "dovecot"


def test_no_secret_is_baked_into_the_file():
    text = COMPOSE_FILE.read_text()
    for name in ["SECRET_KEY", "POSTGRES_PASSWORD", "MAIL_DB_PASSWORD"]:
        for line in text.splitlines():
            if line.strip().startswith(f"{name}:"):
                assert f"${{{name}:?" in line, line


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_refuses_to_resolve_without_required_setting(tmp_path, missing):
    env = {k: v for k, v in REQUIRED_ENV.items() if k != missing}
    result = run_config(COMPOSE_FILE, tmp_path, env=env, quiet=True)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def test_custom_settings_flow_through(tmp_path):
    env = dict(REQUIRED_ENV, MAIL_UID="6000", MAIL_GID="6001", WEB_BIND_ADDRESS="0.0.0.0")
    result = run_config(COMPOSE_FILE, tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["worker"]["user"] == "6000:6001"
    assert services["dovecot"]["build"]["args"] == {"MAIL_UID": "6000", "MAIL_GID": "6001"}
    assert services["web"]["environment"]["MAIL_UID"] == "6000"
    assert "0.0.0.0:8000:8000" in str(services["web"]["ports"])


# --- the check can fail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "breakage, old, new, message",
    [
        ("control: an unmodified copy", "", "", None),
        (
            "an unknown depends_on condition",
            "condition: service_completed_successfully",
            "condition: service_finished",
            "service_finished",
        ),
        ("a misspelt health check key", "      retries: 3", "      retrys: 3", "retrys"),
        ("an undeclared named volume", "\n  vmail:\n", "\n", "vmail"),
        ("invalid YAML", "services:", "services: [", "line"),
    ],
)
def test_a_broken_copy_fails(tmp_path, breakage, old, new, message):
    text = COMPOSE_FILE.read_text()
    if old:
        assert old in text, f"the test's breakage no longer applies: {breakage}"
        text = text.replace(old, new)
    copy = tmp_path / "docker-compose.yml"
    copy.write_text(text)
    result = run_config(copy, tmp_path, quiet=True)
    if message is None:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0, breakage
        assert message in result.stderr, result.stderr


def test_the_mailhost_worker_sees_what_postfix_and_dovecot_see(services):
    """Issue 9: the worker that reloads and moves Maildirs runs where it reaches Postfix's queue
    and Dovecot: their volumes and one process namespace (so reloads reach the masters)."""
    host = services["mailhost"]
    assert services["postfix"]["pid"] == "service:dovecot"
    assert host["pid"] == "service:dovecot"
    shared = {
        "/etc/postfix": "postfix",
        "/var/spool/postfix": "postfix",
        "/etc/dovecot": "dovecot",
        "/run/dovecot": "dovecot",
        "/var/vmail": "dovecot",
    }
    for target, server in shared.items():
        assert mounts(host)[target] == mounts(services[server])[target], target
    env = host["environment"]
    assert env["MAILHOST_POSTFIX_DIR"] == "/etc/postfix"
    assert env["MAILHOST_DOVECOT_CONF"] == "/etc/dovecot/dovecot.conf"
    assert env["MAILHOST_NAME"] == "mail1"
    for dep in ("postfix", "dovecot", "redis", "postgres"):
        assert host["depends_on"][dep]["condition"] == "service_healthy"
    dockerfile = dockerfile_of(host).read_text()
    assert "--queues=host.${MAILHOST_NAME},mailhost,broadcast" in dockerfile
    assert "postfix postfix-pgsql dovecot-core" in dockerfile
