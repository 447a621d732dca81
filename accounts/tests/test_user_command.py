"""`manage.py user`: the shell's face on the same services (policy, reach, audit)."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts import services
from accounts.models import User
from audit.models import AuditEvent
from domains.tests.helpers import make_domain

pytestmark = pytest.mark.django_db
STRONG = "a long enough password 7"


def run(*args, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("user", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_a_generated_password_once(db):
    pool = services.reseller_create(actor=None, name="Acme Hosting")
    out, err = run("create", "acme", "--role", "reseller", "--reseller", "acme hosting")
    password = out.strip()
    user = User.objects.get(username="acme")
    assert user.reseller == pool and user.check_password(password)
    assert "shown only now" in err and password not in err
    assert AuditEvent.objects.filter(action="user.create", object_id=str(user.pk)).exists()


def test_password_from_stdin_domains_and_deactivate(monkeypatch):
    pool = services.reseller_create(actor=None, name="Pool")
    make_domain("one.example", reseller=pool)
    make_domain("two.example", reseller=pool)
    out, _ = run(
        "create", "ana", "--role", "domainadmin", "--reseller", "Pool", "--domains",
        "one.example", "--password-stdin", stdin=STRONG + "\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert STRONG not in out
    ana = User.objects.get(username="ana")
    assert ana.check_password(STRONG)
    run("domains", "ana", "one.example,two.example")
    assert {d.name for d in ana.managed_domains.all()} == {"one.example", "two.example"}
    run("deactivate", "ana")
    assert not User.objects.get(pk=ana.pk).is_active
    listing, _ = run("list", "--reseller", "Pool")
    assert listing.splitlines() == ["ana\tdomainadmin\tPool\tinactive\tone.example,two.example"]
    out, _ = run("set-password", "ana")
    assert User.objects.get(pk=ana.pk).check_password(out.strip())


@pytest.mark.parametrize(
    "args",
    [
        ("create", "x", "--role", "reseller"),  # a reseller login needs its reseller
        ("create", "x", "--role", "domainadmin", "--domains", "missing.example"),
        ("create", "x", "--role", "reseller", "--reseller", "Nobody"),
        ("set-password", "ghost"),
    ],
)
def test_errors_are_command_errors_and_write_nothing(db, args):
    with pytest.raises(CommandError):
        run(*args)
    assert not User.objects.exists()


def test_a_weak_password_from_stdin_is_refused(monkeypatch, db):
    with pytest.raises(CommandError, match="password"):
        run(
            "create", "x", "--role", "superadmin", "--password-stdin",
            stdin="12345678\n", monkeypatch=monkeypatch,
        )  # fmt: skip
    assert not User.objects.exists()
