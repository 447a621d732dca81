"""Hostile JSON bodies through every write of the API (issue 11), with a superadmin's key and a
reseller's: generated bodies hold odd Unicode, lone surrogates (as JSON escapes), control
characters, huge strings, IDN edge cases and values of the wrong JSON type. Each answer is below
500; a 4xx is JSON naming a field of the request (or `detail` / `non_field_errors`); a refusal
changes no table (row counts, the audit log's included) and not the object it aimed at; a
success reads back normalised. Example counts: domains.tests.strategies.BUDGET."""

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import Reseller, User
from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.normalize import normalize_address, normalize_domain
from domains.tests.helpers import PASSWORD
from domains.tests.strategies import (
    BUDGET,
    SETTINGS,
    addresses,
    all_rows,
    edge_domains,
    huge_texts,
    in_savepoint,
    json_body,
    json_numbers,
    json_values,
    texts,
)

pytestmark = pytest.mark.django_db

OWN = ["a1.example", "a2.example", "xn--mnchen-3ya.example", "a9-backup.example"]
GENERAL = {"detail", "non_field_errors"}

text = st.one_of(texts, json_values)
flag = st.one_of(st.booleans(), json_values)
number = json_numbers
name = st.one_of(edge_domains, texts, huge_texts, json_values)
address = st.one_of(addresses(OWN), huge_texts, json_values)
address_list = st.one_of(st.lists(addresses(OWN), max_size=4), json_values)


def bodies(fields: dict, base: dict | None = None):
    """A valid `base` body with one field made hostile (so the input reaches the service), any
    subset of hostile `fields`, or now and then no object at all."""
    base = base or {}
    one_field = st.sampled_from(sorted(fields)).flatmap(
        lambda key: fields[key].map(lambda value: {**base, key: value})
    )
    return st.one_of(
        one_field, one_field, one_field, st.fixed_dictionaries({}, optional=fields), json_values
    )


DOMAIN_LIMITS = {
    "kind": st.one_of(st.sampled_from(["local", "relay", "backup"]), text),
    "transport": st.one_of(st.sampled_from(["", "smtp:[mx.example.net]:25"]), text),
    "relay_accept_all": flag,
    "description": text,
    "active": flag,
    "max_mailboxes": number,
    "max_aliases": number,
    "max_quota_per_mailbox": number,
    "total_quota": number,
    "default_quota": number,
}
MAILBOX_FIELDS = {
    "name": text,
    "quota_bytes": number,
    "active": flag,
    "allow_imap": flag,
    "allow_pop3": flag,
    "allow_smtp": flag,
    "keep_copy": flag,
    "forward_to": address_list,
    "password": st.one_of(st.just(PASSWORD), text),
    "password_hash": text,
}

