"""Every bad-input rule of issue 2: a validation error naming the field, and nothing written
(no row and no audit event)."""

import pytest

from domains import services
from domains.models import AliasDomain
from domains.tests.helpers import make_alias, make_domain, make_mailbox, refused

LONG_LABEL = "a" * 64
# 4 labels of 63 + 3 dots = 255 > 253, each label valid on its own
LONG_NAME = ".".join(["b" * 63] * 3 + ["c" * 59]) + ".example"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        ".",
        f"{LONG_LABEL}.example",
        LONG_NAME,
        "under_score.example",
        "-lead.example",
        "trail-.example",
        "exa mple.com",
        "1.2.3.4",
        "[1.2.3.4]",
        "::1",
        "2001:db8::1",
        "[IPv6:2001:db8::1]",
        "localhost",
        "example.123",
        "a..example",
        "exa/mple.com",
    ],
)
def test_invalid_domain_names(db, name):
    with refused("name"):
        make_domain(name)


def test_long_name_is_over_253():
    assert len(LONG_NAME) > 253


@pytest.mark.parametrize(
    "name",
    ["under_score.example", "[1.2.3.4]", "1.2.3.4", "2001:db8::1", f"{LONG_LABEL}.example"],
)
def test_invalid_alias_domain_names(domain, name):
    with refused("name"):
        services.alias_domain_create(actor=None, name=name, target=domain)


def test_valid_limits_of_length_are_accepted(db):
    label63 = "d" * 63
    assert make_domain(f"{label63}.example").name == f"{label63}.example"
    name253 = ".".join(["e" * 63] * 3 + ["f" * 58]) + ".ex"
    assert len(name253) == 253
    assert make_domain(name253).name == name253


@pytest.mark.parametrize(
    "address",
    [
        "plain",
        "@example.com",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a b@example.com",
        "a/b@example.com",
        "a%b@example.com",
        "a|b@example.com",
        '"quoted"@example.com',
        "ümlaut@example.com",
        "a@b@example.com",
        f"{'x' * 65}@example.com",
    ],
)
def test_invalid_local_parts(domain, address):
    with refused("address"):
        make_mailbox(address)
    if not address.startswith("@"):  # `@domain` is a valid catch-all alias
        with refused("address"):
            make_alias(address, ["someone@elsewhere.example"])


def test_local_part_of_64_is_accepted(domain):
    assert make_mailbox(f"{'x' * 64}@example.com").local_part == "x" * 64


def test_address_in_a_domain_that_does_not_exist(domain):
    with refused("address", code="no_domain"):
        make_mailbox("alice@nowhere.example")
    with refused("address", code="no_domain"):
        make_alias("sales@nowhere.example", ["x@elsewhere.example"])


def test_address_at_an_alias_domain_or_relay_domain_is_refused(domain):
    services.alias_domain_create(actor=None, name="alias.example", target=domain)
    make_domain("relay.example", kind="relay", transport="smtp:[mx.relay.example]:25")
    with refused("address"):
        make_mailbox("alice@alias.example")
    with refused("address"):
        make_mailbox("alice@relay.example")
    with refused("address"):
        make_alias("x@relay.example", ["y@elsewhere.example"])


@pytest.mark.parametrize("existing", ["alice@example.com", "ALICE@example.com"])
@pytest.mark.parametrize("new", ["alice@example.com", "Alice@EXAMPLE.COM", "ALICE@Example.Com."])
def test_duplicate_mailbox_in_any_case(domain, existing, new):
    make_mailbox(existing)
    with refused("address", code="duplicate"):
        make_mailbox(new)


def test_duplicate_alias_vs_mailbox_in_any_case(domain):
    make_mailbox("alice@example.com")
    make_alias("sales@example.com", ["alice@example.com"])
    with refused("address", code="duplicate"):
        make_alias("Alice@Example.COM", ["x@elsewhere.example"])
    with refused("address", code="duplicate"):
        make_mailbox("SALES@example.com")
    with refused("address", code="duplicate"):
        make_alias("Sales@EXAMPLE.com", ["x@elsewhere.example"])


def test_duplicate_catchall(domain):
    make_alias("@example.com", ["x@elsewhere.example"])
    with refused("address", code="duplicate"):
        make_alias("@EXAMPLE.com", ["y@elsewhere.example"])


def test_duplicate_domain_and_alias_domain_names(domain):
    services.alias_domain_create(actor=None, name="alias.example", target=domain)
    with refused("name", code="duplicate"):
        make_domain("EXAMPLE.com")
    with refused("name", code="duplicate"):
        make_domain("Alias.Example.")
    with refused("name", code="duplicate"):
        services.alias_domain_create(actor=None, name="example.com", target=domain)
    with refused("name", code="duplicate"):
        services.alias_domain_create(actor=None, name="ALIAS.example", target=domain)


