"""Panel logins are throttled by django-axes: per account name and per source address, the same
answer whether the account exists, and longer lockouts the longer the guessing goes on."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from accounts.models import User
from accounts.throttling import cool_off

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-1"


@pytest.fixture
def user(db):
    return User.objects.create_user(username="alice", password=PASSWORD, role="superadmin")


def login(username: str, password: str, ip: str = "192.0.2.10"):
    return Client(REMOTE_ADDR=ip).post("/login/", {"username": username, "password": password})


def test_forty_wrong_passwords_then_the_right_one_is_refused(user, settings):
    """Issue 7, finding 9: 40 wrong passwords, then the right one logged in."""
    browser = Client(REMOTE_ADDR="192.0.2.10")
    for _ in range(40):
        wrong = browser.post("/login/", {"username": "alice", "password": "wrong-password"})
        assert wrong.status_code in (200, 429)
    response = browser.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in browser.session
    assert "Too many login attempts" in response.content.decode()
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_below_the_limit_the_right_password_works(user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login("alice", "wrong-password").status_code == 200
    assert login("alice", PASSWORD).status_code == 302


def test_the_account_is_locked_from_every_address(user, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        login("alice", "wrong-password", ip=f"198.51.100.{i + 1}")
    assert login("alice", PASSWORD, ip="203.0.113.7").status_code == 429


def test_an_address_is_locked_for_every_account(user, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        login(f"guess{i}", "wrong-password", ip="198.51.100.9")
    assert login("alice", PASSWORD, ip="198.51.100.9").status_code == 429
    assert login("alice", PASSWORD, ip="198.51.100.10").status_code == 302


def test_the_name_is_counted_in_any_case(user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login("ALICE", "wrong-password", ip="198.51.100.20")
    assert login("alice", PASSWORD, ip="198.51.100.21").status_code == 429


def test_same_answer_whether_the_account_exists(user, settings):
    answers = {}
    for name in ("alice", "nobody-by-this-name"):
        before = [login(name, "wrong-password", ip="192.0.2.50") for _ in range(2)]
        answers[name] = [
            (r.status_code, r.content.count(b"Please enter a correct")) for r in before
        ]
    assert answers["alice"] == answers["nobody-by-this-name"]
    locked = {}
    for name, ip in (("alice", "192.0.2.60"), ("nobody-by-this-name", "192.0.2.61")):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            login(name, "wrong-password", ip=ip)
        response = login(name, "anything", ip=ip)
        # The page carries a CSRF token (the language form, htmx): different per client anyway.
        body = re.sub(rb'"X-CSRFToken": "[^"]+"', b"TOKEN", response.content)
        body = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"TOKEN", body)
        locked[name] = (response.status_code, body.replace(name.encode(), b"NAME"))
    assert locked["alice"] == locked["nobody-by-this-name"]
    assert locked["alice"][0] == 429


def test_lockouts_escalate(user, settings):
    settings.MAILADMIN_LOGIN_COOLOFF_SECONDS = 300
    limit = settings.AXES_FAILURE_LIMIT
    request = RequestFactory().post("/login/", {"username": "alice"})
    request.axes_ip_address = "192.0.2.70"
    seen = []
    for _ in range(4):
        for _ in range(limit):
            login("alice", "wrong-password", ip="192.0.2.70")
        seen.append(cool_off(request))
    assert seen == [timedelta(seconds=300 * 2**n) for n in range(4)]
    settings.MAILADMIN_LOGIN_COOLOFF_MAX_SECONDS = 1000
    assert cool_off(request) == timedelta(seconds=1000)


def test_every_authenticate_call_goes_through_axes(user, settings):
    """A login of another kind (the mailbox-owner login) is covered when it calls
    authenticate(request, username=..., password=...): the lockout holds there too."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        request = RequestFactory().post("/mailbox-login/", REMOTE_ADDR="192.0.2.80")
        assert authenticate(request, username="alice", password="wrong") is None
    request = RequestFactory().post("/mailbox-login/", REMOTE_ADDR="192.0.2.81")
    assert authenticate(request, username="alice", password=PASSWORD) is None
    assert login("alice", PASSWORD, ip="192.0.2.82").status_code == 429
