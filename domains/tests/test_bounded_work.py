"""Bounded work per request: recipient and forward lists have a documented maximum, and checking
them costs the same number of queries at 5 addresses as at 400, at depth 2 as at depth 300.
Addresses in another tenant's domains are treated as external (no existence oracle)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains import services
from domains.models import Alias, AliasRecipient, Mailbox, maildir_for
from domains.tests.helpers import make_alias, make_domain, make_mailbox, refused


def bulk_mailboxes(domain, locals_: list[str]) -> list[str]:
    """Rows straight into the table: set-up for the measured call, not what is measured."""
    Mailbox.objects.bulk_create(
        Mailbox(
            domain=domain,
            local_part=local,
            address=f"{local}@{domain.name}",
            password="{SHA512-CRYPT}$6$x$" + "a" * 86,
            maildir=maildir_for(local, domain.name),
        )
        for local in locals_
    )
    return [f"{local}@{domain.name}" for local in locals_]


def queries(func) -> int:
    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


@pytest.fixture
def boxes(domain):
    return bulk_mailboxes(domain, [f"u{i}" for i in range(400)])


def test_alias_recipient_checks_do_not_grow_with_the_list(boxes):
    small = queries(lambda: make_alias("small@example.com", boxes[:5]))
    large = queries(lambda: make_alias("large@example.com", boxes))
    assert small == large, (small, large)
    assert AliasRecipient.objects.filter(alias__address="large@example.com").count() == 400
    update = queries(
        lambda: services.alias_update(
            actor=None, alias=Alias.objects.get(address="small@example.com"), recipients=boxes
        )
    )
    assert update <= large + 2, (update, large)


def test_forward_checks_do_not_grow_with_the_list(domain, settings):
    settings.MAILADMIN_MAX_FORWARDS = 400
    targets = bulk_mailboxes(domain, [f"f{i}" for i in range(300)])
    owner_small, owner_large = make_mailbox("s@example.com"), make_mailbox("l@example.com")
    small = queries(
        lambda: services.mailbox_update(actor=None, mailbox=owner_small, forward_to=targets[:3])
    )
    large = queries(
        lambda: services.mailbox_update(actor=None, mailbox=owner_large, forward_to=targets)
    )
    assert small == large, (small, large)


def test_the_loop_check_is_one_query_at_any_depth(domain):
    make_mailbox("end@example.com")
    # A chain of 300 aliases: c0 -> c1 -> ... -> c299 -> end.
    chain = Alias.objects.bulk_create(
        Alias(domain=domain, local_part=f"c{i}", address=f"c{i}@example.com") for i in range(300)
    )
    AliasRecipient.objects.bulk_create(
        AliasRecipient(
            alias=alias, address=f"c{i + 1}@example.com" if i < 299 else "end@example.com"
        )
        for i, alias in enumerate(chain)
    )
    shallow = queries(lambda: make_alias("short@example.com", ["c298@example.com"]))
    deep = queries(lambda: make_alias("long@example.com", ["c0@example.com"]))
    assert shallow == deep, (shallow, deep)
    # Closing the chain into a ring is found through all 300 hops.
    with refused("recipients", code="loop"):
        services.alias_update(
            actor=None,
            alias=Alias.objects.get(address="c299@example.com"),
            recipients=["c0@example.com"],
        )


def test_a_cycle_elsewhere_in_the_graph_ends_the_check(domain):
    make_mailbox("m@example.com")
    x = make_alias("x@example.com", ["m@example.com"])
    y = make_alias("y@example.com", ["x@example.com"])
    # x <-> y written straight into the table (the services would refuse it): the walk from a
    # new alias into that ring must still end, and find no way back to the new alias.
    AliasRecipient.objects.create(alias=x, address="y@example.com")
    assert make_alias("z@example.com", ["y@example.com"]).address == "z@example.com"
    with refused("recipients", code="loop"):
        services.alias_update(actor=None, alias=y, recipients=["x@example.com", "y@example.com"])


@pytest.mark.parametrize(
    ("setting", "call"),
    [
        ("MAILADMIN_MAX_ALIAS_RECIPIENTS", "alias"),
        ("MAILADMIN_MAX_FORWARDS", "forward"),
    ],
)
def test_list_maximums_are_settings(domain, settings, setting, call):
    setattr(settings, setting, 3)
    targets = [f"t{i}@elsewhere.example" for i in range(4)]
    if call == "alias":
        with refused("recipients", code="limit"):
            make_alias("a@example.com", targets)
        assert make_alias("a@example.com", targets[:3])
    else:
        box = make_mailbox("b@example.com")
        with refused("forward_to", code="limit"):
            services.mailbox_update(actor=None, mailbox=box, forward_to=targets)
        services.mailbox_update(actor=None, mailbox=box, forward_to=targets[:3])


def test_default_maximums(settings):
    assert settings.MAILADMIN_MAX_ALIAS_RECIPIENTS == 500
    assert settings.MAILADMIN_MAX_FORWARDS == 50


# --- Other tenants' addresses are external ------------------------------------------------------


@pytest.fixture
def two_tenants(reseller, reseller_user, other_reseller_user):
    mine = make_domain("mine.example", reseller=reseller)
    theirs = make_domain("theirs.example", reseller=other_reseller_user.reseller)
    make_domain("theirs-alias-target.example", reseller=other_reseller_user.reseller)
    services.alias_domain_create(actor=None, name="theirs-alias.example", target=theirs)
    make_mailbox("me@mine.example")
    make_mailbox("real@theirs.example")
    return reseller_user, mine


@pytest.mark.parametrize(
    "target",
    [
        "real@theirs.example",
        "nobody@theirs.example",
        "real@theirs-alias.example",
        "nobody@theirs-alias.example",
    ],
)
def test_another_tenants_address_gets_the_same_answer_whether_it_exists(two_tenants, target):
    actor, _ = two_tenants
    alias = services.alias_create(actor=actor, address="a@mine.example", recipients=[target])
    assert [r.address for r in alias.recipients.all()] == [target]
    box = services.mailbox_create(
        actor=actor, address="fwd@mine.example", password="a-long-password"
    )
    services.mailbox_update(actor=actor, mailbox=box, forward_to=[target])
    assert [f.address for f in box.forwards.all()] == [target]


def test_own_missing_addresses_are_still_refused(two_tenants):
    actor, _ = two_tenants
    with refused("recipients", code="no_recipient"):
        services.alias_create(
            actor=actor, address="a@mine.example", recipients=["nobody@mine.example"]
        )


def test_the_loop_check_does_not_follow_another_tenants_aliases(two_tenants, other_reseller_user):
    """A loop through another tenant's alias is not seen at write time (following it would tell
    where their alias points); Postfix stops such mail at delivery (docs/security.md)."""
    actor, _ = two_tenants
    back = services.alias_create(
        actor=other_reseller_user, address="back@theirs.example", recipients=["me@mine.example"]
    )
    services.alias_create(
        actor=actor, address="out@mine.example", recipients=["back@theirs.example"]
    )
    # The operator sees every domain: closing the ring out -> back -> out is refused for it...
    with refused("recipients", code="loop"):
        services.alias_update(actor=None, alias=back, recipients=["out@mine.example"])
    # ... while the other tenant, who cannot see where out@mine.example goes, is not told.
    services.alias_update(actor=other_reseller_user, alias=back, recipients=["out@mine.example"])
    assert [r.address for r in back.recipients.all()] == ["out@mine.example"]