def test_alias_domain_target_must_be_local(db):
    relay = make_domain("relay.example", kind="relay", transport="mx.relay.example")
    with refused("target"):
        services.alias_domain_create(actor=None, name="a.example", target=relay)


@pytest.mark.parametrize(
    ("kind", "transport", "field"),
    [
        ("nonsense", "", "kind"),
        ("relay", "", "transport"),
        ("relay", "smtp:[a] , b", "transport"),
        ("local", "smtp:[mx.example]:25", "transport"),
        ("backup", "smtp:[mx.example]:25", "transport"),
    ],
)
def test_domain_kind_and_transport(db, kind, transport, field):
    with refused(field):
        make_domain("d.example", kind=kind, transport=transport)


def test_relay_transport_defaults_to_smtp(db):
    assert make_domain("r.example", kind="relay", transport="mx.r.example").transport == (
        "smtp:[mx.r.example]"
    )


@pytest.mark.parametrize("field", ["max_mailboxes", "total_quota", "default_quota"])
@pytest.mark.parametrize("value", [-1, "5", 1.5, True])
def test_domain_limits_must_be_whole_numbers(db, field, value):
    with refused(field):
        make_domain("d.example", **{field: value})


def test_mailbox_quota_must_be_a_whole_number(domain):
    with refused("quota_bytes"):
        make_mailbox("a@example.com", quota_bytes=-5)


def test_password_rules(domain):
    with refused("password", code="required"):
        services.mailbox_create(actor=None, address="a@example.com")
    with refused("password", code="too_short"):
        make_mailbox("a@example.com", password="short")
    with refused("password"):
        make_mailbox("a@example.com", password="long enough\nbut broken")
    with refused("password"):
        services.mailbox_create(
            actor=None, address="a@example.com", password="x" * 20, password_hash="{X}y"
        )


# --- quotas -------------------------------------------------------------------------------------


def test_quota_above_the_per_mailbox_maximum(db):
    make_domain("q.example", max_quota_per_mailbox=1000)
    with refused("quota_bytes", code="limit"):
        make_mailbox("a@q.example", quota_bytes=1001)
    assert make_mailbox("a@q.example", quota_bytes=1000).quota_bytes == 1000


def test_quota_above_the_domain_total(db):
    make_domain("q.example", total_quota=1000)
    make_mailbox("a@q.example", quota_bytes=600)
    with refused("quota_bytes", code="limit"):
        make_mailbox("b@q.example", quota_bytes=401)
    assert make_mailbox("b@q.example", quota_bytes=400).quota_bytes == 400


def test_quota_above_the_reseller_pool(reseller):
    reseller.max_quota_bytes = 1000
    reseller.save()
    make_domain("one.example", reseller=reseller)
    make_domain("two.example", reseller=reseller)
    make_mailbox("a@one.example", quota_bytes=700)
    with refused("quota_bytes", code="limit"):
        make_mailbox("b@two.example", quota_bytes=301)
    make_mailbox("b@two.example", quota_bytes=300)


@pytest.mark.parametrize("limit", [{"max_quota_per_mailbox": 1000}, {"total_quota": 1000}, "pool"])
def test_unlimited_quota_when_a_limit_applies(reseller, limit):
    if limit == "pool":
        reseller.max_quota_bytes = 1000
        reseller.save()
        make_domain("q.example", reseller=reseller)
    else:
        make_domain("q.example", **limit)
    with refused("quota_bytes", code="limit"):
        make_mailbox("a@q.example", quota_bytes=0)
    # the domain's default quota (0 here) is unlimited too
    with refused("quota_bytes", code="limit"):
        make_mailbox("a@q.example")


def test_default_quota_applies(db):
    make_domain("q.example", max_quota_per_mailbox=1000, default_quota=500)
    assert make_mailbox("a@q.example").quota_bytes == 500


def test_quota_change_is_checked(db):
    make_domain("q.example", total_quota=1000)
    a = make_mailbox("a@q.example", quota_bytes=500)
    make_mailbox("b@q.example", quota_bytes=500)
    with refused("quota_bytes", code="limit"):
        services.mailbox_update(actor=None, mailbox=a, quota_bytes=501)
    with refused("quota_bytes", code="limit"):
        services.mailbox_update(actor=None, mailbox=a, quota_bytes=0)
    services.mailbox_update(actor=None, mailbox=a, quota_bytes=400)
    a.refresh_from_db()
    assert a.quota_bytes == 400


