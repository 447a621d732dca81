"""Mailbox owners in the web panel.

A mailbox owner logs in with the mailbox address and its mail password (the `password` column
Dovecot checks, never an application password). They are not panel users: no `User` row, no role,
no Django login. `authenticate(request, address=..., password=...)` runs the configured backends,
so login throttling hooked into Django's authentication (failed-login signal, a throttling
backend) covers this form like the admin one; the session then holds the mailbox id and a
fingerprint of its password hash, so changing the password anywhere else ends the session.
Admin views look at `request.user`, which stays anonymous for an owner: nothing of theirs opens.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare, salted_hmac

from audit.origin import Origin
from domains import services
from domains.models import Mailbox
from domains.normalize import normalize_address
from domains.passwords import hash_password, needs_rehash, verify_password

SESSION_KEY = "panel_mailbox_owner"
_dummy_hash: list[str] = []


class MailboxOwner:
    """The signed-in owner of one mailbox. Holds no rights over anything but that mailbox."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superadmin = False
    is_reseller = False
    is_domain_admin = False

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox
        self.pk = mailbox.pk

    def get_username(self) -> str:
        return self.mailbox.address

    def __str__(self) -> str:
        return self.mailbox.address


def _origin(request) -> Origin | None:
    if request is None:
        return None
    return Origin.web(
        source_ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def _may_log_in(mailbox: Mailbox) -> bool:
    domain = mailbox.domain
    return mailbox.active and domain.active and domain.verified_at is not None


class MailboxBackend:
    """Answers only `authenticate(request, address=..., password=...)`; the admin login form
    passes `username`, so it never reaches mailboxes, and ModelBackend never sees an address
    keyword it would understand."""

    def authenticate(self, request, address=None, password=None):
        if address is None or password is None:
            return None
        try:
            address = normalize_address(address)
        except ValidationError:
            address = None
        mailbox = (
            Mailbox.objects.select_related("domain").filter(address=address).first()
            if address
            else None
        )
        if mailbox is None:
            # Same work as for a real mailbox, so timing does not tell which addresses exist.
            if not _dummy_hash:
                _dummy_hash.append(hash_password("not a password of anyone"))
            verify_password(password, _dummy_hash[0])
            return None
        if not verify_password(password, mailbox.password) or not _may_log_in(mailbox):
            return None
        if needs_rehash(mailbox.password):
            # An imported or older hash moves to the configured scheme and cost. The session
            # fingerprint is taken after this (log_in_owner), so the login survives its own
            # rehash; Dovecot reads the new hash from mail_passdb at commit.
            mailbox = services.mailbox_rehash_password(
                mailbox=mailbox, password=password, origin=_origin(request)
            )
        return MailboxOwner(mailbox)

    def get_user(self, user_id):
        return None  # owners never hold a Django login session


def _fingerprint(mailbox: Mailbox) -> str:
    return salted_hmac("panel.auth.mailbox-owner", mailbox.password).hexdigest()


def log_in_owner(request: HttpRequest, address: str, password: str) -> MailboxOwner | None:
    owner = authenticate(request, address=address, password=password)
    if not isinstance(owner, MailboxOwner):
        return None
    request.session.flush()  # a new session: no admin login and no old id survives
    request.session[SESSION_KEY] = {"id": owner.pk, "hash": _fingerprint(owner.mailbox)}
    return owner


def remember_password_change(request: HttpRequest, mailbox: Mailbox) -> None:
    """The owner changed its own password: keep this session, end no other."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"id": mailbox.pk, "hash": _fingerprint(mailbox)}


def log_out_owner(request: HttpRequest) -> None:
    request.session.flush()


def current_owner(request: HttpRequest) -> MailboxOwner | None:
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    mailbox = (
        Mailbox.objects.select_related("domain", "quota_usage").filter(pk=data.get("id")).first()
    )
    if mailbox is None or not _may_log_in(mailbox):
        return None
    if not constant_time_compare(data.get("hash", ""), _fingerprint(mailbox)):
        return None
    return MailboxOwner(mailbox)


def owner_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        owner = current_owner(request)
        if owner is None:
            return redirect("owner_login")
        request.owner = owner
        return view(request, *args, **kwargs)

    return wrapped
