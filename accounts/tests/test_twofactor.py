"""Two-factor login for panel users (accounts.twofactor, panel/views/account.py): enrolment with
a QR code and recovery codes, the code step after the password, recovery codes used once, wrong
codes refused and throttled, and the superadmin's per-role requirement."""

import re
import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.models import TwoFactorPolicy, User
from audit.models import AuditEvent
from panel.tests.helpers import field_errors, text

pytestmark = pytest.mark.django_db

PASSWORD = "Quartz-Lantern-Meadow-7"


@pytest.fixture(autouse=True)
def no_throttle_by_default(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.fixture
def admin(db):
    return User.objects.create_user(
        username="root", password=PASSWORD, role="superadmin", is_superuser=True
    )


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(client: Client, user: User) -> tuple[TOTPDevice, list[str]]:
    import base64

    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    body = text(page)
    # The QR code is drawn on the server: an inline SVG, no script of its own.
    svg = body[body.index("<svg") : body.index("</svg>")]
    assert "<script" not in svg and " style=" not in svg and "<path" in svg
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', body).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert base64.b32decode(secret) == device.bin_key
    done = client.post("/account/two-factor/", {"code": code_for(device)})
    assert done.status_code == 200 and done["Cache-Control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", text(done))
    assert len(codes) == twofactor.RECOVERY_CODES
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def password_step(username="root", password=PASSWORD) -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302 and response["Location"] == "/login/code/", response
    return client


def logged_in(client: Client) -> bool:
    return client.get("/domains/").status_code == 200


def test_enrolment_then_login_with_a_code(admin):
    client = Client()
    client.force_login(admin)
    device, codes = enrol(client, admin)
    assert AuditEvent.objects.filter(action="user.2fa_enable").count() == 1
    # Recovery codes are not stored as typed.
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert stored and not stored & {c.replace("-", "") for c in codes}

    # The password alone no longer logs in.
    client = password_step()
    assert not logged_in(client)
    assert client.get("/domains/")["Location"].startswith("/login/")
    response = client.post("/login/code/", {"code": code_for(device, 1)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in(client)


def test_wrong_or_missing_code_is_refused(admin):
    client = Client()
    client.force_login(admin)
    device, _codes = enrol(client, admin)
    client = password_step()
    response = client.post("/login/code/", {"code": ""})
    assert response.status_code == 200 and not logged_in(client)
    wrong = f"{(int(code_for(device, 1)) + 1) % 10**6:06d}"
    response = client.post("/login/code/", {"code": wrong})
    assert response.status_code == 200 and field_errors(text(response), "code")
    assert not logged_in(client)
    # Without the password step there is nothing to finish.
    assert Client().post("/login/code/", {"code": code_for(device, 1)})["Location"] == "/login/"


def test_a_recovery_code_logs_in_once(admin):
    client = Client()
    client.force_login(admin)
    _device, codes = enrol(client, admin)
    client = password_step()
    response = client.post("/login/code/", {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302 and logged_in(client)
    assert twofactor.recovery_codes_left(admin) == twofactor.RECOVERY_CODES - 1
    # The same code again: refused.
    client = password_step()
    assert client.post("/login/code/", {"code": codes[0]}).status_code == 200
    assert not logged_in(client)
    assert AuditEvent.objects.filter(action="user.2fa_recovery_code_used").count() == 1


def test_wrong_codes_are_throttled_and_end_the_attempt(admin, settings):
    client = Client()
    client.force_login(admin)
    device, _codes = enrol(client, admin)
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600  # after a failure, the next try waits an hour
    client = password_step()
    wrong = f"{(int(code_for(device, 1)) + 1) % 10**6:06d}"
    client.post("/login/code/", {"code": wrong})
    # Even the right code is refused while the device is throttled.
    assert client.post("/login/code/", {"code": code_for(device, 1)}).status_code == 200
    assert not logged_in(client)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # the throttled try did not count as a guess

    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    client = password_step()
    for _ in range(settings.MAILADMIN_2FA_MAX_TRIES - 1):
        assert client.post("/login/code/", {"code": wrong}).status_code == 200
    # The last allowed wrong code sends the user back to the password.
    assert client.post("/login/code/", {"code": wrong})["Location"] == "/login/"
    assert client.post("/login/code/", {"code": code_for(device, 1)})["Location"] == "/login/"
    assert not logged_in(client)


def test_a_required_role_without_a_device_can_only_enrol(admin):
    reseller_user = User.objects.create_user(username="res", password=PASSWORD, role="domainadmin")
    superadmin = Client()
    superadmin.force_login(admin)
    page = superadmin.post("/security/two-factor/", {"require_domain_admin": "on"}, follow=False)
    assert page.status_code == 302
    assert TwoFactorPolicy.load().require_domain_admin
    assert AuditEvent.objects.filter(action="twofactor_policy.update").exists()

    client = Client()
    response = client.post("/login/", {"username": "res", "password": PASSWORD})
    assert response.status_code == 302
    for path in ("/", "/domains/", "/audit/", "/account/api-keys/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/account/two-factor/"
    api = client.get("/api/v1/domains/")
    assert api.status_code == 403 and "two-factor" in api.json()["detail"]
    assert client.get("/account/two-factor/").status_code == 200
    enrol(client, reseller_user)
    assert logged_in(client)
    # Required: it cannot be turned off by the user.
    client.post("/account/two-factor/disable/")
    assert twofactor.has_two_factor(reseller_user)
    # The superadmins are not required (not ticked) and are not sent anywhere.
    assert superadmin.get("/domains/").status_code == 200


def test_only_superadmins_set_the_rule(admin):
    other = User.objects.create_user(username="res", password=PASSWORD, role="domainadmin")
    client = Client()
    client.force_login(other)
    assert client.post("/security/two-factor/", {"require_superadmin": "on"}).status_code == 404
    assert not TwoFactorPolicy.load().require_superadmin


def test_api_keys_are_unaffected(admin):
    TwoFactorPolicy.objects.update_or_create(pk=1, defaults={"require_superadmin": True})
    from api.services import api_key_create

    _key, full = api_key_create(actor=admin, user=admin, name="ci")
    response = Client().get("/api/v1/domains/", HTTP_AUTHORIZATION=f"Bearer {full}")
    assert response.status_code == 200


def test_the_operator_resets_a_lost_device(admin):
    from django.core.management import call_command

    client = Client()
    client.force_login(admin)
    enrol(client, admin)
    call_command("twofactor_reset", "ROOT")
    assert not twofactor.has_two_factor(admin)
    response = Client().post("/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(action="user.2fa_disable").exists()
