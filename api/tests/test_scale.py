"""Keyset pagination stays fast at 100k mailboxes: a deep page costs what the first one does and
the page query walks an index, never a sequential scan of the mailbox table."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key
from domains.models import Domain, Mailbox

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROWS = 100_000
DOMAINS = 50


@pytest.fixture
def big(db):
    pool = Reseller.objects.create(name="Big")
    other = Reseller.objects.create(name="Other")
    domains = Domain.objects.bulk_create(
        Domain(name=f"big{n}.example", reseller=pool if n % 2 else other) for n in range(DOMAINS)
    )
    per = ROWS // DOMAINS
    Mailbox.objects.bulk_create(
        (
            Mailbox(
                domain=d,
                local_part=f"u{i:05d}",
                address=f"u{i:05d}@{d.name}",
                password="{PLAIN}x",
                maildir=f"{d.name}/u{i:05d}/",
            )
            for d in domains
            for i in range(per)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE domains_mailbox; ANALYZE domains_domain")
    user = User.objects.create_user(username="big", role="reseller", reseller=pool)
    return ApiClient(new_key(user))


def _page_query(api: ApiClient, url: str):
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        response = api.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content
    page = [q["sql"] for q in ctx.captured_queries if 'FROM "domains_mailbox"' in q["sql"]][0]
    return response.json(), elapsed, page


def test_deep_pages_are_as_cheap_as_the_first(big):
    first, first_time, _sql = _page_query(big, "mailboxes/?page_size=100")
    assert len(first["results"]) == 100
    # Jump deep: the cursor of a late row is as good as any other.
    deep_url = first["next"]
    for _ in range(3):
        deep, _t, _s = _page_query(big, deep_url)
        deep_url = deep["next"]
    late = Mailbox.objects.filter(domain__reseller__name="Big").order_by("-address")[200]
    from base64 import b64encode
    from urllib.parse import quote

    cursor = quote(b64encode(f"p={late.address}".encode()).decode())
    deep, deep_time, sql = _page_query(big, f"mailboxes/?page_size=100&cursor={cursor}")
    assert len(deep["results"]) == 100
    assert deep_time < max(0.5, 5 * first_time), (first_time, deep_time)
    with connection.cursor() as c:
        c.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in c.fetchall())
    assert "Seq Scan on domains_mailbox" not in plan, plan
