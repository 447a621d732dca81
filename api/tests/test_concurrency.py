"""Limits hold under concurrent API requests on PostgreSQL: the services lock the pool row."""

import threading

import pytest
from django.db import connection

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key
from domains.models import Mailbox
from domains.passwords import hash_password
from domains.tests.helpers import make_domain

pytestmark = pytest.mark.postgres

THREADS = 20
ROOM = 10


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creates_against_room_for_ten_leave_exactly_ten():
    pool = Reseller.objects.create(name="Race", max_mailboxes=ROOM)
    user = User.objects.create_user(username="racer", role="reseller", reseller=pool)
    key = new_key(user)
    # Two domains of the pool, so only the pool's limit (not a domain's) can stop them.
    names = [make_domain(f"race{n}.example", reseller=pool).name for n in (1, 2)]
    password_hash = hash_password("a long enough password")
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        try:
            client = ApiClient(key)
            barrier.wait(timeout=30)
            body = {"address": f"u{n}@{names[n % 2]}", "password_hash": password_hash}
            response = client.post("mailboxes/", body)
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=create, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(results) == THREADS
    statuses = sorted(code for code, _ in results)
    assert statuses == [201] * ROOM + [400] * (THREADS - ROOM), statuses
    for code, body in results:
        if code == 400:
            assert list(body) == ["address"]
            assert "limit of 10 mailboxes" in body["address"][0]
    assert Mailbox.objects.filter(domain__reseller=pool).count() == ROOM
