"""Hostile input through the panel's forms (issue 11), logged in as a superadmin and as a
reseller: what a browser can post (odd Unicode, control characters, huge strings, IDN edge cases,
numbers out of range) into the create and edit forms of domains, mailboxes, aliases, alias
domains and users, and into the search boxes. Never a server error; a refusal re-renders the form
(200) with the error shown, and writes nothing (every table's row count, the audit log's and the
form tokens' included; an edited object stays as it was). Example counts:
domains.tests.strategies.BUDGET."""

import secrets

import pytest
from django.forms.models import model_to_dict
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import Reseller, User
from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.normalize import normalize_domain
from domains.tests.helpers import PASSWORD, make_alias, make_domain, make_mailbox
from domains.tests.strategies import (
    BUDGET,
    SETTINGS,
    all_rows,
    edge_domains,
    form_safe,
    form_texts,
    in_savepoint,
)
from panel.tests.helpers import browser

pytestmark = pytest.mark.django_db

ERROR_MARKERS = ('class="errors"', 'class="form-errors"')

# What a browser posts: text only, no lone surrogates, sometimes huge.
text = st.one_of(
    form_texts,
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "é", ".", "a."]),
        st.sampled_from([10_000, 200_000]),
    ),
)
numbers = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "1.5",
            "2147483647",
            "2147483648",
            "9" * 30,
            "1e308",
            "NaN",
            "Infinity",
            "0x10",
            "١٢",
            " 7 ",
            "1,5",
        ]
    ),  # fmt: skip
    text,
)
units = st.one_of(st.sampled_from(["MiB", "GiB", "TiB", "PiB", ""]), text)
checkbox = st.sampled_from([None, "on", "", "0", "off", "\x00"])
addresses_typed = st.one_of(
    st.sampled_from(
        ["ok", "new", "a.b", "ü", "a" * 64, "a" * 65, "ok@res.example", "x@other.example"]
    ),
    text,
)
domain_names = st.one_of(edge_domains, text).map(form_safe)


@pytest.fixture
def world(db):
    pool = Reseller.objects.create(name="Form pool")
    reseller = User.objects.create_user(
        username="form-res", password="x", role="reseller", reseller=pool
    )
    root = User.objects.create_user(
        username="form-root", password="x", role="superadmin", is_superuser=True, is_staff=True
    )
    domain = make_domain("res.example", reseller=pool)
    box = make_mailbox("box@res.example")
    alias = make_alias("info@res.example", [box.address])
    admin = User.objects.create_user(username="form-admin", role="domainadmin", reseller=pool)
    admin.managed_domains.add(domain)
    return {
        "clients": {"superadmin": browser(root), "reseller": browser(reseller)},
        "ids": {
            "domain": domain.pk,
            "mailbox": box.pk,
            "alias": alias.pk,
            "user": admin.pk,
            "reseller": pool.pk,
        },
    }


def _form(fields: dict) -> dict:
    """Drop unticked boxes (a browser sends nothing for them) and add a fresh form token."""
    data = {k: v for k, v in fields.items() if v is not None}
    data["form_token"] = secrets.token_urlsafe(24)
    return data


# form: (URL, the model it edits or None, a valid submission, hostile values per field). A
# request is the valid submission with one field made hostile, or every field hostile at once.
FORMS = {
    "domain_create": (
        "/domains/new/",
        None,
        {"name": "new.example", "kind": "local", "active": "on", "max_mailboxes": "0"},
        {
            "name": domain_names,
            "kind": st.one_of(st.sampled_from(["local", "relay", "backup"]), text),
            "transport": text,
            "description": text,
            "active": checkbox,
            "max_mailboxes": numbers,
            "total_quota_0": numbers,
            "total_quota_1": units,
        },
    ),
    "domain_edit": (
        "/domains/{domain}/edit/",
        Domain,
        {"description": "", "active": "on", "kind": "local", "max_aliases": "0"},
        {
            "description": text,
            "active": checkbox,
            "kind": text,
            "max_aliases": numbers,
            "default_quota_0": numbers,
            "default_quota_1": units,
        },
    ),
    "alias_domain_create": (
        "/domains/{domain}/alias-domains/new/",
        None,
        {"name": "new-alias.example"},
        {"name": domain_names},
    ),
    "mailbox_create": (
        "/domains/{domain}/mailboxes/new/",
        None,
        {"address": "new", "password": PASSWORD, "allow_imap": "on"},
        {
            "address": addresses_typed,
            "name": text,
            "password": text,
            "forward_to": text,
            "allow_imap": checkbox,
            "quota_bytes_0": numbers,
            "quota_bytes_1": units,
        },
    ),
    "mailbox_edit": (
        "/mailboxes/{mailbox}/",
        Mailbox,
        {"name": "Box", "keep_copy": "on"},
        {"name": text, "forward_to": text, "keep_copy": checkbox, "quota_bytes_0": numbers},
    ),
    "mailbox_rename": (
        "/mailboxes/{mailbox}/rename/",
        Mailbox,
        {"address": "renamed@res.example"},
        {"address": st.one_of(addresses_typed, text)},
    ),
    "sender_grant": (
        "/mailboxes/{mailbox}/senders/new/",
        None,
        {"address": "sales@res.example"},
        {"address": st.one_of(addresses_typed, text)},
    ),
    "alias_create": (
        "/domains/{domain}/aliases/new/",
        None,
        {"address": "new", "recipients": "box@res.example"},
        {
            "address": addresses_typed,
            "catchall": checkbox,
            "recipients": text,
            "description": text,
        },
    ),
    "alias_edit": (
        "/aliases/{alias}/",
        Alias,
        {"recipients": "box@res.example", "active": "on"},
        {"recipients": text, "description": text, "active": checkbox},
    ),
    "user_create": (
        "/users/new/",
        None,
        {
            "username": "newuser",
            "role": "domainadmin",
            "domains": "res.example",
            "password": PASSWORD,
        },
        {
            "username": text,
            "email": text,
            "role": text,
            "domains": domain_names,
            "password": text,
        },
    ),
    "user_edit": (
        "/users/{user}/",
        User,
        {"active": "on", "domains": "res.example"},
        {"email": text, "active": checkbox, "domains": domain_names},
    ),
    "app_password": (
        "/mailboxes/{mailbox}/app-passwords/",
        None,
        {"name": "Phone", "protocol": "imap"},
        {"name": text, "protocol": st.one_of(st.sampled_from(["imap", "pop3", "smtp"]), text)},
    ),
    "reseller_create": (
        "/resellers/new/",
        None,
        {"name": "New pool", "active": "on", "max_domains": "0"},
        {
            "name": text,
            "active": checkbox,
            "max_domains": numbers,
            "max_mailboxes": numbers,
            "max_quota_bytes_0": numbers,
            "max_quota_bytes_1": units,
        },
    ),
    "reseller_edit": (
        "/resellers/{reseller}/",
        Reseller,
        {"name": "Form pool", "active": "on"},
        {"name": text, "active": checkbox, "max_aliases": numbers},
    ),
    "mailbox_password": (
        "/mailboxes/{mailbox}/password/",
        Mailbox,
        {"password": PASSWORD},
        {"password": text},
    ),
}


