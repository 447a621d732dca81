"""The lookup tables answer exactly what the rules of docs/lookups.md say, after every step of
random sequences of changes: creates, updates, deletes, deactivations, verification, alias-domain
and relay changes, through the services and through raw queryset writes alike.

`expected()` is the rules written out in Python over the panel's rows; the tables are compared
with it row for row (as multisets) after each step."""

import itertools
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains import services
from domains.models import (
    Alias,
    AliasDomain,
    AppPassword,
    Domain,
    Mailbox,
    RelayRecipient,
    SenderGrant,
    TrashItem,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("cheap_mail_hashing")]

DOMAINS = ["a.example", "b.example", "c.example"]
ALIAS_DOMAINS = ["x.example", "y.example"]
LOCALS = ["ann", "bob"]
RELAY = "relay.example"
BUSY_TRANSPORT = "retry:4.2.1 mailbox busy: its Maildir is being moved"


# --- The rules, in Python -----------------------------------------------------------------------


def expected() -> dict[str, Counter]:
    domains = {d.id: d for d in Domain.objects.all()}

    def live_domain(domain_id: int) -> bool:
        d = domains.get(domain_id)
        return d is not None and d.active and d.verified_at is not None

    alias_domains = [
        ad
        for ad in AliasDomain.objects.all()
        if ad.active
        and ad.verified_at is not None
        and live_domain(ad.target_id)
        and domains[ad.target_id].kind == "local"
    ]
    names_under = {}  # domain id -> its live alias domains' names
    for ad in alias_domains:
        names_under.setdefault(ad.target_id, []).append((ad.name, ad.id))

    mailboxes = [
        m
        for m in Mailbox.objects.prefetch_related("forwards")
        if m.active and live_domain(m.domain_id)
    ]
    by_address = {m.address: m for m in mailboxes}
    aliases = [
        a
        for a in Alias.objects.prefetch_related("recipients")
        if a.active and live_domain(a.domain_id)
    ]

    out = {name: Counter() for name in TABLE_QUERIES}
    for d in domains.values():
        if live_domain(d.id):
            out["mail_domains"][(d.name, d.kind)] += 1
            if d.kind == "relay" and d.transport:
                out["mail_transports"][(d.name, d.transport)] += 1
            if d.kind in ("relay", "backup"):
                if d.relay_accept_all:
                    out["mail_relay_recipients"][("@" + d.name,)] += 1
                else:
                    for rr in RelayRecipient.objects.filter(domain=d):
                        out["mail_relay_recipients"][(rr.address,)] += 1
    for ad in alias_domains:
        out["mail_domains"][(ad.name, "alias")] += 1

    for m in mailboxes:
        out["mail_mailboxes"][(m.address, m.maildir)] += 1
        out["mail_passdb"][
            (m.address, m.password, m.allow_imap, m.allow_pop3, m.allow_smtp, m.maildir_busy)
        ] += 1
        out["mail_userdb"][(m.address, m.maildir, f"*:bytes={m.quota_bytes}", m.maildir_busy)] += 1
        allowed = {"imap": m.allow_imap, "pop3": m.allow_pop3, "smtp": m.allow_smtp}
        for app in AppPassword.objects.filter(mailbox=m):
            if allowed[app.protocol]:
                out["mail_app_passwords"][
                    (app.secret_hash, m.address, app.protocol, m.maildir_busy)
                ] += 1
        if m.maildir_busy:
            out["mail_transports"][(m.address, BUSY_TRANSPORT)] += 1
        forwards = [f.address for f in m.forwards.all()]
        targets = forwards + ([m.address] if m.keep_copy or not forwards else [])
        for target in targets:
            out["mail_aliases"][(m.address, target)] += 1
        for name, _ in names_under.get(m.domain_id, []):
            out["mail_aliases"][(f"{m.local_part}@{name}", m.address)] += 1

    for a in aliases:
        recipients = [r.address for r in a.recipients.all()]
        for r in recipients:
            out["mail_aliases"][(a.address, r)] += 1
        for name, _ in names_under.get(a.domain_id, []):
            if a.local_part:
                out["mail_aliases"][(f"{a.local_part}@{name}", a.address)] += 1
            else:
                for r in recipients:
                    out["mail_aliases"][(f"@{name}", r)] += 1

    # sender identities: (local part, domain id, login)
    identities = []
    for m in mailboxes:
        identities.append((m.local_part, m.domain_id, m.address))
    for a in aliases:
        if a.local_part:
            for r in a.recipients.all():
                if r.address in by_address:
                    identities.append((a.local_part, a.domain_id, r.address))
    for g in SenderGrant.objects.all():
        m = next((m for m in mailboxes if m.id == g.mailbox_id), None)
        if m is not None and live_domain(g.domain_id):
            identities.append((g.local_part, g.domain_id, m.address))
    for local, domain_id, login in identities:
        out["mail_sender_logins"][(f"{local}@{domains[domain_id].name}", login)] += 1
        for name, _ in names_under.get(domain_id, []):
            out["mail_sender_logins"][(f"{local}@{name}", login)] += 1
    return out


