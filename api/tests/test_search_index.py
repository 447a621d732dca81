"""Search stays flat at scale: the API's `?search=` and the panel's search boxes are served by
the pg_trgm indexes (domains migration 0006), not by reading every row. The plan is PostgreSQL's
own choice (`enable_seqscan` untouched) over the exact SQL a request runs. Timings at 1M rows
are measured outside the tests (bench figures in the report), never asserted here."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key
from domains.models import Domain

# Committed data (not a test transaction), vacuumed and analysed as a live database would be:
# rows other tests inserted and rolled back stay in the table as dead tuples until a VACUUM,
# and would leave the planner estimating from them instead of from these rows.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _vacuum(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


DOMAINS = 20
PER_DOMAIN = 1000


@pytest.fixture
def many(transactional_db):
    """20,000 mailboxes over 20 domains of one reseller."""
    pool = Reseller.objects.create(name="Many")
    Domain.objects.bulk_create(
        Domain(name=f"many{n}.example", reseller=pool, description=f"customer {n}")
        for n in range(DOMAINS)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO domains_mailbox (domain_id, local_part, address, name, password,
                quota_bytes, active, allow_imap, allow_pop3, allow_smtp, keep_copy, maildir,
                maildir_busy, created, modified)
            SELECT d.id, 'user' || g, 'user' || g || '@' || d.name, 'Person ' || g, '{PLAIN}x',
                0, true, true, true, true, true, d.name || '/user' || g || '/', false, now(), now()
            FROM domains_domain d CROSS JOIN generate_series(1, %s) g
            """,
            [PER_DOMAIN],
        )
    _vacuum("domains_domain", "domains_mailbox")
    user = User.objects.create_user(username="many", role="reseller", reseller=pool)
    root = User.objects.create_user(username="many-root", role="superadmin", is_superuser=True)
    return {"reseller": user, "root": root}


def _indexes_used(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found: set[str] = set()

    def walk(node):
        if "Index Name" in node:
            found.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def _search_sql(ctx, table: str) -> str:
    """The query of the request that searches `table` (its LIKE on an upper-cased column)."""
    found = [
        q["sql"]
        for q in ctx.captured_queries
        if f'FROM "{table}"' in q["sql"] and "LIKE UPPER" in q["sql"]
    ]
    assert found, f"no search query on {table} among {len(ctx.captured_queries)} queries"
    return found[0]


# Mailboxes are the table that grows to millions. (On narrow tables of a few 10k rows, such as
# aliases here, PostgreSQL rightly prefers reading the table; the same indexes serve them once
# they grow.)
@pytest.mark.parametrize("who", ["root", "reseller"])
@pytest.mark.parametrize("term", ["user777@many1", "Person 321", "USER9@MANY1"])
def test_api_mailbox_search_uses_the_trigram_index(many, who, term):
    api = ApiClient(new_key(many[who]))
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(f"mailboxes/?search={term}")
    assert response.status_code == 200, response.content
    assert response.json()["results"], "the search finds the rows it looks for"
    used = _indexes_used(_search_sql(ctx, "domains_mailbox"))
    assert {"mailbox_address_trgm", "mailbox_name_trgm"} & used, (
        f"plan uses {sorted(used) or 'no index'} for {term}"
    )


def test_a_search_that_finds_nothing_reads_no_table(many):
    api = ApiClient(new_key(many["root"]))
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("mailboxes/?search=nobody-is-called-this")
    assert response.status_code == 200 and response.json()["results"] == []
    used = _indexes_used(_search_sql(ctx, "domains_mailbox"))
    assert {"mailbox_address_trgm", "mailbox_name_trgm"} <= used, used


def test_the_panel_domain_page_search_uses_the_trigram_index(many):
    client = Client()
    client.force_login(many["reseller"])
    domain = Domain.objects.get(name="many4.example")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/domains/{domain.pk}/?q=user321@")
    assert response.status_code == 200
    assert "user321@many4.example" in response.content.decode()
    used = _indexes_used(_search_sql(ctx, "domains_mailbox"))
    assert "mailbox_address_trgm" in used, used


def test_the_audit_log_search_uses_its_indexes(transactional_db):
    """The panel's audit log filter: object name or type by substring, or an exact action, over
    200,000 events (the table that grows fastest; its rows are narrow, so below ~100k PostgreSQL
    rightly prefers reading the table)."""
    root = User.objects.create_user(username="audit-root", role="superadmin", is_superuser=True)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (created, action, object_type, object_id, object_repr,
                changes)
            SELECT now() - g * interval '1 minute', 'mailbox.update', 'mailbox', g::text,
                'user' || g || '@shop' || (g % 50) || '.example', '{}'::jsonb
            FROM generate_series(1, 200000) g
            """
        )
    _vacuum("audit_auditevent")
    client = Client()
    client.force_login(root)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/audit/?object=user4242@shop42")
    assert response.status_code == 200
    assert "user4242@shop42.example" in response.content.decode()
    used = _indexes_used(_search_sql(ctx, "audit_auditevent"))
    assert "audit_object_repr_trgm" in used, used
