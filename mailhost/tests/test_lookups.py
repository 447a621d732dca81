"""What every lookup relation answers for each row shape, through the exact queries of
docs/lookups.md (PostgreSQL: the views exist only there)."""

import pytest

from domains import services
from domains.models import Alias, Domain, Mailbox
from domains.tests.helpers import make_alias, make_domain, make_mailbox
from mailhost.tests.lookup_queries import (
    DOVECOT_QUERIES,
    POSTFIX_MAPS,
    QUERIES,
    postfix,
    postfix_address,
    run,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("cheap_mail_hashing")]


def test_the_doc_gives_every_query():
    assert set(QUERIES) == set(POSTFIX_MAPS) | set(DOVECOT_QUERIES)


def test_quoting_of_keys_is_safe(world):
    assert postfix("virtual_mailbox_maps", "x'; DROP TABLE domains_mailbox; --@example.com") == []
    assert Mailbox.objects.exists()


@pytest.fixture
def world(db):
    """One of each row shape."""
    example = make_domain("example.com")
    off = make_domain("off.example")
    make_domain("relay.example", kind="relay", transport="smtp:[mx.relay.example]:25")
    make_domain("backup.example", kind="backup")
    make_domain("grant.example")
    make_domain("münchen.example")
    services.alias_domain_create(actor=None, name="alias.example", target=example)
    old = services.alias_domain_create(actor=None, name="oldalias.example", target=example)
    services.alias_domain_update(actor=None, alias_domain=old, active=False)
    services.alias_domain_create(actor=None, name="alias-of-off.example", target=off)

    make_mailbox("alice@example.com", quota_bytes=1000)
    make_mailbox("bob@example.com", active=False)
    make_mailbox("eve@example.com", allow_pop3=False, allow_smtp=False)
    make_mailbox("carol@off.example")
    make_mailbox("hans@münchen.example")
    fwd = make_mailbox("fwd@example.com")
    services.mailbox_update(
        actor=None, mailbox=fwd, forward_to=["far@elsewhere.example"], keep_copy=False
    )
    copy = make_mailbox("copy@example.com")
    services.mailbox_update(
        actor=None,
        mailbox=copy,
        forward_to=["far@elsewhere.example", "alice@example.com"],
        keep_copy=True,
    )

    make_alias("team@example.com", ["alice@example.com", "EXT@elsewhere.example"])
    make_alias("dead@example.com", ["alice@example.com"], active=False)
    make_alias("@example.com", ["alice@example.com"])
    make_alias("offalias@off.example", ["carol@off.example"])
    services.sender_grant_create(
        actor=None,
        mailbox=Mailbox.objects.get(address="eve@example.com"),
        address="boss@example.com",
    )
    services.sender_grant_create(
        actor=None, mailbox=Mailbox.objects.get(address="eve@example.com"), address="@grant.example"
    )
    off.active = False
    off.save()
    return example


# --- mail_domains -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "virtual", "relay", "transport"),
    [
        ("example.com", True, False, []),
        ("EXAMPLE.COM", True, False, []),
        ("xn--mnchen-3ya.example", True, False, []),
        ("off.example", False, False, []),
        # alias domains are listed with the local ones (virtual_alias_domains is empty)
        ("alias.example", True, False, []),
        ("oldalias.example", False, False, []),
        ("alias-of-off.example", False, False, []),
        ("relay.example", False, True, ["smtp:[mx.relay.example]:25"]),
        ("backup.example", False, True, []),
        ("unknown.example", False, False, []),
    ],
)
def test_domain_maps(world, key, virtual, relay, transport):
    name = key.lower()
    assert postfix("virtual_mailbox_domains", key) == ([name] if virtual else [])
    assert postfix("relay_domains", key) == ([name] if relay else [])
    # transport_maps is asked with an address; its domain's row answers
    assert postfix("transport_maps", f"someone@{key}") == transport
    # the bare domain (and ".tld") Postfix asks after a miss send no query
    assert postfix("transport_maps", key) == []


# --- mail_mailboxes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "maildir"),
    [
        ("alice@example.com", ["example.com/alice/"]),
        ("Alice@Example.COM", ["example.com/alice/"]),
        ("hans@xn--mnchen-3ya.example", ["xn--mnchen-3ya.example/hans/"]),
        ("bob@example.com", []),  # inactive mailbox
        ("carol@off.example", []),  # inactive domain
        ("team@example.com", []),  # an alias is not a mailbox
        ("alice@alias.example", []),  # alias domains resolve through virtual_alias_maps
        ("nobody@example.com", []),
        ("@example.com", []),
    ],
)
def test_virtual_mailbox_maps(world, key, maildir):
    assert postfix("virtual_mailbox_maps", key) == maildir


