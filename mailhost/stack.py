"""A real Postfix + Dovecot pair in one private directory, on loopback, against the panel's
database: `manage.py mailstack up|status|down --root DIR` and the end-to-end tests.

The configuration comes from the same generator as `manage.py mailconfig` (mailhost.mailconfig);
only paths, ports and a few timings differ. Everything lives under ROOT:

    ROOT/postfix/      config_directory (main.cf, master.cf, pgsql/*.cf)
    ROOT/dovecot/      dovecot.conf and its SQL files
    ROOT/spool/        Postfix queue_directory      ROOT/data/  Postfix data_directory
    ROOT/run/          Dovecot base_dir             ROOT/state/ Dovecot state_dir
    ROOT/vmail/        the Maildirs                 ROOT/log/   postfix.log, dovecot.log
    ROOT/tls/          self-signed certificate (with --tls)
    ROOT/stack.json    ports and settings of this instance
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mailhost import mailconfig

INSTALL_COMMAND = "scripts/install-mailstack"
BINARIES = ("postfix", "postconf", "postmap", "postqueue", "postsuper", "dovecot", "doveadm")
SBIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
DOVECOT_MODULES = (
    "/usr/lib/dovecot/lmtp",
    "/usr/lib/dovecot/imap",
    "/usr/lib/dovecot/pop3",
    "/usr/lib/dovecot/modules/auth/libdriver_pgsql.so",
)
DOVECOT_PGSQL_CANDIDATES = (
    "/usr/lib/dovecot/modules/libdriver_pgsql.so",
    "/usr/lib/dovecot/modules/auth/libdriver_pgsql.so",
    "/usr/lib/dovecot/modules/dict/libdriver_pgsql.so",
)
PORT_NAMES = ("smtp", "submission", "smtps", "imap", "pop3", "lmtp", "auth")
STATE_FILE = "stack.json"


class MailstackError(RuntimeError):
    pass


class MailstackUnavailable(MailstackError):
    """The Debian packages are missing: the message names the install command."""


# --- binaries --------------------------------------------------------------------------------


def which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def missing() -> list[str]:
    """What is missing to run the stack here (empty list = everything is installed)."""
    lacking = [name for name in BINARIES if which(name) is None]
    for path in ("/usr/lib/dovecot/lmtp", "/usr/lib/dovecot/imap", "/usr/lib/dovecot/pop3"):
        if not os.path.exists(path):
            lacking.append(path)
    if not any(os.path.exists(p) for p in DOVECOT_PGSQL_CANDIDATES):
        lacking.append("dovecot-pgsql")
    if which("postfix") and not _postfix_has_pgsql():
        lacking.append("postfix-pgsql")
    return lacking


def _postfix_has_pgsql() -> bool:
    """postfix-pgsql registers itself in dynamicmaps.cf(.d) (`postconf -m` needs a main.cf)."""
    meta = Path("/etc/postfix")
    candidates = [meta / "dynamicmaps.cf", *sorted(meta.glob("dynamicmaps.cf.d/*"))]
    for path in candidates:
        try:
            if any(line.split()[:1] == ["pgsql"] for line in path.read_text().splitlines()):
                return True
        except OSError:
            continue
    return False


def require_binaries() -> None:
    lacking = missing()
    if lacking:
        raise MailstackUnavailable(
            "Postfix/Dovecot are not installed (missing: "
            + ", ".join(lacking)
            + f"). Install them with: {INSTALL_COMMAND}"
        )


def _bin(name: str) -> str:
    path = which(name)
    if path is None:
        raise MailstackUnavailable(f"{name} not found. Install with: {INSTALL_COMMAND}")
    return path


# --- helpers ---------------------------------------------------------------------------------


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_for(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise MailstackError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def banner(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> str:
    """The first line a server sends on connect."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1").strip()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody reaped (no init in a container) is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def make_self_signed_cert(tls_dir: Path, hostname: str) -> tuple[Path, Path]:
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    if not (cert.exists() and key.exists()):
        openssl = which("openssl")
        if openssl is None:
            raise MailstackUnavailable("openssl is needed for --tls (apt-get install openssl)")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
             "-subj", f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname}",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        os.chmod(key, 0o600)
    return cert, key


# --- the stack -------------------------------------------------------------------------------


