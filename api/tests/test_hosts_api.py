"""The mail-host endpoints and the mailbox rename as a caller sees them (no worker here: the
operations are recorded, their running is tested in mailhost/tests with a real worker)."""

import pytest

from api.tests.conftest import ApiClient
from mailhost.models import MailHost, Operation

pytestmark = pytest.mark.postgres


def test_rename_through_the_api_records_the_move(world):
    caller = ApiClient(world.a.key)
    box = caller.list_all("mailboxes/")[0]
    domain = box["address"].split("@")[1]
    response = caller.post(f"mailboxes/{box['id']}/rename/", {"address": f"renamed@{domain}"})
    assert response.status_code == 200, response.content
    assert response.json()["address"] == f"renamed@{domain}"
    assert response.json()["maildir_busy"] is True
    (op,) = Operation.objects.filter(kind="maildir_move")
    assert op.args["old_address"] == box["address"]
    bad = caller.post(f"mailboxes/{box['id']}/rename/", {"address": "x@not-mine.example"})
    assert bad.status_code == 400 and "address" in bad.json()


def test_reload_one_host_or_all(world):
    root = ApiClient(world.super_key)
    a = MailHost.objects.create(name="mx-a")
    MailHost.objects.create(name="mx-b")
    one = root.post(f"hosts/{a.pk}/reload/", {"push_config": True})
    assert one.status_code == 202
    assert [(o["kind"], o["host"]) for o in one.json()["operations"]] == [("push_config", "mx-a")]
    every = root.post("hosts/reload-all/", {})
    assert sorted(o["host"] for o in every.json()["operations"]) == ["mx-a", "mx-b"]
    assert (
        root.post("hosts/quota-recalc/", {"address": "nobody@nowhere.example"}).status_code == 400
    )
    finished = Operation.objects.create(kind="reload", host=a, state="done")
    assert root.post(f"operations/{finished.pk}/retry/").status_code == 409