def submissions(form: str):
    _url, _model, base, fields = FORMS[form]
    one_field = st.sampled_from(sorted(fields)).flatmap(
        lambda key: fields[key].map(lambda value: {**base, key: value})
    )
    return st.one_of(one_field, one_field, one_field, st.fixed_dictionaries(fields))


GROUPS = {
    "forms_domains": ["domain_create", "domain_edit", "alias_domain_create"],
    "forms_mailboxes": [
        "mailbox_create",
        "mailbox_edit",
        "mailbox_password",
        "app_password",
        "mailbox_rename",
        "sender_grant",
        "alias_create",
        "alias_edit",
    ],
    "forms_users": ["user_create", "user_edit", "reseller_create", "reseller_edit"],
}


def _snapshot(model, pk):
    return model_to_dict(model.objects.get(pk=pk)) if model else None


def _submit(world, who: str, form: str, fields: dict) -> None:
    url_pattern, model, _base, _fields = FORMS[form]
    ids = world["ids"]
    url = url_pattern.format(**ids)
    key = url_pattern.split("{")[1].split("}")[0] if "{" in url_pattern else None
    target_pk = ids.get(key)
    target_model = model or None
    before, target = all_rows(), _snapshot(target_model, target_pk)
    response = world["clients"][who].post(url, _form(fields))
    status = response.status_code
    assert status in (200, 302, 403, 404), (form, status)
    if status in (403, 404):  # not this actor's page: nothing happened
        assert all_rows() == before
        return
    page = response.content.decode()
    if all_rows() == before and status == 200:
        assert any(m in page for m in ERROR_MARKERS), (form, fields, "refused without a word")
        assert _snapshot(target_model, target_pk) == target, "a refused edit changed the object"
    elif form in ("domain_create", "alias_domain_create"):
        name = normalize_domain(fields["name"])
        assert (
            Domain.objects.filter(name=name).exists()
            or AliasDomain.objects.filter(name=name).exists()
        )


def _run(world, group: str, runs: dict, extra=()):
    forms = GROUPS[group]
    requests = st.one_of(*[st.tuples(st.just(f), submissions(f)) for f in forms])

    def check(who, request):
        runs["n"] += 1
        _submit(world, who, *request)

    check = in_savepoint(check)
    for who, request in extra:
        check = example(who=who, request=request)(check)
    check = given(who=st.sampled_from(["reseller", "superadmin"]), request=requests)(check)
    hsettings(max_examples=BUDGET[group], **SETTINGS)(check)()


REGRESSIONS: dict[str, list] = {"forms_domains": [], "forms_mailboxes": [], "forms_users": []}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_hostile_forms(world, group):
    runs = {"n": 0}
    _run(world, group, runs, REGRESSIONS[group])
    assert runs["n"] >= BUDGET[group]


SEARCHES = [
    "/domains/?q={term}",
    "/domains/{domain}/?q={term}",
    "/users/?q={term}",
    "/resellers/?q={term}",
    "/audit/?actor={term}&object={term}",
    "/api/v1/domains/?search={term}",
    "/api/v1/mailboxes/?search={term}",
]


def test_hostile_search_boxes(world):
    """The search boxes take any text a URL can carry (NUL included) and answer a page."""
    from urllib.parse import quote

    runs = {"n": 0}
    ids = world["ids"]

    @hsettings(max_examples=BUDGET["forms_search"], **SETTINGS)
    @given(
        who=st.sampled_from(["reseller", "superadmin"]), url=st.sampled_from(SEARCHES), term=text
    )
    @example(who="superadmin", url="/users/?q={term}", term="\x00")  # each was a DataError
    @example(who="reseller", url="/domains/?q={term}", term="a\x00")
    @example(who="superadmin", url="/resellers/?q={term}", term="\x00")
    @example(who="reseller", url="/domains/{domain}/?q={term}", term="\x00")
    @in_savepoint
    def check(who, url, term):
        runs["n"] += 1
        response = world["clients"][who].get(url.format(term=quote(term), **ids))
        assert response.status_code in (200, 400, 403), (url, response.status_code)

    check()
    assert runs["n"] >= BUDGET["forms_search"]