@dataclass
class Stack:
    root: Path
    ports: dict[str, int]
    cfg: mailconfig.MailConfig

    # paths
    @property
    def postfix_dir(self) -> Path:
        return self.root / "postfix"

    @property
    def dovecot_conf(self) -> Path:
        return self.root / "dovecot" / "dovecot.conf"

    @property
    def vmail(self) -> Path:
        return self.root / "vmail"

    @property
    def postfix_log(self) -> Path:
        return self.root / "log" / "postfix.log"

    @property
    def dovecot_log(self) -> Path:
        return self.root / "log" / "dovecot.log"

    def map_file(self, name: str) -> Path:
        return self.postfix_dir / "pgsql" / f"{name}.cf"

    def info(self, **extra) -> dict:
        return {
            "root": str(self.root),
            "ports": {k: v for k, v in self.ports.items()},
            "host": "127.0.0.1",
            "tls": self.cfg.tls,
            "database": {
                "host": self.cfg.db_host,
                "port": self.cfg.db_port,
                "name": self.cfg.db_name,
                "role": self.cfg.db_role,
            },
            "paths": {
                "postfix_config": str(self.postfix_dir),
                "postfix_queue": self.cfg.postfix_queue_dir,
                "postfix_log": str(self.postfix_log),
                "dovecot_config": str(self.dovecot_conf),
                "dovecot_log": str(self.dovecot_log),
                "vmail": str(self.vmail),
                "tls_cert": self.cfg.tls_cert,
            },
            "commands": {
                "postmap": f"postmap -c {self.postfix_dir} -q KEY pgsql:{self.map_file('MAP')}",
                "doveadm": f"doveadm -c {self.dovecot_conf} auth test USER PASSWORD",
                "queue": f"postqueue -c {self.postfix_dir} -j",
                "stop": f"python manage.py mailstack down --root {self.root}",
            },
            **extra,
        }

    # tools
    def run(
        self, *argv: str, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def postmap(self, name: str, key: str) -> subprocess.CompletedProcess:
        """`postmap -q KEY pgsql:FILE` straight against the database (rc 1 = not found or error:
        check stderr)."""
        return self.run(
            _bin("postmap"), "-c", str(self.postfix_dir), "-q", key, f"pgsql:{self.map_file(name)}"
        )

    def doveadm(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self.run(_bin("doveadm"), "-c", str(self.dovecot_conf), *args, timeout=timeout)

    def auth_test(self, user: str, password: str, service: str = "imap"):
        return self.doveadm("auth", "test", "-x", f"service={service}", user, password)

    def queue(self) -> list[dict]:
        out = self.run(_bin("postqueue"), "-c", str(self.postfix_dir), "-j", check=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def flush(self) -> None:
        self.run(_bin("postqueue"), "-c", str(self.postfix_dir), "-f", check=True)

    def purge_queue(self) -> None:
        self.run(_bin("postsuper"), "-c", str(self.postfix_dir), "-d", "ALL", check=True)

    def maildir(self, address: str) -> Path:
        local, domain = address.lower().rsplit("@", 1)
        return self.vmail / domain / local

    def messages(self, address: str) -> list[Path]:
        md = self.maildir(address)
        return sorted((md / "new").glob("*")) + sorted((md / "cur").glob("*"))

    # state
    def postfix_running(self) -> bool:
        pid = _read_pid(Path(self.cfg.postfix_queue_dir) / "pid" / "master.pid")
        return bool(pid and _pid_alive(pid))

    def dovecot_pid(self) -> int | None:
        pid = _read_pid(Path(self.cfg.dovecot_base_dir) / "master.pid")
        return pid if pid and _pid_alive(pid) else None

    def answering(self) -> dict[str, bool]:
        result = {}
        for name, expect in (("smtp", "220"), ("imap", "* OK"), ("pop3", "+OK"), ("lmtp", "220")):
            try:
                result[name] = banner(self.ports[name], timeout=1.0).startswith(expect)
            except OSError:
                result[name] = False
        return result

    def save(self) -> None:
        state = {"ports": self.ports, "cfg": dataclasses.asdict(self.cfg)}
        path = self.root / STATE_FILE
        path.write_text(json.dumps(state, indent=2))
        os.chmod(path, 0o600)  # holds the database password

    @classmethod
    def load(cls, root: str | os.PathLike) -> Stack | None:
        root = Path(root).resolve()
        try:
            state = json.loads((root / STATE_FILE).read_text())
        except (OSError, ValueError):
            return None
        return cls(root=root, ports=state["ports"], cfg=mailconfig.MailConfig(**state["cfg"]))


def _instance_name(root: Path) -> str:
    return "mailstack-" + hashlib.sha1(str(root).encode()).hexdigest()[:10]


def build_config(root: Path, ports: dict[str, int], **db) -> mailconfig.MailConfig:
    """The generator's production defaults, with this instance's paths and ports."""
    overrides = dict(
        listen_address="127.0.0.1",
        smtp_port=ports["smtp"],
        submission_port=ports["submission"],
        smtps_port=ports["smtps"],
        imap_port=ports["imap"],
        pop3_port=ports["pop3"],
        imaps_port=0,  # IMAP/POP3 on loopback: STARTTLS only
        pop3s_port=0,
        dovecot_host="127.0.0.1",
        lmtp_port=ports["lmtp"],
        auth_port=ports["auth"],
        vmail_root=str(root / "vmail"),
        postfix_config_dir=str(root / "postfix"),
        postfix_queue_dir=str(root / "spool"),
        postfix_data_dir=str(root / "data"),
        postfix_log_file=str(root / "log" / "postfix.log"),
        dovecot_config_dir=str(root / "dovecot"),
        dovecot_base_dir=str(root / "run"),
        dovecot_state_dir=str(root / "state"),
        dovecot_log_file=str(root / "log" / "dovecot.log"),
        dovecot_instance_name=_instance_name(root),
        self_contained=True,
    )
    overrides.update({k: v for k, v in db.items() if v is not None})
    return mailconfig.MailConfig.from_settings(**overrides)


def ensure_vmail_account(uid: int, gid: int) -> tuple[str, str]:
    """The names of the mail uid/gid, creating a system `vmail` user and group when the ids have
    none (Dovecot names the owner of its quota dict socket)."""
    import grp
    import pwd

    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        subprocess.run(["groupadd", "--system", "--gid", str(gid), "vmail"], check=True)
        group = "vmail"
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--uid", str(uid), "--gid", str(gid), "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "vmail"],
            check=True,
        )  # fmt: skip
        user = "vmail"
    return user, group


def _check_traversable(root: Path) -> None:
    """Postfix, Dovecot's login processes and the mail uid run unprivileged: every directory
    above ROOT must let them through (pytest's 0700 temp dirs, or a 0700 home, do not)."""
    for parent in root.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise MailstackError(
                f"{parent} is not searchable by other users (mode {oct(mode & 0o777)}): the "
                "unprivileged mail daemons could not reach the stack under it; choose a --root "
                "elsewhere (e.g. under /tmp or /srv)"
            )


def _prepare_dirs(stack: Stack) -> None:
    root, cfg = stack.root, stack.cfg
    _check_traversable(root)
    for sub in ("postfix", "dovecot", "spool", "run", "state", "log", "vmail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    # Unprivileged daemons (postfix, dovenull, the mail uid) must traverse the root.
    os.chmod(root, 0o755)
    for sub in ("postfix", "dovecot", "spool", "run", "state", "log"):
        os.chmod(root / sub, 0o755)
    data = root / "data"
    data.mkdir(exist_ok=True)
    shutil.chown(data, user="postfix", group="postfix")
    os.chown(root / "vmail", cfg.uid, cfg.gid)
    os.chmod(root / "vmail", 0o770)


def up(
    root: str | os.PathLike,
    *,
    tls: bool = False,
    timeout: float = 30.0,
    hostname: str | None = None,
    db_host: str | None = None,
    db_port: int | None = None,
    db_name: str | None = None,
    db_role: str | None = None,
    db_password: str | None = None,
    dovecot_db_host: str | None = None,
    dovecot_db_port: int | None = None,
    config: dict | None = None,
) -> tuple[Stack, dict]:
    """Render, start and wait for Postfix and Dovecot under ROOT. Returns (stack, info). On a
    ROOT that is already up, starts nothing and reports it (info["already_running"]).
    `config` overrides further MailConfig fields (e.g. the benchmarks' production timings)."""
    require_binaries()
    if os.geteuid() != 0:
        raise MailstackError("mailstack must run as root: Postfix's master and Dovecot need it")
    root = Path(root).resolve()
    existing = Stack.load(root)
    if existing and (existing.postfix_running() or existing.dovecot_pid()):
        if existing.postfix_running() and existing.dovecot_pid():
            return existing, existing.info(running=True, already_running=True)
        down(root)  # half up: restart cleanly

    root.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
    db = dict(
        db_host=db_host,
        db_port=db_port,
        db_name=db_name,
        db_role=db_role,
        db_password=db_password,
        dovecot_db_host=dovecot_db_host,
        dovecot_db_port=dovecot_db_port,
        hostname=hostname,
    )
    if tls:
        cert, key = make_self_signed_cert(root / "tls", hostname or "localhost")
        db.update(tls_cert=str(cert), tls_key=str(key))
    else:
        db.update(tls_cert="", tls_key="")
    base = mailconfig.MailConfig.from_settings()
    db["vmail_user"], db["vmail_group"] = ensure_vmail_account(base.uid, base.gid)
    cfg = build_config(root, ports, **db, **(config or {}))
    stack = Stack(root=root, ports=ports, cfg=cfg)
    _prepare_dirs(stack)
    mailconfig.write(cfg, root)
    stack.save()
    for log in (stack.postfix_log, stack.dovecot_log):
        log.touch()

    try:
        _start_dovecot(stack, timeout)
        _start_postfix(stack, timeout)
    except Exception:
        down(root)
        raise
    db_check = stack.postmap("virtual_mailbox_domains", "mailstack-probe.invalid")
    return stack, stack.info(
        running=True,
        already_running=False,
        database_ok=db_check.stderr.strip() == "",
        database_error=db_check.stderr.strip(),
    )


def _start_dovecot(stack: Stack, timeout: float) -> None:
    # Dovecot keeps the caller's stderr: never a pipe, always a file (or it hangs).
    stderr_path = stack.root / "log" / "dovecot.stderr"
    with open(os.devnull, "rb") as devnull_in, open(os.devnull, "wb") as devnull_out:
        with open(stderr_path, "ab") as err:
            proc = subprocess.run(
                [_bin("dovecot"), "-c", str(stack.dovecot_conf)],
                stdin=devnull_in,
                stdout=devnull_out,
                stderr=err,
                timeout=timeout,
            )
    if proc.returncode != 0:
        raise MailstackError(
            f"dovecot failed to start (rc {proc.returncode}): {stderr_path.read_text()[-2000:]}"
            f"{_tail(stack.dovecot_log)}"
        )

    def ready():
        if not stack.dovecot_pid():
            raise MailstackError("dovecot exited" + _tail(stack.dovecot_log))
        return banner(stack.ports["imap"]).startswith("* OK") and banner(
            stack.ports["lmtp"]
        ).startswith("220")

    wait_for(ready, timeout=timeout, what="Dovecot (IMAP and LMTP)")


def _start_postfix(stack: Stack, timeout: float) -> None:
    proc = stack.run(_bin("postfix"), "-c", str(stack.postfix_dir), "start", timeout=timeout)
    if proc.returncode != 0:
        raise MailstackError(
            f"postfix failed to start (rc {proc.returncode}): {proc.stderr[-2000:]}"
            f"{_tail(stack.postfix_log)}"
        )
    wait_for(
        lambda: (
            banner(stack.ports["smtp"]).startswith("220")
            and banner(stack.ports["submission"]).startswith("220")
        ),
        timeout=timeout,
        what="Postfix (SMTP and submission)",
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n--- " + str(path) + " ---\n" + "\n".join(text)


def status(root: str | os.PathLike) -> dict:
    root = Path(root).resolve()
    stack = Stack.load(root)
    if stack is None:
        return {"root": str(root), "running": False, "postfix": False, "dovecot": False}
    postfix, dovecot = stack.postfix_running(), bool(stack.dovecot_pid())
    return stack.info(
        running=postfix and dovecot,
        postfix=postfix,
        dovecot=dovecot,
        answering=stack.answering() if (postfix or dovecot) else {},
    )


def down(root: str | os.PathLike, timeout: float = 30.0) -> dict:
    root = Path(root).resolve()
    stack = Stack.load(root)
    if stack is None:
        return {"root": str(root), "running": False, "stopped": []}
    stopped = []
    if stack.postfix_running():
        stack.run(_bin("postfix"), "-c", str(stack.postfix_dir), "stop", timeout=timeout)
        wait_for(lambda: not stack.postfix_running(), timeout=timeout, what="Postfix to stop")
        stopped.append("postfix")
    pid = stack.dovecot_pid()
    if pid:
        stack.run(_bin("doveadm"), "-c", str(stack.dovecot_conf), "stop", timeout=timeout)
        wait_for(lambda: not _pid_alive(pid), timeout=timeout, what="Dovecot to stop")
        stopped.append("dovecot")
    return {"root": str(root), "running": False, "stopped": stopped}