def test_default_quota_above_per_mailbox_maximum(db):
    with refused("default_quota"):
        make_domain("q.example", max_quota_per_mailbox=100, default_quota=200)


# --- counts -------------------------------------------------------------------------------------


def test_domain_max_mailboxes(db):
    make_domain("c.example", max_mailboxes=2)
    make_mailbox("a@c.example")
    make_mailbox("b@c.example")
    with refused("address", code="limit"):
        make_mailbox("c@c.example")


def test_domain_max_aliases(db):
    make_domain("c.example", max_aliases=1)
    make_alias("a@c.example", ["x@elsewhere.example"])
    with refused("address", code="limit"):
        make_alias("b@c.example", ["x@elsewhere.example"])
    with refused("address", code="limit"):
        make_alias("@c.example", ["x@elsewhere.example"])


def test_reseller_max_mailboxes_across_domains(reseller):
    reseller.max_mailboxes = 2
    reseller.save()
    make_domain("one.example", reseller=reseller)
    make_domain("two.example", reseller=reseller)
    make_mailbox("a@one.example")
    make_mailbox("b@two.example")
    with refused("address", code="limit"):
        make_mailbox("c@two.example")


def test_reseller_max_aliases_across_domains(reseller):
    reseller.max_aliases = 1
    reseller.save()
    make_domain("one.example", reseller=reseller)
    make_domain("two.example", reseller=reseller)
    make_alias("a@one.example", ["x@elsewhere.example"])
    with refused("address", code="limit"):
        make_alias("b@two.example", ["x@elsewhere.example"])


def test_reseller_max_domains(reseller, reseller_user):
    reseller.max_domains = 1
    reseller.save()
    services.domain_create(actor=reseller_user, name="one.example")
    with refused("name", code="limit"):
        services.domain_create(actor=reseller_user, name="two.example")
    with refused("name", code="limit"):
        make_domain("three.example", reseller=reseller)


def test_disabled_reseller_cannot_add_domains(reseller):
    reseller.active = False
    reseller.save()
    with refused("reseller"):
        make_domain("one.example", reseller=reseller)


# --- aliases ------------------------------------------------------------------------------------


def test_alias_needs_a_recipient(domain):
    with refused("recipients", code="required"):
        make_alias("a@example.com", [])
    with refused("recipients"):
        make_alias("a@example.com", "x@elsewhere.example")


def test_invalid_recipient_address(domain):
    with refused("recipients"):
        make_alias("a@example.com", ["not an address"])
    with refused("recipients"):
        make_alias("a@example.com", ["x@under_score.example"])


def test_alias_recipient_must_exist_in_a_local_domain(domain):
    with refused("recipients", code="no_recipient"):
        make_alias("a@example.com", ["ghost@example.com"])
    services.alias_domain_create(actor=None, name="alias.example", target=domain)
    with refused("recipients", code="no_recipient"):
        make_alias("a@example.com", ["ghost@alias.example"])
    # external domains and relay domains are not checked
    make_domain("relay.example", kind="relay", transport="mx.relay.example")
    make_alias("a@example.com", ["someone@relay.example", "x@elsewhere.example"])


def test_recipient_through_alias_domain_or_catchall_exists(domain):
    make_mailbox("bob@example.com")
    services.alias_domain_create(actor=None, name="alias.example", target=domain)
    make_alias("a@example.com", ["BOB@alias.example"])
    make_alias("@example.com", ["bob@example.com"])
    make_alias("b@example.com", ["anyone@example.com"])  # the catch-all answers for it


def test_alias_loop_two_aliases(domain):
    make_alias("b@example.com", ["x@elsewhere.example"])
    a = make_alias("a@example.com", ["b@example.com"])
    b = a.__class__.objects.get(address="b@example.com")
    with refused("recipients", code="loop"):
        services.alias_update(actor=None, alias=b, recipients=["A@example.com"])
    assert list(b.recipients.values_list("address", flat=True)) == ["x@elsewhere.example"]


def test_alias_loop_longer_chain_and_alias_domain(domain):
    services.alias_domain_create(actor=None, name="alias.example", target=domain)
    make_alias("c@example.com", ["x@elsewhere.example"])
    make_alias("b@example.com", ["c@example.com"])
    make_alias("a@example.com", ["b@alias.example"])
    c = a_get("c@example.com")
    with refused("recipients", code="loop"):
        services.alias_update(actor=None, alias=c, recipients=["a@alias.example"])
    with refused("recipients", code="loop"):
        services.alias_update(actor=None, alias=c, recipients=["c@example.com"])