# --- mail_aliases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "goto"),
    [
        # an explicit mailbox maps to itself, so the catch-all never sees it
        ("alice@example.com", ["alice@example.com"]),
        ("ALICE@example.com", ["alice@example.com"]),
        # several recipients: one row each
        ("team@example.com", ["alice@example.com", "ext@elsewhere.example"]),
        # inactive alias / inactive mailbox: only the catch-all answers
        ("dead@example.com", ["alice@example.com"]),
        ("bob@example.com", ["alice@example.com"]),
        ("nobody@example.com", ["alice@example.com"]),
        # forwarding without a copy / with a copy
        ("fwd@example.com", ["far@elsewhere.example"]),
        ("copy@example.com", ["alice@example.com", "copy@example.com", "far@elsewhere.example"]),
        # alias domain: mailboxes, explicit aliases and the catch-all, rewritten to the target
        ("alice@alias.example", ["alice@example.com"]),
        ("team@alias.example", ["team@example.com"]),
        ("fwd@alias.example", ["fwd@example.com"]),
        ("nobody@alias.example", ["alice@example.com"]),
        # inactive alias domain, inactive target domain, unknown domain
        ("alice@oldalias.example", []),
        ("carol@alias-of-off.example", []),
        ("carol@off.example", []),
        ("offalias@off.example", []),
        ("x@unknown.example", []),
    ],
)
def test_virtual_alias_maps(world, address, goto):
    assert postfix_address("virtual_alias_maps", address) == goto


def test_catchall_key_and_explicit_key(world):
    assert postfix("virtual_alias_maps", "@example.com") == ["alice@example.com"]
    assert postfix("virtual_alias_maps", "nobody@example.com") == []
    assert postfix("virtual_alias_maps", "@alias.example") == ["alice@example.com"]
    assert postfix("virtual_alias_maps", "@oldalias.example") == []


def test_alias_domain_without_catchall_rejects_unknown_users(world):
    Alias.objects.filter(local_part="").delete()
    assert postfix_address("virtual_alias_maps", "nobody@alias.example") == []
    assert postfix_address("virtual_alias_maps", "alice@alias.example") == ["alice@example.com"]


def test_inactive_mailbox_at_target_is_not_served_at_alias_domain(world):
    Mailbox.objects.filter(address="alice@example.com").update(active=False)
    Alias.objects.filter(local_part="").delete()
    assert postfix_address("virtual_alias_maps", "alice@alias.example") == []
    assert postfix("virtual_alias_maps", "team@example.com") == [
        "alice@example.com",
        "ext@elsewhere.example",
    ]


def test_deactivating_a_domain_hides_everything_at_once(world):
    services.domain_update(actor=None, domain=world, active=False)
    assert postfix("virtual_mailbox_domains", "example.com") == []
    assert postfix("virtual_mailbox_domains", "alias.example") == []
    assert postfix_address("virtual_alias_maps", "team@example.com") == []
    assert postfix_address("virtual_alias_maps", "alice@alias.example") == []
    assert postfix("virtual_mailbox_maps", "alice@example.com") == []
    assert postfix("smtpd_sender_login_maps", "alice@example.com") == []
    assert run("password_query", u="alice@example.com", s="imap") == []
    assert run("user_query", u="alice@example.com") == []


# --- mail_sender_logins -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "logins"),
    [
        ("alice@example.com", ["alice@example.com"]),  # own
        ("team@example.com", ["alice@example.com"]),  # alias pointing to the mailbox
        ("team@alias.example", ["alice@example.com"]),  # ... under the alias domain
        ("alice@alias.example", ["alice@example.com"]),  # own address under the alias domain
        ("boss@example.com", ["eve@example.com"]),  # explicit grant
        ("boss@alias.example", ["eve@example.com"]),  # ... under the alias domain
        ("boss@oldalias.example", []),  # ... not under an inactive alias domain
        ("@grant.example", ["eve@example.com"]),  # domain-wide grant
        ("eve@example.com", ["eve@example.com"]),  # another user's address is not alice's
        ("bob@example.com", []),  # inactive mailbox
        ("dead@example.com", []),  # inactive alias
        ("@example.com", []),  # a catch-all gives no sender rights
        ("alice@oldalias.example", []),  # inactive alias domain
        ("carol@off.example", []),  # inactive domain
        ("nobody@example.com", []),
    ],
)
def test_sender_login_maps(world, sender, logins):
    assert postfix("smtpd_sender_login_maps", sender) == logins


