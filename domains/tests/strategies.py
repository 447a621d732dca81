"""Hypothesis strategies for hostile input (issue 11), shared by the property tests of every face:
odd Unicode, control characters, lone surrogates, huge strings, IDN edge cases and numbers of the
wrong type or out of range. A test names its example count in BUDGET, so the total is one sum
(`test_hostile_budget` asserts it)."""

import json

from hypothesis import HealthCheck
from hypothesis import strategies as st

# Every hostile-input test: reproducible in CI (derandomize), no example database, no deadline
# (a first request warms caches), fixtures set up once per test (state is handled per example).
SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Generated examples per test of the hostile-input suite (besides the explicit @examples).
BUDGET = {
    "services_domains": 120,
    "services_mailboxes": 120,
    "services_aliases": 80,
    "services_accounts": 80,
    "services_normalize": 300,
    "api_domains": 100,
    "api_mailboxes": 100,
    "api_aliases": 80,
    "api_other": 80,
    "api_people": 80,
    "api_queries": 60,
    "forms_domains": 60,
    "forms_mailboxes": 70,
    "forms_users": 70,
    "forms_search": 40,
    "cli_user": 60,
    "cli_apikey": 60,
}

ODD = [
    "",
    " ",
    "\x00",
    "\r\n",
    "\t",
    "\u202e",  # right-to-left override
    "\u200b",  # zero width space
    "\ufeff",
    "\ud800",  # a lone surrogate, as JSON can carry it
    "\udfff",
    "é",
    "e\u0301",
    "ß",
    "İ",
    "👍🏽",
    "\U0010ffff",
    "ＡＢＣ",
    "xn--",
    "xn--mnchen-3ya",
    "münchen",
    "пример",
    "例え",
    "@",
    "'; DROP TABLE domains_mailbox; --",
    "%{sha256:password}",
    "%u%d%s",
    "{SHA256.HEX}",
    # More of the same families: C1 controls, header injection, bidi, confusables, full width.
    "\x85",  # NEL, a C1 control
    "\x9b",
    "\x1b[31m",
    "\u2028",  # line separator
    "a\r\nBcc: victim@example.com",
    "\nX-Injected: 1",
    "\u2066\u2069",  # bidi isolates
    "\u200d\u200c",  # zero-width joiners
    "\u0430",  # Cyrillic a, an ASCII look-alike
    "\uff20",  # full-width @
    "\ufe6b",  # small @
    "\u0300\u0301\u0302",  # combining marks with nothing to combine with
    "%00",
    "\\x00",
    "..",
    ".",
    "-",
    "*",
    "'",
    '"',
    "<script>",
]


def huge(char: str, n: int) -> str:
    return char * n


texts = st.one_of(
    st.text(max_size=80),
    st.sampled_from(ODD),
    st.lists(st.sampled_from(ODD), max_size=12).map("".join),
    st.builds(huge, st.sampled_from(["a", "é", "\x00", "👍", "-"]), st.integers(0, 5000)),
    st.text(st.characters(codec="utf-8"), min_size=10, max_size=40),
)

# Big bodies, a few sizes only (10 KB to 1 MB), so they stay cheap: the API's body limit is
# 1 MiB, so the largest meet the 413 and the others the field checks.
huge_texts = st.builds(
    huge, st.sampled_from(["a", "é", "\x00", ".", "a.", "👍"]), st.sampled_from([10_000, 300_000])
)


def form_safe(value: str) -> str:
    return "".join(c for c in value if not 0xD800 <= ord(c) <= 0xDFFF)


# What a browser or a shell can send: no lone surrogates (they cannot be encoded at all).
form_texts = texts.map(form_safe)

# --- IDN edge cases ---------------------------------------------------------------------------