TABLE_QUERIES = {
    "mail_domains": "SELECT domain, kind FROM mail_domains",
    "mail_transports": "SELECT key, transport FROM mail_transports",
    "mail_relay_recipients": "SELECT address FROM mail_relay_recipients",
    "mail_mailboxes": "SELECT address, maildir FROM mail_mailboxes",
    "mail_aliases": "SELECT address, goto FROM mail_aliases",
    "mail_sender_logins": "SELECT sender, login FROM mail_sender_logins",
    "mail_passdb": (
        "SELECT username, password, allow_imap, allow_pop3, allow_smtp, busy FROM mail_passdb"
    ),
    "mail_userdb": "SELECT username, maildir, quota_rule, busy FROM mail_userdb",
    "mail_app_passwords": "SELECT secret_hash, username, protocol, busy FROM mail_app_passwords",
}


def actual() -> dict[str, Counter]:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        result = {}
        for name, query in TABLE_QUERIES.items():
            cursor.execute(query)
            result[name] = Counter(tuple(row) for row in cursor.fetchall())
        return result


def assert_consistent(step: str) -> None:
    want, have = expected(), actual()
    for name in TABLE_QUERIES:
        missing = want[name] - have[name]
        extra = have[name] - want[name]
        assert not missing and not extra, f"after {step}: {name} missing {missing} extra {extra}"


# --- Random changes ------------------------------------------------------------------------------

domain_name = st.sampled_from(DOMAINS)
alias_domain_name = st.sampled_from(ALIAS_DOMAINS)
local = st.sampled_from(LOCALS)
address = st.builds(lambda lp, d: f"{lp}@{d}", local, domain_name)
outside = st.sampled_from(["far@elsewhere.example", "ann@x.example", "bob@y.example"])
recipient = st.one_of(address, outside)


def _domain(name):
    return Domain.objects.filter(name=name).first()


def _mailbox(addr):
    return Mailbox.objects.filter(address=addr).first()


def _alias(addr):
    return Alias.objects.filter(address=addr).first()


def op_create_domain(name):
    services.domain_create(actor=None, name=name)


def op_create_relay(accept_all):
    services.domain_create(actor=None, name=RELAY, kind="relay", transport="smtp:[mx.far.example]")
    Domain.objects.filter(name=RELAY).update(relay_accept_all=accept_all)


def op_relay_recipient(lp):
    relay = _domain(RELAY)
    if relay:
        RelayRecipient.objects.get_or_create(domain=relay, local_part=lp, address=f"{lp}@{RELAY}")


def op_toggle_domain(name, field):
    domain = _domain(name) or _domain(RELAY)
    if domain is None:
        return
    if field == "active":
        services.domain_update(actor=None, domain=domain, active=not domain.active)
    elif field == "verified":  # a raw write, as a DNS check or a restore would make
        Domain.objects.filter(pk=domain.pk).update(
            verified_at=None if domain.verified_at else domain.created
        )
    else:
        Domain.objects.filter(pk=domain.pk).update(relay_accept_all=not domain.relay_accept_all)


def op_delete_domain(name):
    domain = _domain(name)
    if domain:
        services.domain_delete(actor=None, domain=domain, confirm=True)


def op_alias_domain(name, target):
    domain = _domain(target)
    if domain:
        services.alias_domain_create(actor=None, name=name, target=domain)


def op_toggle_alias_domain(name, field):
    ad = AliasDomain.objects.filter(name=name).first()
    if ad is None:
        return
    if field == "active":
        services.alias_domain_update(actor=None, alias_domain=ad, active=not ad.active)
    elif field == "verified":
        AliasDomain.objects.filter(pk=ad.pk).update(
            verified_at=None if ad.verified_at else ad.created
        )
    else:
        services.alias_domain_delete(actor=None, alias_domain=ad)


def op_create_mailbox(addr):
    services.mailbox_create(actor=None, address=addr, password="a-long-password-1")