# --- Dovecot ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "alice", "eve"),
    [
        ("imap", True, True),
        ("pop3", True, False),
        ("smtp", True, False),
        ("submission", True, False),
        ("sieve", False, False),
        ("lmtp", False, False),
    ],
)
def test_passdb_protocol_flags(world, service, alice, eve):
    for user, allowed in (("alice@example.com", alice), ("eve@example.com", eve)):
        rows = run("password_query", u=user, s=service)
        if allowed:
            [(username, password)] = rows
            assert username == user
            assert password == Mailbox.objects.get(address=user).password
            assert password.startswith("{ARGON2ID}$argon2id$")
        else:
            assert rows == []


@pytest.mark.parametrize("user", ["bob@example.com", "carol@off.example", "team@example.com"])
def test_passdb_refuses_inactive_and_non_mailboxes(world, user):
    assert run("password_query", u=user, s="imap") == []


def test_userdb(world):
    assert run("user_query", u="alice@example.com") == [
        ("/var/vmail/example.com/alice/", 5000, 5000, "*:bytes=1000", None)
    ]
    assert run("user_query", u="eve@example.com") == [
        ("/var/vmail/example.com/eve/", 5000, 5000, "*:bytes=0", None)
    ]
    assert run("user_query", u="bob@example.com") == []
    assert run("user_query", u="carol@off.example") == []


def test_userdb_quota_follows_updates(world):
    alice = Mailbox.objects.get(address="alice@example.com")
    services.mailbox_update(actor=None, mailbox=alice, quota_bytes=5_000_000)
    assert run("user_query", u="alice@example.com")[0][3] == "*:bytes=5000000"


def test_iterate_lists_live_mailboxes_only(world):
    users = sorted(row[0] for row in run("iterate_query"))
    assert users == [
        "alice@example.com",
        "copy@example.com",
        "eve@example.com",
        "fwd@example.com",
        "hans@xn--mnchen-3ya.example",
    ]


def test_new_rows_are_live_at_once(world):
    make_mailbox("new@example.com")
    assert postfix("virtual_mailbox_maps", "new@example.com") == ["example.com/new/"]
    services.mailbox_delete(actor=None, mailbox=Mailbox.objects.get(address="alice@example.com"))
    assert postfix("virtual_mailbox_maps", "alice@example.com") == []
    # aliases that pointed only there went with it; team keeps its other recipient
    assert postfix("virtual_alias_maps", "team@example.com") == ["ext@elsewhere.example"]
    assert postfix("virtual_alias_maps", "@example.com") == []
    assert not Domain.objects.get(name="example.com").aliases.filter(local_part="").exists()


# --- Ownership, relay recipients, busy mailboxes, sender keys -----------------------------------


def test_a_pending_domain_answers_nothing_until_verified(world):
    claim = make_domain("claimed.example")
    make_mailbox("ceo@claimed.example")
    make_alias("@claimed.example", ["ceo@claimed.example"])
    services.alias_domain_create(actor=None, name="claimed-alias.example", target=claim)
    services.sender_grant_create(
        actor=None,
        mailbox=Mailbox.objects.get(address="alice@example.com"),
        address="@claimed.example",
    )
    live = {
        ("virtual_mailbox_domains", "claimed.example"): ["claimed.example"],
        ("virtual_mailbox_domains", "claimed-alias.example"): ["claimed-alias.example"],
        ("virtual_mailbox_maps", "ceo@claimed.example"): ["claimed.example/ceo/"],
        ("virtual_alias_maps", "@claimed.example"): ["ceo@claimed.example"],
        ("virtual_alias_maps", "ceo@claimed-alias.example"): ["ceo@claimed.example"],
        ("smtpd_sender_login_maps", "@claimed.example"): ["alice@example.com"],
        ("smtpd_sender_login_maps", "ceo@claimed-alias.example"): ["ceo@claimed.example"],
    }
    for (map_name, key), answer in live.items():
        assert postfix(map_name, key) == answer, (map_name, key)

    Domain.objects.filter(pk=claim.pk).update(verified_at=None)
    for map_name, key in live:
        assert postfix(map_name, key) == [], (map_name, key)
    assert run("password_query", u="ceo@claimed.example", s="imap") == []
    assert run("user_query", u="ceo@claimed.example") == []

    # A pending alias domain of a live domain answers nothing either.
    Domain.objects.filter(pk=claim.pk).update(verified_at="2026-01-01T00:00:00Z")
    AliasDomain = claim.alias_domains.model
    AliasDomain.objects.filter(name="claimed-alias.example").update(verified_at=None)
    assert postfix("virtual_mailbox_domains", "claimed.example") == ["claimed.example"]
    assert postfix("virtual_mailbox_domains", "claimed-alias.example") == []
    assert postfix("virtual_alias_maps", "ceo@claimed-alias.example") == []
    assert postfix("smtpd_sender_login_maps", "ceo@claimed-alias.example") == []


