"""Issue 7's attack catalogue, replayed through the web panel's forms as reseller B against
reseller A (api/tests/test_attacks.py does the same through the API): every attack is refused next
to the field that carries it and writes nothing. The last test runs the catalogue against a real
Postfix and Dovecot and then sends A's mail: zero messages captured, diverted or spoofed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Reseller, User
from accounts.services import reseller_update
from domains import services
from domains.models import Domain, Mailbox, RelayRecipient
from domains.tests.helpers import PASSWORD, make_alias, make_domain, make_mailbox, row_counts
from mailhost.tests import helpers as h
from mailhost.tests.conftest import mail_stack  # noqa: F401 - the real Postfix and Dovecot
from mailhost.tests.test_mailstack import REMOTE, submission, try_send
from panel.tests.helpers import field_errors, text

pytestmark = pytest.mark.postgres


@dataclass
class Tenant:
    reseller: Reseller
    user: User
    domains: list[Domain] = field(default_factory=list)
    backup: Domain | None = None

    def box(self, n: int = 0) -> Mailbox:
        return self.domains[n].mailboxes.get(local_part="user")


def build_tenant(tag: str) -> Tenant:
    """A reseller with two live domains (mailboxes, an alias, a catch-all, an alias domain, a
    sender grant) and a backup domain with a listed relay recipient."""
    pool = Reseller.objects.create(name=f"Web reseller {tag}")
    user = User.objects.create_user(username=f"web-{tag}", role="reseller", reseller=pool)
    tenant = Tenant(reseller=pool, user=user)
    for n in (1, 2):
        domain = make_domain(f"{tag}{n}.example", reseller=pool)
        tenant.domains.append(domain)
        box = make_mailbox(f"user@{domain.name}")
        make_mailbox(f"boss@{domain.name}")
        make_alias(f"info@{domain.name}", [box.address])
        make_alias(f"@{domain.name}", [box.address])
        services.alias_domain_create(actor=None, name=f"{tag}{n}-alias.example", target=domain)
        services.sender_grant_create(actor=None, mailbox=box, address=f"sales@{domain.name}")
    tenant.backup = make_domain(f"{tag}9-backup.example", reseller=pool, kind="backup")
    services.relay_recipient_create(actor=None, address=f"listed@{tenant.backup.name}")
    return tenant


@dataclass
class World:
    a: Tenant
    b: Tenant


@pytest.fixture
def world(db, cheap_mail_hashing) -> World:
    return World(a=build_tenant("a"), b=build_tenant("b"))


def everything() -> dict:
    counts = row_counts()
    counts["RelayRecipient"] = RelayRecipient.objects.count()
    return counts


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Forms that live on another page (the domain page, the mailbox page) than the URL they post to.
INLINE_FORMS = (
    (r"/domains/(\d+)/alias-domains/new/$", "/domains/{}/"),
    (r"/mailboxes/(\d+)/senders/new/$", "/mailboxes/{}/"),
)


def form_page(url: str) -> str:
    for pattern, page in INLINE_FORMS:
        if match := re.search(pattern, url):
            return page.format(match.group(1))
    return url


def submit(client: Client, url: str, data: dict):
    """Post a form the way a browser does: open the page first and send back its one-time token
    (create forms carry one; edit forms do not)."""
    page = client.get(form_page(url))
    assert page.status_code == 200, (url, page.status_code)
    token = re.search(r'name="form_token" value="([^"]+)"', page.content.decode())
    return client.post(url, {**data, **({"form_token": token.group(1)} if token else {})})


def b1(w: World) -> Domain:
    return w.b.domains[0]


def edit_fields(mailbox: Mailbox) -> dict:
    """What the mailbox form sends back unchanged."""
    return {
        "name": mailbox.name,
        "quota_bytes": "",
        "active": "on",
        "allow_imap": "on",
        "allow_pop3": "on",
        "allow_smtp": "on",
        "keep_copy": "on",
    }


def domain_limits(domain: Domain, **changes) -> dict:
    data = {"description": domain.description, "active": "on", "kind": domain.kind}
    data.update(changes)
    return data


# (id, url of the world, form data of the world, field the error stands next to)
ATTACKS = [
    # 1. Domain capture
    (
        "capture A's domain",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "a1.example"},
        "name",
    ),
    (
        "capture A's domain, other case",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "A1.Example."},
        "name",
    ),
    (
        "capture A's alias domain",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "a1-alias.example"},
        "name",
    ),
    (
        "capture gmail.com",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "gmail.com"},
        "name",
    ),
    (
        "capture a gmail.com host",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "mx.gmail.com"},
        "name",
    ),
    (
        "capture the mail host name",
        lambda w: "/domains/new/",
        {"kind": "local", "name": settings.MAIL_HOSTNAME},
        "name",
    ),
    (
        "capture a public suffix",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "co.uk"},
        "name",
    ),
    (
        "capture a private suffix",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "github.io"},
        "name",
    ),
    (
        "look-alike of A's domain",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "а1.example"},
        "name",
    ),
    (
        "mixed-script name",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "bеta.example"},
        "name",
    ),
    (
        "whole-script look-alike",
        lambda w: "/domains/new/",
        {"kind": "local", "name": "xn--80ak6aa92e.com"},
        "name",
    ),
    *[
        (
            f"{label} as an alias domain",
            lambda w: f"/domains/{b1(w).pk}/alias-domains/new/",
            {"name": name},
            "name",
        )
        for label, name in (
            ("gmail.com", "gmail.com"),
            ("the host name", settings.MAIL_HOSTNAME),
            ("A's domain", "a2.example"),
            ("A's alias domain", "a2-alias.example"),
        )
    ],
    # 2. Transport diversion: only a superadmin chooses a relay transport
    *[
        (
            f"transport {transport}",
            lambda w: "/domains/new/",
            {"name": "divert.example", "kind": "relay", "transport": transport},
            "transport",
        )
        for transport in (
            "relay:[127.0.0.1]:2525",
            "local:",
            "pipe:",
            "uucp:host",
            "lmtp:unix:/var/run/dovecot/lmtp",
            "smtp:[169.254.169.254]:80",
            "smtp:[mx.public.example]:25",
        )
    ],
    (
        "turn own backup domain into a relay to loopback",
        lambda w: f"/domains/{w.b.backup.pk}/edit/",
        lambda w: domain_limits(w.b.backup, kind="relay", transport="smtp:[127.0.0.1]:25"),
        "transport",
    ),
    # 3. Envelope spoofing: grants on A's addresses, keys with two @
    *[
        (
            f"grant {address}",
            lambda w: f"/mailboxes/{w.b.box().pk}/senders/new/",
            lambda w, a=address: {"address": a.format(b=b1(w).name)},
            "address",
        )
        for address in (
            "boss@a1.example",
            "@a1.example",
            "boss@a1-alias.example",
            "boss@a1.example@{b}",
            '"boss@a1.example"@{b}',
        )
    ],
    (
        "mailbox typed as A's address",
        lambda w: f"/domains/{b1(w).pk}/mailboxes/new/",
        {"address": "boss@a1.example", "password": PASSWORD},
        "address",
    ),
    (
        "mailbox boss@a@b",
        lambda w: f"/domains/{b1(w).pk}/mailboxes/new/",
        lambda w: {"address": f"boss@a1.example@{b1(w).name}", "password": PASSWORD},
        "address",
    ),
    (
        "alias typed as A's address",
        lambda w: f"/domains/{b1(w).pk}/aliases/new/",
        lambda w: {"address": "boss@a1.example", "recipients": w.b.box().address},
        "address",
    ),
    (
        "local part starting with -",
        lambda w: f"/domains/{b1(w).pk}/mailboxes/new/",
        {"address": "-oQ", "password": PASSWORD},
        "address",
    ),
    # 7. CPU per request: huge lists
    (
        "alias with 1,000 recipients",
        lambda w: f"/domains/{b1(w).pk}/aliases/new/",
        {
            "address": "list",
            "recipients": "\n".join(f"r{i}@elsewhere.example" for i in range(1000)),
        },
        "recipients",
    ),
    (
        "1,000 forwards",
        lambda w: f"/mailboxes/{w.b.box().pk}/",
        lambda w: {
            **edit_fields(w.b.box()),
            "forward_to": "\n".join(f"r{i}@elsewhere.example" for i in range(1000)),
        },
        "forward_to",
    ),
]


@pytest.mark.parametrize(
    ("url", "data", "field_name"),
    [attack[1:] for attack in ATTACKS],
    ids=[attack[0] for attack in ATTACKS],
)
def test_attack_through_a_form_is_refused_next_to_its_field(world, url, data, field_name):
    b = signed_in(world.b.user)
    url = url(world)
    data = data(world) if callable(data) else data
    before = everything()
    response = submit(b, url, data)
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    assert field_errors(text(response), field_name), text(response)[:3000]
    assert everything() == before


def test_a_tenant_cannot_skip_the_dns_proof_through_the_forms(world):
    b = signed_in(world.b.user)
    created = submit(
        b, "/domains/new/", {"kind": "local", "name": "claimed.example", "verified": "on"}
    )
    assert created.status_code == 302
    claimed = Domain.objects.get(name="claimed.example")
    assert claimed.reseller == world.b.reseller and not claimed.is_verified
    # The "verify without DNS" button is a superadmin's: B posting it changes nothing.
    forced = b.post(f"/domains/{claimed.pk}/verify/", {"force": "1"}, follow=True)
    assert forced.status_code == 200
    claimed.refresh_from_db()
    assert not claimed.is_verified


def test_probing_as_addresses_through_the_forms_gets_one_answer(world):
    """An alias recipient or a forward into A's domain: the same answer whether it exists."""
    b = signed_in(world.b.user)
    answers = []
    for n, target in enumerate(("user@a1.example", "nobody-here@a1.example")):
        alias = submit(
            b, f"/domains/{b1(world).pk}/aliases/new/", {"address": f"p{n}", "recipients": target}
        )
        box = b.post(
            f"/mailboxes/{world.b.box().pk}/",
            {**edit_fields(world.b.box()), "forward_to": target},
        )
        answers.append((alias.status_code, box.status_code))
    assert answers == [(302, 302), (302, 302)]