# (budget, method, path, body strategy); paths name the world's objects by key.
ENDPOINTS = {
    "api_domains": [
        (
            "post",
            "domains/",
            bodies(
                {
                    "name": name,
                    "verified": flag,
                    "reseller": st.one_of(number, st.just("{reseller}")),
                    **DOMAIN_LIMITS,
                },
                {"name": "new.example"},
            ),
        ),
        ("patch", "domains/{domain}/", bodies(DOMAIN_LIMITS)),
    ],
    "api_mailboxes": [
        (
            "post",
            "mailboxes/",
            bodies(
                {"address": address, **MAILBOX_FIELDS},
                {"address": "new@a1.example", "password": PASSWORD},
            ),
        ),
        ("patch", "mailboxes/{mailbox}/", bodies(MAILBOX_FIELDS)),
        (
            "post",
            "mailboxes/{mailbox}/rename/",
            bodies({"address": address}, {"address": "renamed@a1.example"}),
        ),
        (
            "post",
            "mailboxes/{mailbox}/app-passwords/",
            bodies(
                {"name": text, "protocol": st.one_of(st.sampled_from(["imap", "smtp"]), text)},
                {"name": "Phone", "protocol": "imap"},
            ),
        ),
    ],
    "api_aliases": [
        (
            "post",
            "aliases/",
            bodies(
                {
                    "address": address,
                    "recipients": address_list,
                    "active": flag,
                    "description": text,
                },
                {"address": "new@a1.example", "recipients": ["user@a1.example"]},
            ),
        ),
        (
            "patch",
            "aliases/{alias}/",
            bodies({"recipients": address_list, "active": flag, "description": text}),
        ),
        (
            "post",
            "alias-domains/",
            bodies(
                {
                    "name": name,
                    "target": st.one_of(st.sampled_from(OWN), name),
                    "active": flag,
                    "verified": flag,
                },
                {"name": "new-alias.example", "target": "a1.example"},
            ),
        ),
        ("patch", "alias-domains/{alias_domain}/", bodies({"active": flag})),
    ],
    "api_other": [
        (
            "post",
            "sender-identities/",
            bodies(
                {"mailbox": st.one_of(st.just("user@a1.example"), address), "address": address},
                {"mailbox": "user@a1.example", "address": "new@a1.example"},
            ),
        ),
        (
            "post",
            "relay-recipients/",
            bodies({"address": address}, {"address": "new@a9-backup.example"}),
        ),
        (
            "post",
            "api-keys/",
            bodies(
                {
                    "name": text,
                    "read_only": flag,
                    "expires_at": st.one_of(
                        st.sampled_from(["2099-01-01T00:00:00Z", "2001-01-01", "9999-12-31"]),
                        text,
                    ),
                    "allowed_networks": st.one_of(
                        st.lists(st.one_of(st.sampled_from(["192.0.2.0/24", "::/0"]), texts)),
                        json_values,
                    ),
                },
                {"name": "key"},
            ),
        ),
    ],
    "api_people": [
        (
            "post",
            "users/",
            bodies(
                {
                    "username": st.one_of(texts, huge_texts, json_values),
                    "email": address,
                    "role": st.one_of(st.sampled_from(["domainadmin", "reseller"]), text),
                    "reseller": st.one_of(number, st.just("{reseller}")),
                    "domains": st.one_of(st.lists(st.one_of(st.sampled_from(OWN), name)), text),
                    "password": st.one_of(st.just(PASSWORD), text),
                    "active": flag,
                },
                {"username": "newuser", "role": "domainadmin", "domains": ["a1.example"]},
            ),
        ),
        (
            "patch",
            "users/{admin}/",
            bodies(
                {
                    "email": address,
                    "active": flag,
                    "domains": st.one_of(st.lists(st.one_of(st.sampled_from(OWN), name)), text),
                }
            ),
        ),
        ("post", "users/{admin}/reset-password/", bodies({"password": text})),
        (
            "post",
            "resellers/",
            bodies(
                {"name": text, "active": flag, "max_domains": number, "max_quota_bytes": number},
                {"name": "New pool"},
            ),
        ),
        (
            "patch",
            "resellers/{reseller}/",
            bodies({"name": text, "active": flag, "max_mailboxes": number}),
        ),
    ],
}

TARGETS = {
    "domains/{domain}/": Domain,
    "mailboxes/{mailbox}/": Mailbox,
    "aliases/{alias}/": Alias,
    "alias-domains/{alias_domain}/": AliasDomain,
    "users/{admin}/": User,
    "resellers/{reseller}/": Reseller,
}


def _objects(world) -> dict[str, int]:
    a = world.a
    return {
        "domain": a.domains[0].pk,
        "mailbox": Mailbox.objects.get(address="user@a1.example").pk,
        "alias": Alias.objects.get(address="info@a1.example").pk,
        "alias_domain": AliasDomain.objects.get(name="a1-alias.example").pk,
        "admin": world.admin1.pk,
        "reseller": a.reseller.pk,
    }


def _fill(value, ids):
    """Put the world's ids where a body names one ("{reseller}")."""
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if value == "{reseller}":
        return ids["reseller"]
    return value


def _state(path: str, ids) -> dict | None:
    model = TARGETS.get(path)
    if model is None:
        return None
    return model_to_dict(model.objects.get(pk=ids[path.split("{")[1].split("}")[0]]))


def _check_created(path: str, body: dict, answer: dict) -> None:
    """A success reads back in the stored form of domains.normalize."""
    if path == "domains/":
        assert answer["name"] == normalize_domain(body["name"]), answer
    elif path == "alias-domains/":
        assert answer["name"] == normalize_domain(body["name"]), answer
    elif path in ("mailboxes/", "relay-recipients/"):
        assert answer["address"] == normalize_address(body["address"]), answer
    elif path == "aliases/":
        assert answer["address"] == normalize_address(body["address"], allow_catchall=True)
        assert answer["recipients"] == list(
            dict.fromkeys(normalize_address(r) for r in body["recipients"])
        )


