"""Domain ownership: a tenant's new domain is pending until a real DNS server (on loopback) holds
its TXT record; names of the service, public suffixes and reserved names are the operator's."""

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent
from domains import selectors, services, verification
from domains.models import AliasDomain, Domain
from domains.tests.helpers import make_domain, refused


def publish(zone, obj) -> None:
    zone.publish(
        verification.record_name(obj.name), verification.record_value(obj.verification_token)
    )


def test_a_resellers_domain_is_pending_with_a_token(reseller_user):
    domain = services.domain_create(actor=reseller_user, name="claimed.example")
    assert domain.verified_at is None and not domain.is_verified
    assert len(domain.verification_token) == 32
    other = services.domain_create(actor=reseller_user, name="second.example")
    assert other.verification_token != domain.verification_token


def test_a_reseller_cannot_add_a_verified_domain(reseller_user):
    with refused("verified", code="forbidden"):
        services.domain_create(actor=reseller_user, name="claimed.example", verified=True)


def test_superadmins_add_verified_domains_or_ask_for_the_check(superadmin):
    assert services.domain_create(actor=superadmin, name="mine.example").is_verified
    pending = services.domain_create(actor=superadmin, name="theirs.example", verified=False)
    assert not pending.is_verified


def test_a_resellers_alias_domain_is_pending(reseller_user):
    target = services.domain_create(actor=reseller_user, name="target.example")
    alias = services.alias_domain_create(actor=reseller_user, name="other.example", target=target)
    assert alias.verified_at is None and alias.verification_token
    with refused("verified", code="forbidden"):
        services.alias_domain_create(
            actor=reseller_user, name="third.example", target=target, verified=True
        )


def test_verification_against_a_real_dns_server(reseller_user, dns_zone):
    domain = services.domain_create(actor=reseller_user, name="münchen.example")
    with refused("verification", code="not_verified") as info:
        services.domain_verify(actor=reseller_user, domain=domain)
    assert "_mailadmin-verify.xn--mnchen-3ya.example" in str(info.value)
    assert dns_zone.queries == ["_mailadmin-verify.xn--mnchen-3ya.example"]

    dns_zone.publish("_mailadmin-verify.xn--mnchen-3ya.example", "v=spf1 -all")
    with refused("verification", code="not_verified") as info:
        services.domain_verify(actor=reseller_user, domain=domain)
    assert "none is" in str(info.value)

    publish(dns_zone, domain)
    verified = services.domain_verify(actor=reseller_user, domain=domain)
    assert verified.is_verified
    assert Domain.objects.get(pk=domain.pk).verified_at == verified.verified_at
    event = AuditEvent.objects.filter(action="domain.verify").get()
    assert event.changes["method"] == {"before": None, "after": "dns"}
    assert event.changes["verified_at"] == {
        "before": None,
        "after": verified.verified_at.isoformat(),
    }


def test_the_token_must_be_this_domains(reseller_user, dns_zone):
    one = services.domain_create(actor=reseller_user, name="one.example")
    two = services.domain_create(actor=reseller_user, name="two.example")
    dns_zone.publish(
        verification.record_name(two.name), verification.record_value(one.verification_token)
    )
    with refused("verification", code="not_verified"):
        services.domain_verify(actor=reseller_user, domain=two)


def test_a_split_txt_record_counts(reseller_user, dns_zone):
    domain = services.domain_create(actor=reseller_user, name="split.example")
    value = verification.record_value(domain.verification_token)
    # One TXT record made of two character-strings, as some DNS panels publish long values.
    from dnslib import QTYPE, RR, TXT

    original = dns_zone.resolve

    def resolve(request, handler):
        reply = original(request, handler)
        if str(request.q.qname).rstrip(".") == verification.record_name(domain.name):
            reply.rr = [RR(request.q.qname, QTYPE.TXT, rdata=TXT([value[:20], value[20:]]))]
        return reply

    dns_zone.resolve = resolve
    dns_zone.publish(verification.record_name(domain.name), "placeholder")
    assert services.domain_verify(actor=reseller_user, domain=domain).is_verified


def test_dns_that_does_not_answer_leaves_the_domain_pending(reseller_user, settings):
    settings.MAILADMIN_DNS_NAMESERVERS = ["127.0.0.1:9"]  # discard port: nothing answers
    settings.MAILADMIN_DNS_TIMEOUT = 0.5
    domain = services.domain_create(actor=reseller_user, name="offline.example")
    with refused("verification", code="not_verified") as info:
        services.domain_verify(actor=reseller_user, domain=domain)
    assert "did not answer" in str(info.value)


def test_alias_domain_verification(reseller_user, dns_zone):
    target = services.domain_create(actor=reseller_user, name="target.example")
    alias = services.alias_domain_create(actor=reseller_user, name="alias.example", target=target)
    publish(dns_zone, alias)
    assert services.alias_domain_verify(actor=reseller_user, alias_domain=alias).is_verified
    assert not Domain.objects.get(pk=target.pk).is_verified  # each name proves itself


def test_only_superadmins_verify_without_dns(reseller_user, superadmin):
    domain = services.domain_create(actor=reseller_user, name="trusted.example")
    with refused("force", code="forbidden"):
        services.domain_verify(actor=reseller_user, domain=domain, force=True)
    assert services.domain_verify(actor=superadmin, domain=domain, force=True).is_verified