def test_alias_to_itself_through_catchall(domain):
    make_alias("@example.com", ["x@elsewhere.example"])
    with refused("recipients", code="loop"):
        make_alias("a@example.com", ["a@example.com"])


def test_alias_loop_through_mailbox_forwarding(domain):
    mailbox = make_mailbox("m@example.com")
    make_alias("a@example.com", ["m@example.com"])
    with refused("forward_to", code="loop"):
        services.mailbox_update(actor=None, mailbox=mailbox, forward_to=["a@example.com"])
    assert not mailbox.forwards.exists()
    # and the other way round: m forwards to b, then b -> m would loop
    make_alias("b@example.com", ["x@elsewhere.example"])
    services.mailbox_update(
        actor=None, mailbox=mailbox, forward_to=["b@example.com"], keep_copy=False
    )
    with refused("recipients", code="loop"):
        services.alias_update(
            actor=None, alias=a_get("b@example.com"), recipients=["m@example.com"]
        )


def test_forward_to_self_is_refused(domain):
    mailbox = make_mailbox("m@example.com")
    with refused("forward_to"):
        services.mailbox_update(actor=None, mailbox=mailbox, forward_to=["M@example.com"])


def test_forward_to_unknown_local_address_is_refused(domain):
    mailbox = make_mailbox("m@example.com")
    with refused("forward_to", code="no_recipient"):
        services.mailbox_update(actor=None, mailbox=mailbox, forward_to=["ghost@example.com"])


def a_get(address):
    from domains.models import Alias

    return Alias.objects.get(address=address)


# --- limits lowered below usage ----------------------------------------------------------------


def test_domain_limits_lowered_below_usage(db):
    d = make_domain("l.example", max_quota_per_mailbox=1000, total_quota=3000)
    make_mailbox("a@l.example", quota_bytes=800)
    make_mailbox("b@l.example", quota_bytes=900)
    make_alias("x@l.example", ["a@l.example"])
    make_alias("y@l.example", ["a@l.example"])
    for field, value in [
        ("max_mailboxes", 1),
        ("max_aliases", 1),
        ("max_quota_per_mailbox", 850),
        ("total_quota", 1600),
    ]:
        with refused(field):
            services.domain_update(actor=None, domain=d, **{field: value})
    d.refresh_from_db()
    assert (d.max_mailboxes, d.max_aliases, d.max_quota_per_mailbox, d.total_quota) == (
        0,
        0,
        1000,
        3000,
    )
    services.domain_update(actor=None, domain=d, max_mailboxes=2, total_quota=1700)


def test_domain_limits_cannot_be_set_over_unlimited_mailboxes(db):
    d = make_domain("l.example")
    make_mailbox("a@l.example", quota_bytes=0)
    with refused("max_quota_per_mailbox"):
        services.domain_update(actor=None, domain=d, max_quota_per_mailbox=1000)
    with refused("total_quota"):
        services.domain_update(actor=None, domain=d, total_quota=10_000)


def test_domain_update_rejects_unknown_fields(domain):
    with refused("name"):
        services.domain_update(actor=None, domain=domain, name="other.example")


def test_kind_change_with_mailboxes_is_refused(domain):
    make_mailbox("a@example.com")
    with refused("kind"):
        services.domain_update(
            actor=None, domain=domain, kind="relay", transport="smtp:[mx.example]:25"
        )


def test_alias_domain_counts_for_the_reseller_domain_limit(reseller):
    reseller.max_domains = 2
    reseller.save()
    one = make_domain("one.example", reseller=reseller)
    services.alias_domain_create(actor=None, name="alias-one.example", target=one)
    with refused("name", code="limit"):
        make_domain("two.example", reseller=reseller)
    with refused("name", code="limit"):
        services.alias_domain_create(actor=None, name="alias-two.example", target=one)
    assert AliasDomain.objects.count() == 1


def test_a_domain_has_a_bounded_number_of_alias_domains(domain, settings):
    """Each alias domain repeats every address of its target in the lookup tables: without a
    bound, one tenant could multiply them by thousands."""
    settings.MAILADMIN_MAX_ALIAS_DOMAINS = 3
    for i in range(3):
        services.alias_domain_create(actor=None, name=f"a{i}.example", target=domain)
    with refused("target", code="limit"):
        services.alias_domain_create(actor=None, name="a3.example", target=domain)
    other = make_domain("other.example")
    services.alias_domain_create(actor=None, name="a3.example", target=other)
