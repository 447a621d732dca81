"""Small clients and data builders for the end-to-end mail tests."""

from __future__ import annotations

import functools
import imaplib
import poplib
import smtplib
import ssl
import uuid
from email.utils import formatdate, make_msgid

from mailhost.stack import wait_for

PASSWORD = "correct horse battery staple"


def unique_domain(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}.example"


@functools.cache
def password_hash(scheme: str = "ARGON2ID") -> str:
    from domains.passwords import hash_password

    return hash_password(PASSWORD, scheme)


def make_domain(name: str | None = None, **kwargs):
    from domains import services

    return services.domain_create(actor=None, name=name or unique_domain(), **kwargs)


def make_mailbox(address: str, *, scheme: str = "ARGON2ID", **kwargs):
    from domains import services

    return services.mailbox_create(
        actor=None, address=address, password_hash=password_hash(scheme), **kwargs
    )


def message(sender: str, recipients: list[str], body: str = "", *, size: int = 0) -> bytes:
    """A complete RFC 5322 message (Date, Message-ID, From, To present, so Postfix adds
    nothing but its Received: header), CRLF line ends."""
    token = uuid.uuid4().hex
    body = body or f"Hello from the mailstack test {token}.\r\nSecond line.\r\n"
    if not body.endswith("\r\n"):
        body += "\r\n"
    if size:
        line = ("x" * 76) + "\r\n"
        body += line * (size // len(line) + 1)
    headers = [
        f"From: <{sender}>",
        f"To: {', '.join(f'<{r}>' for r in recipients)}",
        f"Subject: mailstack {token}",
        f"Date: {formatdate()}",
        f"Message-ID: {make_msgid(domain='mailstack.test')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii")


def smtp(port: int, *, host: str = "127.0.0.1", timeout: float = 30) -> smtplib.SMTP:
    client = smtplib.SMTP(host, port, timeout=timeout)
    client.ehlo("client.mailstack.test")
    return client


def client_tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the stack's certificate is self-signed
    return ctx


def send(port: int, sender: str, recipients: list[str], data: bytes) -> dict:
    """Send over plain SMTP; returns smtplib's refused-recipients dict (raises on total
    refusal)."""
    with smtp(port) as client:
        return client.sendmail(sender, recipients, data)


def rcpt_reply(port: int, sender: str, recipient: str) -> tuple[int, str]:
    """The server's answer to RCPT TO (the session is reset, nothing is sent)."""
    with smtp(port) as client:
        code, msg = client.mail(sender)
        assert code == 250, (code, msg)
        code, msg = client.rcpt(recipient)
        client.rset()
        return code, msg.decode(errors="replace")


def wait_messages(stack, address: str, count: int = 1, timeout: float = 20):
    return wait_for(
        lambda: len(stack.messages(address)) >= count and stack.messages(address),
        timeout=timeout,
        what=f"{count} message(s) for {address}",
    )


def imap_fetch_all(port: int, user: str, password: str = PASSWORD) -> list[bytes]:
    client = imaplib.IMAP4("127.0.0.1", port)
    try:
        client.login(user, password)
        client.select("INBOX", readonly=True)
        _, data = client.search(None, "ALL")
        messages = []
        for num in data[0].split():
            _, parts = client.fetch(num, "(BODY.PEEK[])")
            messages.append(parts[0][1])
        return messages
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001
            pass


def pop3_retr_all(port: int, user: str, password: str = PASSWORD) -> list[bytes]:
    client = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        client.user(user)
        client.pass_(password)
        count, _ = client.stat()
        out = []
        for i in range(1, count + 1):
            _, lines, _ = client.retr(i)
            out.append(b"\r\n".join(lines) + b"\r\n")
        return out
    finally:
        client.quit()


def maildir_sizes(path) -> tuple[int, int]:
    """(S=, W=) of a Maildir file name: bytes on disk, and the CRLF size quotas count."""
    fields = dict(part.split("=", 1) for part in path.name.split(":")[0].split(",")[1:])
    return int(fields["S"]), int(fields["W"])


def log_lines(path, needle: str) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if needle in line]
