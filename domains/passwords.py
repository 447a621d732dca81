"""Mailbox password hashing in schemes Dovecot reads from the `{SCHEME}` prefix.

The panel hashes itself (no `doveadm pw` subprocess). New passwords use MAIL_PASSWORD_SCHEME
(default ARGON2ID); BLF-CRYPT and SHA512-CRYPT hashes are accepted from migrations and verified.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable

import argon2
import bcrypt
from django.conf import settings
from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from passlib.hash import sha512_crypt

SCHEMES = ("ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT")
MAX_PASSWORD_LENGTH = 1024


def _argon2_hasher() -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=settings.MAIL_ARGON2_TIME_COST,
        memory_cost=settings.MAIL_ARGON2_MEMORY_KIB,
        parallelism=settings.MAIL_ARGON2_PARALLELISM,
        type=argon2.Type.ID,
    )


def hash_password(plain: str, scheme: str | None = None) -> str:
    """Hash a plaintext password; the result carries its `{SCHEME}` prefix."""
    scheme = (scheme or settings.MAIL_PASSWORD_SCHEME).upper()
    if scheme == "ARGON2ID":
        body = _argon2_hasher().hash(plain)
    elif scheme == "BLF-CRYPT":
        salt = bcrypt.gensalt(rounds=settings.MAIL_BCRYPT_ROUNDS, prefix=b"2b")
        body = bcrypt.hashpw(plain.encode(), salt).decode("ascii")
    elif scheme == "SHA512-CRYPT":
        body = sha512_crypt.using(rounds=5000).hash(plain)
    else:
        raise ValueError(f"Unsupported password scheme {scheme!r}")
    return f"{{{scheme}}}{body}"


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash differs from what hash_password() makes now: another scheme, or
    the configured scheme at another cost."""
    scheme, body = split_scheme(stored)
    if scheme != settings.MAIL_PASSWORD_SCHEME.upper():
        return True
    try:
        if scheme == "ARGON2ID":
            return _argon2_hasher().check_needs_rehash(body)
        if scheme == "BLF-CRYPT":
            match = _BCRYPT_RE.match(body)
            return match is None or int(match.group(1)) != settings.MAIL_BCRYPT_ROUNDS
        if scheme == "SHA512-CRYPT":
            return _sha512_rounds(body) != 5000
    except (argon2.exceptions.InvalidHashError, ValueError):
        return True
    return True


def split_scheme(stored: str) -> tuple[str, str]:
    if not stored.startswith("{") or "}" not in stored:
        return "", stored
    scheme, _, body = stored[1:].partition("}")
    return scheme.upper(), body


def verify_password(plain: str, stored: str) -> bool:
    if not isinstance(plain, str):
        return False
    scheme, body = split_scheme(stored)
    try:
        if scheme == "ARGON2ID":
            return _argon2_hasher().verify(body, plain)
        if scheme == "BLF-CRYPT":
            return bcrypt.checkpw(plain.encode(), body.encode("ascii"))
        if scheme == "SHA512-CRYPT":
            return sha512_crypt.verify(plain, body)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError, ValueError):
        return False
    return False


def validate_password_hash(stored: str) -> str:
    """Check an imported `{SCHEME}hash` is one Dovecot and the panel both verify, at a cost below
    the ceiling: every login to that mailbox (and every wrong guess) pays the hash's cost inside
    Dovecot's single auth process, so a tenant's t=60 or cost-31 hash would stall everyone's
    logins."""
    scheme, body = split_scheme(stored.strip()) if isinstance(stored, str) else ("", "")
    valid = (
        (scheme == "ARGON2ID" and body.startswith("$argon2id$") and _argon2_parses(body))
        or (scheme == "BLF-CRYPT" and _BCRYPT_RE.match(body) is not None)
        or (scheme == "SHA512-CRYPT" and sha512_crypt.identify(body) and _sha512_parses(body))
    )
    if not valid:
        raise ValidationError(
            "Give a hash with its scheme prefix: {ARGON2ID}$argon2id$..., {BLF-CRYPT}$2b$... "
            "or {SHA512-CRYPT}$6$...",
            code="invalid_hash",
        )
    over = _over_ceiling(scheme, body)
    if over:
        raise ValidationError(
            f"This hash costs too much to verify ({over}); re-hash the password with a lower "
            "cost, or set it as plain text and let the server hash it.",
            code="hash_cost",
        )
    return f"{{{scheme}}}{body}"


_BCRYPT_RE = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")


def _over_ceiling(scheme: str, body: str) -> str | None:
    """The first cost parameter above its ceiling (settings.MAIL_IMPORT_*), or None."""
    if scheme == "ARGON2ID":
        params = argon2.extract_parameters(body)
        checks = [
            ("t", params.time_cost, settings.MAIL_IMPORT_ARGON2_MAX_TIME_COST),
            ("m", params.memory_cost, settings.MAIL_IMPORT_ARGON2_MAX_MEMORY_KIB),
            ("p", params.parallelism, settings.MAIL_IMPORT_ARGON2_MAX_PARALLELISM),
        ]
    elif scheme == "BLF-CRYPT":
        cost = int(_BCRYPT_RE.match(body).group(1))
        checks = [("cost", cost, settings.MAIL_IMPORT_BCRYPT_MAX_COST)]
    else:  # SHA512-CRYPT; no rounds= means glibc's default of 5000
        checks = [("rounds", _sha512_rounds(body), settings.MAIL_IMPORT_SHA512_MAX_ROUNDS)]
    for name, value, ceiling in checks:
        if value > ceiling:
            return f"{name}={value}, at most {ceiling} here"
    return None


def _sha512_rounds(body: str) -> int:
    match = re.match(r"^\$6\$rounds=(\d+)\$", body)
    return int(match.group(1)) if match else 5000


def _sha512_parses(body: str) -> bool:
    try:
        sha512_crypt.from_string(body)
    except ValueError:
        return False
    return True


@functools.cache
def _common_passwords() -> CommonPasswordValidator:
    # Django's offline list of 20,000 common (breached) passwords, read once per process.
    return CommonPasswordValidator()


def validate_plain_password(plain: str, *, names: Iterable[str] = ()) -> None:
    """The password policy for mailboxes and panel users (docs/security.md): at least
    MAIL_MIN_PASSWORD_LENGTH characters, at most 1024, no control characters, not one of the
    account's own names (address, local part, user name) nor containing one, and not on the
    common-password list shipped offline with Django. Imported hashes have no plaintext to check.
    """
    minimum = settings.MAIL_MIN_PASSWORD_LENGTH
    if not isinstance(plain, str) or len(plain) < minimum:
        raise ValidationError(
            _("Use at least %(n)d characters.") % {"n": minimum}, code="too_short"
        )
    if len(plain) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            _("Use at most %(n)d characters.") % {"n": MAX_PASSWORD_LENGTH}, code="too_long"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in plain):
        raise ValidationError(
            _("The password contains characters that cannot be used."), code="invalid"
        )
    folded = plain.casefold()
    for name in names:
        name = (name or "").casefold()
        if len(name) >= 3 and name in folded:
            raise ValidationError(
                _("The password must not contain the account's name or address."),
                code="contains_name",
            )
    try:
        _common_passwords().validate(plain)
    except ValidationError:
        raise ValidationError(
            _("This password is on a list of common, breached passwords; choose another."),
            code="common",
        ) from None


def _argon2_parses(body: str) -> bool:
    try:
        argon2.extract_parameters(body)
    except argon2.exceptions.InvalidHashError:
        return False
    return True