def op_update_mailbox(addr, field, forwards):
    mailbox = _mailbox(addr)
    if mailbox is None:
        return
    if field == "forwards":
        services.mailbox_update(actor=None, mailbox=mailbox, forward_to=forwards)
    elif field == "keep_copy":
        services.mailbox_update(actor=None, mailbox=mailbox, keep_copy=not mailbox.keep_copy)
    elif field == "busy":
        Mailbox.objects.filter(pk=mailbox.pk).update(maildir_busy=not mailbox.maildir_busy)
    elif field == "password":
        services.mailbox_set_password(actor=None, mailbox=mailbox, password="another-password-2")
    elif field == "quota":
        services.mailbox_update(actor=None, mailbox=mailbox, quota_bytes=mailbox.quota_bytes + 1)
    else:
        services.mailbox_update(actor=None, mailbox=mailbox, **{field: not getattr(mailbox, field)})


def op_rename_mailbox(addr, new_local):
    mailbox = _mailbox(addr)
    new = f"{new_local}@{mailbox.domain.name}" if mailbox else None
    if mailbox and not _mailbox(new) and not _alias(new):
        Mailbox.objects.filter(pk=mailbox.pk).update(
            address=new, local_part=new_local, maildir=f"{mailbox.domain.name}/{new_local}/"
        )


def op_delete_mailbox(addr):
    mailbox = _mailbox(addr)
    if mailbox:
        services.mailbox_delete(actor=None, mailbox=mailbox)


def op_restore(name):
    """Bring a deleted domain or mailbox back from the trash (refused when taken meanwhile)."""
    item = TrashItem.objects.filter(name=name).order_by("-pk").first()
    if item:
        services.trash_restore(actor=None, item=item)


def op_delete_and_restore(name):
    (op_delete_mailbox if "@" in name else op_delete_domain)(name)
    op_restore(name)


def op_create_alias(addr, catchall, recipients):
    if catchall:
        addr = "@" + addr.split("@")[1]
    services.alias_create(actor=None, address=addr, recipients=recipients)


def op_update_alias(addr, catchall, field, recipients):
    alias = _alias("@" + addr.split("@")[1] if catchall else addr)
    if alias is None:
        return
    if field == "recipients":
        services.alias_update(actor=None, alias=alias, recipients=recipients)
    elif field == "active":
        services.alias_update(actor=None, alias=alias, active=not alias.active)
    else:
        services.alias_delete(actor=None, alias=alias)


def op_grant(addr, granted, catchall):
    mailbox = _mailbox(addr)
    if mailbox is None:
        return
    if catchall:
        granted = "@" + granted.split("@")[1]
    existing = SenderGrant.objects.filter(mailbox=mailbox).first()
    if existing and catchall:
        services.sender_grant_delete(actor=None, grant=existing)
    else:
        services.sender_grant_create(actor=None, mailbox=mailbox, address=granted)


def op_app_password(addr, protocol):
    mailbox = _mailbox(addr)
    if mailbox is None:
        return
    existing = AppPassword.objects.filter(mailbox=mailbox, protocol=protocol).first()
    if existing:
        services.app_password_delete(actor=None, app_password=existing)
    else:
        services.app_password_create(actor=None, mailbox=mailbox, name="app", protocol=protocol)


update_mailbox = st.tuples(
    st.just(op_update_mailbox),
    address,
    st.sampled_from(["forwards", "keep_copy", "busy", "password", "quota", "active", "allow_imap"]),
    st.lists(recipient, max_size=2, unique=True),
)
operations = st.one_of(
    update_mailbox,
    update_mailbox,
    update_mailbox,
    st.tuples(st.just(op_create_domain), domain_name),
    st.tuples(st.just(op_create_relay), st.booleans()),
    st.tuples(st.just(op_relay_recipient), local),
    st.tuples(
        st.just(op_toggle_domain),
        st.sampled_from([*DOMAINS, RELAY]),
        st.sampled_from(["active", "verified", "accept_all"]),
    ),
    st.tuples(st.just(op_delete_domain), domain_name),
    st.tuples(st.just(op_alias_domain), alias_domain_name, domain_name),
    st.tuples(
        st.just(op_toggle_alias_domain),
        alias_domain_name,
        st.sampled_from(["active", "verified", "delete"]),
    ),
    st.tuples(st.just(op_create_mailbox), address),
    st.tuples(
        st.just(op_update_mailbox),
        address,
        st.sampled_from(["forwards", "keep_copy", "busy", "password", "quota", "active"]),
        st.lists(recipient, max_size=2, unique=True),
    ),
    st.tuples(st.just(op_rename_mailbox), address, local),
    st.tuples(st.just(op_delete_mailbox), address),
    st.tuples(st.just(op_restore), st.one_of(domain_name, address)),
    st.tuples(
        st.just(op_create_alias),
        address,
        st.booleans(),
        st.lists(recipient, min_size=1, max_size=3, unique=True),
    ),
    st.tuples(
        st.just(op_update_alias),
        address,
        st.booleans(),
        st.sampled_from(["recipients", "active", "delete"]),
        st.lists(recipient, min_size=1, max_size=3, unique=True),
    ),
    st.tuples(st.just(op_grant), address, address, st.booleans()),
    st.tuples(st.just(op_app_password), address, st.sampled_from(["imap", "pop3", "smtp"])),
)