EDGE_DOMAINS = [
    "",
    ".",
    "..",
    "example",
    "a.b",
    "xn--.example",
    "xn--a.example",  # invalid punycode
    "xn--zz-zzz.example",
    "xn--80ak6aa92e.com",  # Cyrillic look-alike of apple.com
    "xn--mnchen-3ya.example",
    "XN--MNCHEN-3YA.EXAMPLE",
    "münchen.example",
    "MÜNCHEN.EXAMPLE",
    "münchen.example.",
    "münchen.example..",
    "ｍüｎｃｈｅｎ．ｅｘａｍｐｌｅ",  # full width, NFKC folds it
    "straße.example",
    "faß.de",
    "ⅷ.example",  # NFKC: viii
    "😀.example",
    "👍🏽.example",
    "bеta.example",  # Cyrillic е among Latin
    "пример.рф",
    "例え.テスト",
    "a" * 63 + ".example",
    "a" * 64 + ".example",
    ".".join(["a" * 63] * 3) + "." + "a" * 61,  # 253 characters
    ".".join(["a" * 63] * 3) + "." + "a" * 62,  # 254
    ".".join(["a" * 63] * 4),  # 255
    "-a.example",
    "a-.example",
    "a--b.example",
    "a_b.example",
    "1.2.3.4",
    "[127.0.0.1]",
    "::1",
    "example.123",
    "example.com\x00.evil",
    "\ud800.example",  # a lone surrogate (JSON escapes, undecodable argv bytes)
    "b\udcff.example",
    "example.com\r\n",
    "exa mple.com",
    "example\u200b.com",
    "example\u00ad.com",  # soft hyphen (UTS 46 maps it away)
    "e\u0301xample.com",
    "localhost",
    "com",
    "co.uk",
    "*.example",
    "%.example",
]

edge_domains = st.one_of(
    st.sampled_from(EDGE_DOMAINS),
    st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(
            st.one_of(
                st.sampled_from(["a" * 63, "a" * 64, "xn--", "xn--mnchen-3ya", "ü", "ß", "😀"]),
                st.text(min_size=1, max_size=12),
            ),
            min_size=1,
            max_size=5,
        ),
        st.sampled_from(["example", "EXAMPLE", "example.", "123", "рф", ""]),
    ),
    form_texts,
)

local_parts = st.one_of(
    st.sampled_from(
        [
            "ok",
            "a.b",
            "-x",
            ".a",
            "a.",
            "a..b",
            "ü",
            "a" * 64,
            "a" * 65,
            "a/b",
            "a%b",
            "a|b",
            "a+tag",
            "A",
            "\uff41",
            "a b",
            '"a b"',
            "a\x00",
            "",
            "@",
            "a@b",
        ]
    ),  # fmt: skip
    texts,
)


def addresses(domains: list[str]):
    """Addresses with a hostile local part and a domain that is one of `domains` (so some reach
    the checks past the syntax) or an IDN edge case; sometimes a second @ or a full-width one."""
    domain = st.one_of(st.sampled_from(domains), edge_domains)
    return st.one_of(
        st.builds(lambda loc, dom: f"{loc}@{dom}", local_parts, domain),
        st.builds(lambda loc, dom: f"{loc}\uff20{dom}", local_parts, domain),
        st.builds(lambda loc, dom: f"{loc}@x@{dom}", local_parts, domain),
        st.builds(lambda dom: f"@{dom}", domain),
        texts,
    )


# --- Numbers and wrong JSON types --------------------------------------------------------------

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

json_numbers = st.one_of(
    st.integers(-5, 5),
    st.sampled_from(
        [
            INT32_MAX,
            INT32_MAX + 1,
            INT64_MAX,
            INT64_MAX + 1,
            2**200,
            -(2**63),
            16 * 1024**4,
            16 * 1024**4 + 1,
        ]
    ),  # fmt: skip
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, 1.5, -0.0, 1e308, 1e-300]),
    st.booleans(),
    st.none(),
    st.sampled_from(["1", "", "1e3", "0x10", "١٢", "NaN", "Infinity", " 1 "]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

# Any JSON value: what a client may put in a field meant for something else.
json_values = st.one_of(
    texts,
    json_numbers,
    st.lists(texts, max_size=4),
    st.dictionaries(texts, texts, max_size=3),
)


def json_body(value) -> str:
    """JSON text as a client sends it; lone surrogates travel as \\ud800 escapes."""
    return json.dumps(value)


# --- State between examples --------------------------------------------------------------------
# Hypothesis runs every example inside one pytest test, so the database is not reset between
# them: each example runs in a savepoint that is rolled back, and compares row counts itself.

APPS = ("domains", "accounts", "audit", "api", "panel", "mailhost")


def _tables() -> list[str]:
    from django.apps import apps

    return sorted(
        model._meta.db_table
        for label in APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed and not model._meta.proxy
    )


def all_rows() -> dict[str, int]:
    """Row counts of every table of the app (the audit log included), in one query."""
    from django.db import connection

    tables = _tables()
    sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def in_savepoint(check):
    """Wrap a hypothesis test body: run it in a transaction that is always rolled back, so one
    example's writes never meet the next."""
    import functools

    from django.db import transaction

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        with transaction.atomic():
            check(*args, **kwargs)
            transaction.set_rollback(True)

    return wrapper
