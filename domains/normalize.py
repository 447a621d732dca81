"""The one place that turns user input into stored domain names and addresses.

Domains are stored as lowercase IDNA A-labels without a trailing dot; addresses as lowercase
`local@domain` (Postfix folds lookup keys to lowercase, so the stored form must match).
Every entry point (the web panel, the API, management commands) calls these functions.
"""

import re
import string
import unicodedata
from functools import lru_cache

import idna
from confusable_homoglyphs import categories, confusables
from django.core.exceptions import ValidationError

MAX_DOMAIN_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_LOCAL_PART_LENGTH = 64
INT32_MAX = 2**31 - 1  # PostgreSQL integer: counts and limits

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
# dot-atom characters (RFC 5322) minus `/` (it would escape the Maildir path), `%` (Postfix's
# percent hack) and `|` (pipes). Quoted local parts and non-ASCII local parts are not accepted.
_ATOM_RE = re.compile(r"^[a-z0-9!#$&'*+=?^_`{}~-]+$")

# Scripts that may share one label (Unicode TS #39, "highly restrictive"): Japanese, Chinese and
# Korean writing mix Han with their own scripts, and Latin may join them. Any other label is
# written in one script; COMMON and INHERITED characters (digits, hyphen, marks) go with any.
_NEUTRAL_SCRIPTS = {"COMMON", "INHERITED"}
_SCRIPT_MIXES = (
    {"LATIN", "HAN", "HIRAGANA", "KATAKANA"},
    {"LATIN", "HAN", "BOPOMOFO"},
    {"LATIN", "HAN", "HANGUL"},
)
_ASCII_LABEL_CHARS = set(string.ascii_lowercase + string.digits + "-")


def normalize_domain(value: str) -> str:
    """Return the stored form of a domain name or raise ValidationError."""
    if not isinstance(value, str):
        raise ValidationError("Enter a domain name.", code="invalid")
    name = value.strip().rstrip(".")
    if not name:
        raise ValidationError("Enter a domain name.", code="required")
    if name.startswith("[") or _looks_like_ip(name):
        raise ValidationError("An IP address is not a domain name.", code="ip_literal")
    if "_" in name:
        raise ValidationError("A domain name cannot contain underscores.", code="invalid")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValidationError(f"Not a valid domain name: {exc}.", code="invalid") from exc
    except UnicodeError as exc:  # a label over 63 characters fails inside the codec
        raise ValidationError(
            f"Each part of a domain name must be 1 to {MAX_LABEL_LENGTH} characters.",
            code="label_length",
        ) from exc
    ascii_name = ascii_name.lower()
    if len(ascii_name) > MAX_DOMAIN_LENGTH:
        raise ValidationError(
            f"A domain name must be at most {MAX_DOMAIN_LENGTH} characters.", code="too_long"
        )
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValidationError("A domain name needs at least two labels.", code="invalid")
    for label in labels:
        if not 1 <= len(label) <= MAX_LABEL_LENGTH:
            raise ValidationError(
                f"Each part of a domain name must be 1 to {MAX_LABEL_LENGTH} characters.",
                code="label_length",
            )
        if not _LABEL_RE.match(label):
            raise ValidationError(
                "Labels use letters, digits and inner hyphens only.", code="invalid"
            )
    if labels[-1].isdigit():
        raise ValidationError("The last label of a domain cannot be numeric.", code="invalid")
    for label in labels:
        if label.startswith("xn--"):
            try:
                problem = _look_alike_problem(idna.decode(label))
            except (idna.IDNAError, UnicodeError) as exc:
                raise ValidationError(f"Not a valid domain name: {exc}.", code="invalid") from exc
            if problem:
                raise ValidationError(problem, code="confusable")
    return ascii_name


def display_domain(ascii_name: str) -> str:
    """The Unicode form of a stored domain, for people; the A-label form when a label could pass
    for another name (a row stored before the look-alike rule)."""
    try:
        unicode_name = idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name
    if any(_look_alike_problem(label) for label in unicode_name.split(".") if not label.isascii()):
        return ascii_name
    return unicode_name


