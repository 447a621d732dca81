"""Relay transports: only superadmins choose them, and even they only point at public next hops
unless the operator's setting allows internal ones. Relay recipients and the accept-all switch."""

import pytest
from django.core.exceptions import ValidationError

from domains import services
from domains.models import Domain, RelayRecipient
from domains.policy import normalize_transport
from domains.tests.helpers import make_domain, refused


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("mx.relay.example", "smtp:[mx.relay.example]"),
        ("[mx.relay.example]:2525", "smtp:[mx.relay.example]:2525"),
        ("smtp:[mx.relay.example]:25", "smtp:[mx.relay.example]:25"),
        ("SMTP:mx.relay.example", "smtp:mx.relay.example"),  # MX lookup of the host
        ("smtp:mx.relay.example:587", "smtp:mx.relay.example:587"),
        ("smtp:[192.0.43.10]:25", "smtp:[192.0.43.10]:25"),
        ("smtp:192.0.43.10", "smtp:[192.0.43.10]"),
        ("smtp:[ipv6:2620:0:2d0:200::10]:25", "smtp:[ipv6:2620:0:2d0:200::10]:25"),
        ("lmtp:[lmtp.relay.example]:24", "lmtp:[lmtp.relay.example]:24"),
        ("lmtp:inet:lmtp.relay.example:24", "lmtp:lmtp.relay.example:24"),
        ("smtp:[münchen.example]", "smtp:[xn--mnchen-3ya.example]"),
    ],
)
def test_accepted_transports(given, stored):
    assert normalize_transport(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "relay:[127.0.0.1]:2525",
        "local:",
        "pipe:",
        "pipe:flags=R user=nobody argv=/bin/sh",
        "uucp:host",
        "virtual:",
        "error:5.1.1 gone",
        "lmtp:unix:/var/run/dovecot/lmtp",
        "lmtp:unix:private/dovecot-lmtp",
        "smtp:[169.254.169.254]:80",
        "smtp:[127.0.0.1]:25",
        "smtp:[127.1.2.3]",
        "smtp:[10.0.0.25]:25",
        "smtp:[172.16.1.1]",
        "smtp:[192.168.1.1]",
        "smtp:[100.64.0.1]",  # carrier-grade NAT
        "smtp:[0.0.0.0]",
        "smtp:[ipv6:::1]:25",
        "smtp:[ipv6:fe80::1]",
        "smtp:[ipv6:fd00::1]",
        "smtp:[ipv6:::ffff:127.0.0.1]",
        "smtp:[ipv6:2002:7f00:1::1]",  # 6to4 around 127.0.0.1
        "smtp:[localhost]:25",
        "smtp:localhost",
        "smtp:[foo.localhost]",
        "smtp:[db.internal]",
        "smtp:[mail.example.net]",  # MAIL_HOSTNAME
        "smtp:[x.mail.example.net]",
        "smtp:[::1]:25",
        "smtp:::1",
        "smtp:[mx.example]:0",
        "smtp:[mx.example]:65536",
        "smtp:[mx.example]:",
        "smtp:[mx.example]x",
        "smtp:[mx.example",
        "smtp:",
        "smtp:[]",
        "smtp:[999.1.1.1]",
        "smtp:[a] , b",
        "smtp:[mx.example];rm",
        "smtp:[bеta.example]",  # look-alike host
    ],
)
def test_refused_transports(given):
    with pytest.raises(ValidationError) as info:
        normalize_transport(given)
    assert "transport" in info.value.error_dict


def test_the_operator_may_allow_internal_next_hops(db, settings):
    assert normalize_transport("smtp:[127.0.0.1]:2525", allow_internal=True) == (
        "smtp:[127.0.0.1]:2525"
    )
    assert normalize_transport("lmtp:unix:/run/lmtp", allow_internal=True) == "lmtp:unix:/run/lmtp"
    settings.MAILADMIN_TRANSPORT_ALLOW_INTERNAL = True
    domain = make_domain("r.example", kind="relay", transport="smtp:[10.0.0.25]:25")
    assert domain.transport == "smtp:[10.0.0.25]:25"


def test_the_service_refuses_internal_next_hops_even_for_superadmins(superadmin):
    with refused("transport"):
        services.domain_create(
            actor=superadmin, name="r.example", kind="relay", transport="smtp:[127.0.0.1]:25"
        )


def test_only_superadmins_choose_transports(reseller_user, superadmin):
    with refused("transport", code="forbidden"):
        services.domain_create(
            actor=reseller_user, name="r.example", kind="relay", transport="smtp:[mx.relay.example]"
        )
    domain = services.domain_create(
        actor=superadmin,
        name="r.example",
        kind="relay",
        transport="smtp:[mx.relay.example]",
        reseller=reseller_user.reseller,
    )
    with refused("transport", code="forbidden"):
        services.domain_update(actor=reseller_user, domain=domain, transport="smtp:[other.example]")
    # Not choosing: the same value, or another field, passes.
    services.domain_update(actor=reseller_user, domain=domain, description="our relay")
    local = services.domain_create(actor=reseller_user, name="l.example")
    with refused("transport"):
        services.domain_update(actor=reseller_user, domain=local, kind="relay")
    assert Domain.objects.get(pk=domain.pk).transport == "smtp:[mx.relay.example]"


# --- Relay recipients ---------------------------------------------------------------------------


def test_relay_recipients(reseller_user, superadmin):
    backup = services.domain_create(actor=reseller_user, name="backup.example", kind="backup")
    assert backup.relay_accept_all is False
    recipient = services.relay_recipient_create(actor=reseller_user, address="Bob@Backup.example")
    assert (recipient.address, recipient.local_part, recipient.domain) == (
        "bob@backup.example",
        "bob",
        backup,
    )
    with refused("address", code="duplicate"):
        services.relay_recipient_create(actor=reseller_user, address="bob@backup.example")
    for bad in ("@backup.example", "a@b@backup.example", "-x@backup.example"):
        with refused("address"):
            services.relay_recipient_create(actor=reseller_user, address=bad)
    make_domain("local.example")
    with refused("address"):
        services.relay_recipient_create(actor=None, address="a@local.example")
    with refused("address", code="no_domain"):
        services.relay_recipient_create(actor=None, address="a@nowhere.example")
    services.relay_recipient_delete(actor=reseller_user, recipient=recipient)
    assert not RelayRecipient.objects.exists()


def test_relay_recipients_of_another_tenant_are_out_of_reach(reseller_user, other_reseller_user):
    services.domain_create(actor=reseller_user, name="backup.example", kind="backup")
    # the very answer a domain that does not exist gets
    with refused("address", code="no_domain"):
        services.relay_recipient_create(actor=other_reseller_user, address="x@backup.example")


def test_accept_all_is_a_switch_for_relay_and_backup_domains(reseller_user):
    backup = services.domain_create(
        actor=reseller_user, name="backup.example", kind="backup", relay_accept_all=True
    )
    assert backup.relay_accept_all
    services.domain_update(actor=reseller_user, domain=backup, relay_accept_all=False)
    assert not Domain.objects.get(pk=backup.pk).relay_accept_all
    with refused("relay_accept_all"):
        services.domain_create(actor=reseller_user, name="l.example", relay_accept_all=True)
    local = services.domain_create(actor=reseller_user, name="l.example")
    with refused("relay_accept_all"):
        services.domain_update(actor=reseller_user, domain=local, relay_accept_all=True)
