"""Items 6 and 7, in-process through Django against the loaded database.

Pages and API: the domain list, one domain's page (its mailbox list) and the API's mailbox list,
as a superadmin (session for the panel, an API key for the API), timed per request with the
queries counted. Writes: mailbox create, update and delete through the services, each its own
committed transaction, so the lookup maintenance at commit is inside the time.
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.loader import PASSWORD_HASH, Spec

ADMIN = "bench-admin"


def _admin():
    from accounts.models import User

    user = User.objects.filter(username=ADMIN).first()
    if user is None:
        user = User.objects.create_user(
            username=ADMIN, password=None, role="superadmin", is_superuser=True, is_staff=True
        )
    return user


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(client: Client, url: str, requests: int, **headers) -> dict:
    client.get(url, **headers)  # warm: templates, first connection
    times, queries = [], []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url, **headers)
            times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")
        queries.append(len(ctx.captured_queries))
    return {
        "url": url,
        "median_ms": statistics.median(times),
        "p95_ms": _percentile(times, 0.95),
        "queries": max(queries),
    }


def pages(spec: Spec, *, requests: int) -> dict:
    from api.services import api_key_create
    from domains.models import Domain

    user = _admin()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    _key, raw = api_key_create(actor=user, user=user, name="bench")
    domain = Domain.objects.get(name=f"d{spec.domain_of(spec.mailboxes // 2)}.test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return {
        "domain list": _measure(client, "/domains/", requests),
        "a domain's mailbox list": _measure(client, f"/domains/{domain.pk}/", requests),
        "API mailbox list": _measure(client, "/api/v1/mailboxes/", requests, **auth),
    }


def writes(spec: Spec, *, count: int) -> dict:
    """`count` mailboxes created in existing domains spread over the data, updated, deleted."""
    from domains import services
    from domains.models import Mailbox

    user = _admin()
    step = max(1, spec.domains // count)
    addresses = [f"bench-w{i}@d{(i * step) % spec.domains}.test" for i in range(count)]
    Mailbox.objects.filter(address__in=addresses).delete()
    timings: dict[str, list[float]] = {"create": [], "update": [], "delete": []}
    created = []
    for address in addresses:
        start = time.perf_counter()
        created.append(
            services.mailbox_create(actor=user, address=address, password_hash=PASSWORD_HASH)
        )
        timings["create"].append((time.perf_counter() - start) * 1000)
    for mailbox in created:
        start = time.perf_counter()
        services.mailbox_update(actor=user, mailbox=mailbox, name="Bench", active=False)
        timings["update"].append((time.perf_counter() - start) * 1000)
    for mailbox in created:
        start = time.perf_counter()
        services.mailbox_delete(actor=user, mailbox=mailbox)
        timings["delete"].append((time.perf_counter() - start) * 1000)
    return {
        op: {"median_ms": statistics.median(v), "p95_ms": _percentile(v, 0.95), "n": len(v)}
        for op, v in timings.items()
    }