def _probe(client, keys, ids, who: str, method: str, path: str, body) -> None:
    body = _fill(body, ids)
    url = "/api/v1/" + path.format(**ids)
    before, target = all_rows(), _state(path, ids)
    response = client.generic(
        method.upper(),
        url,
        json_body(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {keys[who]}"},
    )
    status = response.status_code
    assert status < 500, (status, response.content[:500])
    if status >= 300:
        answer = response.json()
        assert isinstance(answer, dict) and answer, answer
        named = set(body) if isinstance(body, dict) else set()
        assert set(answer) <= named | GENERAL | _service_fields(path), (body, answer)
        assert all_rows() == before, ("a refused request wrote", status, answer)
        assert _state(path, ids) == target, "a refused update changed the object"
    elif isinstance(body, dict):
        answer = response.json()
        if method == "post":
            _check_created(path, body, answer)
        # Free text is stored as sent (DRF trims the ends), not silently changed.
        texts_sent = ["description"] + (["name"] if path.startswith("mailboxes/{") else [])
        for field in texts_sent:
            if isinstance(body.get(field), str) and field in answer:
                assert answer[field] == body[field].strip(), (field, body[field], answer[field])


def requests(budget_key: str):
    """(endpoint index, body) for the endpoints of one budget group."""
    return st.one_of(
        *[
            st.tuples(st.just(i), strategy)
            for i, (_method, _path, strategy) in enumerate(ENDPOINTS[budget_key])
        ]
    )


def _run(world, budget_key: str, runs: dict, extra_examples=()):
    ids = _objects(world)
    keys = {"superadmin": world.super_key, "reseller": world.a.key}
    client = Client(REMOTE_ADDR="127.0.0.1")
    endpoints = ENDPOINTS[budget_key]

    def check(who, request):
        runs["n"] += 1
        index, body = request
        method, path, _strategy = endpoints[index]
        _probe(client, keys, ids, who, method, path, body)

    check = in_savepoint(check)
    for who, request in extra_examples:
        check = example(who=who, request=request)(check)
    check = given(who=st.sampled_from(sorted(keys)), request=requests(budget_key))(check)
    hsettings(max_examples=BUDGET[budget_key], **SETTINGS)(check)()


def _service_fields(path: str) -> set[str]:
    """Fields a service names although the body may not hold them (it requires them)."""
    return {
        "domains/": {"name"},
        "mailboxes/": {"address", "password"},
        "aliases/": {"address", "recipients"},
        "alias-domains/": {"name", "target"},
        "sender-identities/": {"mailbox", "address"},
        "relay-recipients/": {"address"},
        "users/": {"username"},
        "resellers/": {"name"},
        "mailboxes/{mailbox}/rename/": {"address"},
        "mailboxes/{mailbox}/app-passwords/": {"name", "protocol"},
    }.get(path, set())


# Inputs that once broke a face, replayed first: (actor, (endpoint index, body)) per group.
REGRESSIONS: dict[str, list] = {
    "api_domains": [],
    "api_mailboxes": [],
    "api_aliases": [],
    "api_other": [],
    "api_people": [],
}


@pytest.mark.parametrize("budget_key", sorted(ENDPOINTS))
def test_hostile_bodies(world, budget_key):
    runs = {"n": 0}
    _run(world, budget_key, runs, REGRESSIONS[budget_key])
    assert runs["n"] >= BUDGET[budget_key]


LISTS = [
    "domains/",
    "alias-domains/",
    "mailboxes/",
    "aliases/",
    "relay-recipients/",
    "sender-identities/",
    "quota-usage/",
    "resellers/",
    "users/",
    "api-keys/",
]
PARAMS = [
    "search", "domain", "active", "verified", "kind", "reseller", "recipient", "mailbox",
    "role", "revoked", "ordering", "cursor", "page_size", "id",
]  # fmt: skip


def test_hostile_queries(world):
    """Filters, ordering and cursors of every list take any text a URL carries (NUL, huge
    numbers, IDN edge cases) and answer 200 or a JSON 400 naming the parameter."""
    from urllib.parse import urlencode

    runs = {"n": 0}
    client = Client(REMOTE_ADDR="127.0.0.1")
    keys = {"superadmin": world.super_key, "reseller": world.a.key}
    values = st.one_of(
        texts.map(lambda s: "".join(c for c in s if not 0xD800 <= ord(c) <= 0xDFFF)),
        edge_domains.map(lambda s: "".join(c for c in s if not 0xD800 <= ord(c) <= 0xDFFF)),
        json_numbers.map(str),
    )

    @hsettings(max_examples=BUDGET["api_queries"], **SETTINGS)
    @given(
        who=st.sampled_from(sorted(keys)),
        path=st.sampled_from(LISTS),
        query=st.dictionaries(st.sampled_from(PARAMS), values, min_size=1, max_size=3),
    )
    @in_savepoint
    def check(who, path, query):
        runs["n"] += 1
        response = client.get(
            f"/api/v1/{path}?{urlencode(query)}",
            headers={"Authorization": f"Bearer {keys[who]}"},
        )
        status = response.status_code
        assert status in (200, 400, 404), (path, query, response.content[:300])
        if status == 404:  # DRF's answer to a cursor it did not hand out
            assert "cursor" in query and response.json() == {"detail": ["Invalid cursor"]}
        if status == 400:
            assert set(response.json()) <= set(query) | GENERAL, response.json()

    check()
    assert runs["n"] >= BUDGET["api_queries"]