def _look_alike_problem(label: str) -> str | None:
    """Why a Unicode label could be mistaken for another name, or None.

    Two rules: a label is written in one script (or one of the CJK mixes), so `bеta` with a
    Cyrillic `е` is refused; and a non-ASCII label must not read as an ASCII one, so whole-script
    look-alikes like Cyrillic `аррӏе` (xn--80ak6aa92e) or Latin `ɡoogle` are refused, while
    `münchen` or `пример` (letters with no ASCII twin) are fine. The script and look-alike data
    are Unicode's (Scripts.txt, confusables.txt) as shipped by confusable-homoglyphs.
    """
    scripts = {categories.alias(ch) for ch in label} - _NEUTRAL_SCRIPTS
    if len(scripts) > 1 and not any(scripts <= mix for mix in _SCRIPT_MIXES):
        names = ", ".join(sorted(s.title() for s in scripts))
        return f"A label of a domain name must be written in one script, not {names}."
    if all(ch in _ASCII_LABEL_CHARS or _ascii_twin(ch) for ch in label):
        return f"{label} looks like an ASCII name but is not one; use the name it imitates."
    return None


@lru_cache(maxsize=4096)
def _ascii_twin(ch: str) -> bool:
    """Whether Unicode lists `ch` as confusable with one ASCII letter or digit."""
    found = confusables.is_confusable(ch, greedy=True, preferred_aliases=[])
    if not found:
        return False
    return any(
        len(glyph["c"]) == 1 and glyph["c"].lower() in _ASCII_LABEL_CHARS
        for glyph in found[0]["homoglyphs"]
    )


def normalize_local_part(value: str) -> str:
    if not isinstance(value, str):
        raise ValidationError("Enter a local part.", code="invalid")
    local = value.strip().lower()
    if not local:
        raise ValidationError("Enter the part before the @.", code="required")
    if len(local) > MAX_LOCAL_PART_LENGTH:
        raise ValidationError(
            f"The part before the @ must be at most {MAX_LOCAL_PART_LENGTH} characters.",
            code="too_long",
        )
    if local.startswith("-"):
        # Postfix and its delivery agents read a leading "-" as an option, and refuse it.
        raise ValidationError("The local part cannot start with a hyphen.", code="invalid")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValidationError(
            "Dots may not start or end the local part, nor follow each other.", code="invalid"
        )
    if not all(_ATOM_RE.match(atom) for atom in local.split(".")):
        raise ValidationError(
            "The local part may contain ASCII letters, digits and"
            " . ! # $ & ' * + = ? ^ _ ` { } ~ -",
            code="invalid",
        )
    return local


def split_address(value: str, *, allow_catchall: bool = False) -> tuple[str, str]:
    """Split and normalise `local@domain`; `@domain` (local part '') only when allowed."""
    if not isinstance(value, str) or "@" not in value:
        raise ValidationError("Enter an address of the form name@domain.", code="invalid")
    if value.count("@") > 1:
        # `a@b@c` and `"a@b"@c` read differently to different parsers (the sender-login
        # spoof of issue 7): no stored key or checked address ever holds a second @.
        raise ValidationError("An address has exactly one @.", code="invalid")
    local, _, domain = value.strip().rpartition("@")
    if local == "" and allow_catchall:
        return "", normalize_domain(domain)
    return normalize_local_part(local), normalize_domain(domain)


def normalize_address(value: str, *, allow_catchall: bool = False) -> str:
    local, domain = split_address(value, allow_catchall=allow_catchall)
    return f"{local}@{domain}"


def _looks_like_ip(name: str) -> bool:
    if ":" in name:
        return True
    parts = name.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def storable(value: str) -> bool:
    """Whether PostgreSQL can hold `value` as text: no NUL, no lone surrogate (UTF-8 has none;
    JSON escapes and undecodable command-line bytes make them). A name that is not storable
    names nothing stored, so a lookup by it can answer "no such thing" without asking."""
    return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


# Control characters (NUL, CR/LF, C1), lone surrogates and line/paragraph separators: a one-line
# name or description holds none (no header or log line is split by one).
_REFUSED_TEXT_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def normalize_text(value: str, *, max_length: int) -> str:
    """A one-line free text (a description, a display name) as stored, or ValidationError."""
    if not isinstance(value, str):
        raise ValidationError("Enter text.", code="invalid")
    if len(value) > max_length:
        raise ValidationError(f"At most {max_length} characters.", code="max_length")
    if any(unicodedata.category(c) in _REFUSED_TEXT_CATEGORIES for c in value):
        raise ValidationError("The text contains control characters.", code="invalid")
    return value