class Rollback(Exception):
    pass


def starting_point() -> None:
    """Some of every shape, so that short random sequences reach interesting states."""
    for name in DOMAINS:
        services.domain_create(actor=None, name=name)
    op_create_relay(False)
    op_relay_recipient("ann")
    op_alias_domain("x.example", "a.example")
    for addr in ("ann@a.example", "bob@a.example", "ann@b.example"):
        op_create_mailbox(addr)
    services.mailbox_update(
        actor=None,
        mailbox=_mailbox("bob@a.example"),
        forward_to=["far@elsewhere.example"],
        keep_copy=False,
    )
    services.alias_create(
        actor=None, address="@a.example", recipients=["ann@a.example", "far@elsewhere.example"]
    )
    services.alias_create(actor=None, address="@b.example", recipients=["ann@b.example"])
    op_grant("bob@a.example", "bob@b.example", False)
    op_app_password("ann@a.example", "imap")
    op_app_password("ann@b.example", "smtp")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=5, max_size=30))
def test_lookups_follow_every_change(db, steps):
    try:
        with transaction.atomic():
            starting_point()
            assert_consistent("the starting point")
            for i, (operation, *args) in enumerate(steps):
                try:
                    with transaction.atomic():
                        operation(*args)
                except ValidationError:
                    pass  # refused by the rules: nothing changed
                assert_consistent(f"step {i} {operation.__name__}{tuple(args)}")
            raise Rollback
    except Rollback:
        pass


def single_steps():
    """Every operation with every small argument, each applied once to the starting point."""
    addresses = [f"{lp}@{d}" for lp in LOCALS for d in DOMAINS]
    recipient_lists = [["far@elsewhere.example"], ["ann@a.example", "bob@x.example"]]
    yield from ((op_create_domain, d) for d in DOMAINS + ["d.example"])
    yield from ((op_create_relay, b) for b in (True, False))
    yield from ((op_relay_recipient, lp) for lp in LOCALS)
    for name, field in itertools.product([*DOMAINS, RELAY], ["active", "verified", "accept_all"]):
        yield op_toggle_domain, name, field
    yield from ((op_delete_domain, d) for d in DOMAINS)
    yield from ((op_delete_and_restore, d) for d in DOMAINS)
    yield from ((op_alias_domain, n, d) for n, d in itertools.product(ALIAS_DOMAINS, DOMAINS))
    for name, field in itertools.product(ALIAS_DOMAINS, ["active", "verified", "delete"]):
        yield op_toggle_alias_domain, name, field
    for addr in addresses:
        yield op_create_mailbox, addr
        yield op_delete_mailbox, addr
        yield op_delete_and_restore, addr
        for lp in LOCALS:
            yield op_rename_mailbox, addr, lp
        for field in ("keep_copy", "busy", "password", "quota", "active"):
            yield op_update_mailbox, addr, field, []
        for forwards in ([], *recipient_lists):
            yield op_update_mailbox, addr, "forwards", forwards
        for catchall, recipients in itertools.product((False, True), recipient_lists):
            yield op_create_alias, addr, catchall, recipients
            for field in ("recipients", "active", "delete"):
                yield op_update_alias, addr, catchall, field, recipients
        for granted, catchall in itertools.product(addresses, (False, True)):
            yield op_grant, addr, granted, catchall
        for protocol in ("imap", "pop3", "smtp"):
            yield op_app_password, addr, protocol
        for field in ("allow_imap", "allow_smtp"):
            yield op_update_mailbox, addr, field, []


def test_lookups_follow_each_single_change(db):
    starting_point()
    assert_consistent("the starting point")
    for operation, *args in single_steps():
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        operation(*args)
                except ValidationError:
                    pass
                assert_consistent(f"{operation.__name__}{tuple(args)}")
                raise Rollback
        except Rollback:
            pass