def test_verifying_someone_elses_domain_is_refused(reseller_user, other_reseller_user, dns_zone):
    domain = services.domain_create(actor=reseller_user, name="mine.example")
    publish(dns_zone, domain)
    with pytest.raises(PermissionDenied):
        services.domain_verify(actor=other_reseller_user, domain=domain)
    assert not Domain.objects.get(pk=domain.pk).is_verified


def test_verify_pending_domains_and_its_command(reseller_user, dns_zone, capsys):
    ready = services.domain_create(actor=reseller_user, name="ready.example")
    waiting = services.domain_create(actor=reseller_user, name="waiting.example")
    target = make_domain("target.example")
    alias = services.alias_domain_create(actor=None, name="alias.example", target=target)
    pending_alias = services.alias_domain_create(
        actor=reseller_user,
        name="pending-alias.example",
        target=services.domain_create(actor=reseller_user, name="t2.example"),
    )
    publish(dns_zone, ready)
    publish(dns_zone, pending_alias)
    assert alias.is_verified
    call_command("verify_domains")
    out = capsys.readouterr().out
    assert "verified ready.example" in out and "verified pending-alias.example" in out
    assert "pending  waiting.example" in out
    assert Domain.objects.get(pk=ready.pk).is_verified
    assert not Domain.objects.get(pk=waiting.pk).is_verified
    assert AliasDomain.objects.get(pk=pending_alias.pk).is_verified
    assert services.verify_pending_domains() == {
        "verified": [],
        "pending": ["t2.example", "waiting.example"],
    }


# --- Names a tenant may not claim ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "gmail.com",
        "GMail.com.",
        "mx.gmail.com",  # everything under a reserved name
        "outlook.com",
        "mail.example.net",  # MAIL_HOSTNAME
        "example.net",  # ... its registrable domain
        "smtp.example.net",
        "co.uk",  # public suffixes, ICANN and private sections
        "github.io",
        "foo.localhost",
        "x.in-addr.arpa",
    ],
)
def test_names_a_tenant_may_not_claim(reseller_user, reseller, name):
    target = make_domain("target.example", reseller=reseller)
    with refused("name", code="reserved"):
        services.domain_create(actor=reseller_user, name=name)
    with refused("name", code="reserved"):
        services.alias_domain_create(actor=reseller_user, name=name, target=target)


def test_a_superadmin_may_add_reserved_names(superadmin):
    for name in ("gmail.com", "example.net", "co.uk"):
        assert services.domain_create(actor=superadmin, name=name).name == name


def test_more_server_names_and_the_reserved_list_are_settings(reseller_user, settings):
    settings.MAILADMIN_SERVER_HOSTNAMES = ["mx2.hoster.example"]
    settings.MAILADMIN_RESERVED_DOMAINS = ["brand.example"]
    for name in ("hoster.example", "panel.hoster.example", "brand.example", "a.brand.example"):
        with refused("name", code="reserved"):
            services.domain_create(actor=reseller_user, name=name)
    # The default list was replaced: gmail.com is no longer reserved here.
    assert services.domain_create(actor=reseller_user, name="gmail.com").name == "gmail.com"


def test_a_name_that_merely_ends_like_a_reserved_one_is_fine(reseller_user):
    assert services.domain_create(actor=reseller_user, name="notgmail.com").name == "notgmail.com"


def test_another_tenants_domain_cannot_be_claimed(reseller_user, other_reseller_user):
    services.domain_create(actor=reseller_user, name="taken.example")
    with refused("name", code="duplicate"):
        services.domain_create(actor=other_reseller_user, name="taken.example")
    with refused("name", code="duplicate"):
        services.domain_create(actor=other_reseller_user, name="TAKEN.example.")


# --- Deactivated resellers are read-only --------------------------------------------------------


def test_a_deactivated_resellers_users_and_domain_admins_cannot_write(reseller, reseller_user):
    domain = services.domain_create(actor=reseller_user, name="frozen.example")
    admin = User.objects.create_user(username="frozen-admin", role="domainadmin")
    admin.managed_domains.add(domain)
    mailbox = services.mailbox_create(
        actor=reseller_user, address="a@frozen.example", password="a-long-password"
    )
    reseller.active = False
    reseller.save()
    reseller_user.refresh_from_db()
    for actor in (reseller_user, admin):
        with pytest.raises(PermissionDenied, match="deactivated"):
            services.mailbox_create(
                actor=actor, address="b@frozen.example", password="a-long-password"
            )
        with pytest.raises(PermissionDenied, match="deactivated"):
            services.mailbox_set_password(actor=actor, mailbox=mailbox, password="another-pass-1")
        with pytest.raises(PermissionDenied, match="deactivated"):
            services.alias_create(
                actor=actor, address="x@frozen.example", recipients=[mailbox.address]
            )
        with pytest.raises(PermissionDenied, match="deactivated"):
            services.domain_update(actor=actor, domain=domain, description="changed")
    with pytest.raises(PermissionDenied, match="deactivated"):
        services.domain_create(actor=reseller_user, name="new.example")
    with pytest.raises(PermissionDenied, match="deactivated"):
        account_services.user_create(
            actor=reseller_user, username="late", password=None, role="domainadmin"
        )
    # Reads still work: the scoped selectors answer as before.
    assert list(selectors.domain_list(actor=admin)) == [domain]
    # The operator still can.
    services.mailbox_set_password(actor=None, mailbox=mailbox, password="operator-set-pw")
