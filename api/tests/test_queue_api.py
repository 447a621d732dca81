"""The queue endpoints (/api/v1/queue/...): superadmins only, in the OpenAPI schema, JSON errors
naming the field, actions recorded as outbox operations (202)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.tests.conftest import ApiClient, new_key
from mailhost.models import MailHost, Operation
from mailhost.queue_models import QueueSnapshot

pytestmark = pytest.mark.postgres


@pytest.fixture
def hosts(db):
    hosts = [MailHost.objects.create(name=n, last_heartbeat=timezone.now()) for n in ("m1", "m2")]
    minute = timezone.now().replace(second=0, microsecond=0)
    for i, host in enumerate(hosts, 1):
        for back in (2, 1):  # the newest one counts
            QueueSnapshot.objects.create(
                host=host,
                taken_at=minute - timedelta(minutes=back),
                deferred=10 * i + back,
                hold=i,
                messages=10 * i + back + i,
                recipients=10 * i + back + i,
                size_bytes=100,
                age=[10 * i + back + i] + [0] * 9,
                detail={"top_domains": [{"domain": f"d{i}.example", "total": 3, "by_age": [3]}]},
            )
    return hosts


def endpoints(host_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", "queue/", None),
        ("GET", f"queue/hosts/{host_id}/", None),
        ("GET", f"queue/hosts/{host_id}/messages/", None),
        ("POST", f"queue/hosts/{host_id}/actions/", {"action": "delete", "queue_id": "3A9C61C2F3"}),
    ]


def test_overview_per_host_and_summed(world, hosts):
    body = ApiClient(world.super_key).get("queue/").json()
    by_name = {h["name"]: h["summary"] for h in body["hosts"]}
    assert by_name["m1"]["by_queue"]["deferred"] == 11 and by_name["m2"]["by_queue"]["hold"] == 2
    assert body["total"]["by_queue"]["deferred"] == 11 + 21
    assert body["total"]["messages"] == 12 + 23
    assert {d["domain"] for d in body["total"]["top_domains"]} == {"d1.example", "d2.example"}
    one = ApiClient(world.super_key).get(f"queue/hosts/{hosts[1].pk}/").json()
    assert one["name"] == "m2" and one["summary"]["messages"] == 23


def test_action_is_an_operation(world, hosts, django_capture_on_commit_callbacks):
    client = ApiClient(world.super_key)
    with django_capture_on_commit_callbacks(execute=False):
        r = client.post(
            f"queue/hosts/{hosts[0].pk}/actions/",
            {"action": "hold", "filter": {"recipient_domain": "x.example", "queue": "deferred"}},
        )
    assert r.status_code == 202, r.content
    op = Operation.objects.get(pk=r.json()["id"])
    assert op.kind == "queue_action" and op.host == hosts[0] and op.state == "pending"
    assert op.args["filter"] == {"recipient_domain": "x.example", "queue": "deferred"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "delete", "queue_id": "ALL"}, "queue_id"),
        ({"action": "delete", "queue_id": "A; rm -rf /"}, "queue_id"),
        ({"action": "delete"}, "filter"),
        ({"action": "nuke", "queue_id": "3A9C61C2F3"}, "action"),
        ({"action": "hold", "filter": {"queue": "nope"}}, "filter"),
        ({"action": "hold", "filter": {"recipient_domain": "bad domain"}}, "recipient_domain"),
    ],
)
def test_bad_actions_are_400_naming_the_field(world, hosts, body, field):
    r = ApiClient(world.super_key).post(f"queue/hosts/{hosts[0].pk}/actions/", body)
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert not Operation.objects.filter(kind="queue_action").exists()


def test_unknown_host_is_404_and_a_silent_one_503(world, hosts, settings):
    client = ApiClient(world.super_key)
    for method, path, body in endpoints(2_000_000_000)[1:]:
        assert client.request(method, path, body).status_code == 404, path
    settings.MAILHOST_NAME = ""  # no worker is this host: the list cannot be read
    r = client.get(f"queue/hosts/{hosts[0].pk}/messages/?recipient_domain=x.example")
    assert r.status_code == 503 and "detail" in r.json()
    r = client.get(f"queue/hosts/{hosts[0].pk}/messages/?page=x")
    assert r.status_code == 400 and "page" in r.json()
    r = client.get(f"queue/hosts/{hosts[0].pk}/messages/?queue=nope")
    assert r.status_code == 400 and "queue" in r.json()


def test_only_superadmins(world, hosts):
    keys = [world.a.key, world.b.key, world.admin1_key]
    for key in keys:
        for method, path, body in endpoints(hosts[0].pk):
            r = ApiClient(key).request(method, path, body)
            assert r.status_code == 403, (path, r.status_code)
            assert "m1" not in r.content.decode()
    read_only = new_key(world.superadmin, name="ro", read_only=True)
    method, path, body = endpoints(hosts[0].pk)[-1]
    assert ApiClient(read_only).request(method, path, body).status_code == 403
    assert ApiClient().get("queue/").status_code in (401, 403)
    assert not Operation.objects.filter(kind="queue_action").exists()


def test_in_the_openapi_schema(world):
    paths = ApiClient(world.super_key).get("/api/v1/schema/?format=json").json()["paths"]
    for path in (
        "/api/v1/queue/",
        "/api/v1/queue/hosts/{id}/",
        "/api/v1/queue/hosts/{id}/messages/",
        "/api/v1/queue/hosts/{id}/actions/",
    ):
        assert path in paths, sorted(paths)