def test_a_deactivated_reseller_reads_its_pages_but_every_form_is_refused(world):
    reseller_update(actor=None, reseller=world.b.reseller, active=False)
    b = signed_in(world.b.user)
    before = everything()
    box = world.b.box()
    attempts = [
        submit(b, f"/domains/{b1(world).pk}/mailboxes/new/", {"address": "new"}),
        b.post(f"/mailboxes/{box.pk}/password/", {"password": "another long password"}),
        b.post(f"/mailboxes/{box.pk}/", {**edit_fields(box), "name": "renamed"}),
        submit(
            b, f"/domains/{b1(world).pk}/aliases/new/", {"address": "x", "recipients": box.address}
        ),
        submit(b, "/domains/new/", {"kind": "local", "name": "new-b.example"}),
        b.post(f"/mailboxes/{box.pk}/delete/", {"confirm": "on"}),
    ]
    assert everything() == before
    for response in attempts:
        assert response.status_code in (200, 302, 403), response.status_code
    assert b.get(f"/domains/{b1(world).pk}/").status_code == 200


# --- on the real mail stack ---------------------------------------------------------------


@pytest.mark.mailstack
@pytest.mark.django_db(transaction=True)
def test_after_the_whole_catalogue_no_message_is_captured_diverted_or_spoofed(
    mail_stack,  # noqa: F811
    settings,
    cheap_mail_hashing,
):
    settings.MAIL_HOSTNAME = mail_stack.cfg.hostname
    world = World(a=build_tenant("a"), b=build_tenant("b"))
    b = signed_in(world.b.user)
    for _label, url, data, _field in ATTACKS:
        submit(b, url(world), data(world) if callable(data) else data)
    # What B may do, it does too: claim names it does not hold, with a catch-all into a trap.
    trap = world.b.box()
    for claimed in ("sub.a1.example", "claimed.example"):
        submit(b, "/domains/new/", {"kind": "local", "name": claimed})
        domain = Domain.objects.get(name=claimed)
        submit(
            b, f"/domains/{domain.pk}/aliases/new/", {"catchall": "on", "recipients": trap.address}
        )

    b_boxes = list(Mailbox.objects.filter(domain__reseller=world.b.reseller))
    a_user = world.a.box().address
    a_targets = [
        a_user,
        "info@a1.example",
        "boss@a1-alias.example",
        "nobody@a2.example",  # A's catch-all
    ]
    outside = [
        "ceo@gmail.com",
        "ceo@sub.a1.example",
        "ceo@claimed.example",
        "ceo@divert.example",
        f"postmaster@{mail_stack.cfg.hostname}",
    ]
    with submission(mail_stack.ports["submission"], a_user, PASSWORD) as client:
        for recipient in a_targets + outside:
            code, msg = try_send(client, a_user, recipient)
            assert code == 250 or code >= 500, (recipient, code, msg)
    # Port 25 from outside: A's names are A's; a pending claim is not served at all.
    for recipient in a_targets:
        assert h.rcpt_reply(mail_stack.ports["smtp"], REMOTE, recipient)[0] == 250, recipient
    assert h.rcpt_reply(mail_stack.ports["smtp"], REMOTE, "ceo@claimed.example")[0] >= 500
    # Spoofing: B logged in cannot send as A, in any spelling; nobody unauthenticated can either.
    b_user = trap.address
    with submission(mail_stack.ports["submission"], b_user, PASSWORD) as client:
        for sender in (
            "boss@a1.example",
            f"boss@a1.example@{b1(world).name}",
            f'"boss@a1.example"@{b1(world).name}',
            "user@a1-alias.example",
        ):
            code, msg = try_send(client, sender, a_user)
            assert code >= 500, (sender, code, msg)
    with h.smtp(mail_stack.ports["smtp"]) as client:  # refused at MAIL FROM or at RCPT TO
        code, msg = client.mail(a_user)
        if code == 250:
            code, msg = client.rcpt(b_user)
        assert code >= 500, (code, msg)

    # A's mail arrives at A (the alias, the alias domain and the catch-all resolve inside A) ...
    h.wait_messages(mail_stack, a_user, 2)
    h.wait_messages(mail_stack, "boss@a1.example", 1)
    h.wait_messages(mail_stack, world.a.box(1).address, 1)
    # ... and nothing at all reached any of B's mailboxes.
    assert {box.address: mail_stack.messages(box.address) for box in b_boxes} == {
        box.address: [] for box in b_boxes
    }