def test_relay_recipients_are_validated_unless_the_domain_accepts_all(world):
    relay = Domain.objects.get(name="relay.example")
    relay.relay_recipients.create(local_part="known", address="known@relay.example")
    # existing relay domains were migrated to accept all; a new one validates
    Domain.objects.filter(pk=relay.pk).update(relay_accept_all=False)
    assert postfix("relay_recipient_maps", "known@relay.example") == ["OK"]
    assert postfix_address("relay_recipient_maps", "stranger@relay.example") == []
    Domain.objects.filter(pk=relay.pk).update(relay_accept_all=True)
    assert postfix_address("relay_recipient_maps", "stranger@relay.example") == ["OK"]
    Domain.objects.filter(pk=relay.pk).update(active=False)
    assert postfix_address("relay_recipient_maps", "known@relay.example") == []
    assert postfix("transport_maps", "known@relay.example") == []


def test_a_busy_mailbox_waits_instead_of_taking_mail(world):
    import psycopg

    Mailbox.objects.filter(address="alice@example.com").update(maildir_busy=True)
    # Postfix accepts it, and its transport defers it in the queue
    assert postfix("virtual_alias_maps", "alice@example.com") == ["alice@example.com"]
    [transport] = postfix("transport_maps", "alice@example.com")
    assert transport.startswith("retry:4.")
    assert postfix("transport_maps", "copy@example.com") == []
    # Dovecot's userdb answers tempfail (LMTP 4xx), its passdb a failed query (temporary)
    assert run("user_query", u="alice@example.com")[0][4] == "yes"
    with pytest.raises(Exception) as failure:
        run("password_query", u="alice@example.com", s="imap")
    assert isinstance(failure.value.__cause__, psycopg.errors.LockNotAvailable)


def test_an_address_row_beats_its_domain_row_in_one_transport_query(world):
    # Both rows at once (a domain turned relay under a busy mailbox, written past the services):
    # the single query answers the address's own row, and only that one.
    Domain.objects.filter(name="example.com").update(kind="relay", transport="smtp:[mx.x.example]")
    Mailbox.objects.filter(address="alice@example.com").update(maildir_busy=True)
    [transport] = postfix("transport_maps", "alice@example.com")
    assert transport.startswith("retry:4.")
    assert postfix("transport_maps", "eve@example.com") == ["smtp:[mx.x.example]"]


def test_a_busy_mailbox_is_live_again_when_the_operation_ends(world):
    Mailbox.objects.filter(address="alice@example.com").update(maildir_busy=True)
    assert postfix("transport_maps", "alice@example.com") != []
    Mailbox.objects.filter(address="alice@example.com").update(maildir_busy=False)
    assert postfix("transport_maps", "alice@example.com") == []
    assert run("user_query", u="alice@example.com")[0][4] is None
    assert run("password_query", u="alice@example.com", s="imap")[0][0] == "alice@example.com"


@pytest.mark.parametrize(
    "sender",
    [
        "alice@example.com@grant.example",  # MAIL FROM:<"alice@example.com"@grant.example>
        "alice@example.com@example.com",
        "alice@example.com@alias.example",
    ],
)
def test_sender_keys_with_two_ats_match_no_identity(world, sender):
    assert postfix("smtpd_sender_login_maps", sender) == []


def test_a_grant_goes_with_its_domain(world):
    eve = Mailbox.objects.get(address="eve@example.com")
    assert postfix("smtpd_sender_login_maps", "@grant.example") == ["eve@example.com"]
    services.domain_delete(
        actor=None, domain=Domain.objects.get(name="grant.example"), confirm=True
    )
    assert not eve.sender_grants.filter(domain__name="grant.example").exists()
    assert postfix("smtpd_sender_login_maps", "@grant.example") == []
    # the next owner of the name starts without it
    make_domain("grant.example")
    assert postfix("smtpd_sender_login_maps", "@grant.example") == []


@pytest.mark.parametrize(
    ("sender", "owned"),
    [
        ("alice@example.com", True),  # a mailbox
        ("team@example.com", True),  # an alias that delivers to one
        ("team@alias.example", True),  # ... under an alias domain
        ("boss@example.com", True),  # a grant
        ("anyone@grant.example", True),  # a grant of the whole domain
        ("nobody@example.com", False),
        ("bob@example.com", False),  # inactive mailbox: nobody's
        ("someone@elsewhere.example", False),
    ],
)
def test_owned_senders_for_the_port_25_check(world, sender, owned):
    domain = sender.rpartition("@")[2]
    rows = run("owned_senders", s=sender, d=domain)
    assert (rows != []) == owned
    if owned:
        assert rows[0][0].startswith("REJECT ")
