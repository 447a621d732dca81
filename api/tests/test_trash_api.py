"""/api/v1/trash/: deleted domains and mailboxes listed in the caller's scope, restored under
the ids they had, purged for good; another tenant's item is a 404 (the full matrix is
test_isolation.py). The payload (password hashes) is never in a response."""

import pytest

from api.tests.conftest import ApiClient
from audit.models import AuditEvent
from domains.models import Mailbox, TrashItem

pytestmark = pytest.mark.postgres


def test_a_deleted_mailbox_is_listed_restored_and_its_id_kept(world):
    api = ApiClient(world.a.key)
    box = api.list_all("mailboxes/?search=other@a1.example")[0]
    assert api.delete(f"mailboxes/{box['id']}/").status_code == 204
    assert api.get(f"mailboxes/{box['id']}/").status_code == 404
    rows = api.list_all("trash/")
    item = next(r for r in rows if r["name"] == "other@a1.example")
    assert item["kind"] == "mailbox" and item["object_id"] == box["id"]
    assert item["domain_name"] == "a1.example" and item["deleted_by"] == "res-a"
    assert "payload" not in item
    password = Mailbox.objects.get(address="user@a1.example").password
    assert password.split("$")[-1] not in api.get("trash/").content.decode()
    # The name is kept for its owner: another tenant cannot take it (there is no way for it
    # to reach the domain anyway), the domain's admin can.
    response = api.post(f"trash/{item['id']}/restore/", {})
    assert response.status_code == 200, response.content
    assert response.json() == {"kind": "mailbox", "id": box["id"], "name": "other@a1.example"}
    assert api.get(f"mailboxes/{box['id']}/").json()["address"] == "other@a1.example"
    assert api.get(f"trash/{item['id']}/").status_code == 404
    # Both steps are in the audit trail as the API's, with the key that made them.
    for action in ("mailbox.delete", "trash.restore"):
        event = AuditEvent.objects.filter(action=action, object_repr__contains="other@a1").latest(
            "id"
        )
        assert event.channel == "api" and event.api_key_label.endswith("(a main)"), action


def test_a_taken_name_or_a_missing_domain_is_a_conflict(world):
    api = ApiClient(world.a.key)
    domain = api.list_all("domains/?search=a2.example")[0]
    assert api.delete(f"domains/{domain['id']}/?confirm=true").status_code == 204
    item = next(r for r in api.list_all("trash/") if r["kind"] == "domain")
    assert item["contents"]["mailboxes"] == 2
    gone_box = next(r for r in api.list_all("trash/") if r["name"] == "gone@a2.example")
    response = api.post(f"trash/{gone_box['id']}/restore/", {})
    assert response.status_code == 409 and "a2.example" in response.json()["domain"][0]
    # Another reseller may not take the name meanwhile; the owner may, and then the old one
    # cannot come back over it.
    other = ApiClient(world.b.key).post("domains/", {"name": "a2.example"})
    assert other.status_code == 409 and other.json() == {"name": ["a2.example is reserved."]}
    assert api.post("domains/", {"name": "a2.example"}).status_code == 201
    response = api.post(f"trash/{item['id']}/restore/", {})
    assert response.status_code == 409 and "name" in response.json()
    assert TrashItem.objects.filter(pk=item["id"]).exists()


def test_purge_deletes_the_item_for_good(world):
    api = ApiClient(world.a.key)
    item = api.list_all("trash/")[0]
    foreign = ApiClient(world.b.key)
    assert foreign.delete(f"trash/{item['id']}/").status_code == 404
    assert foreign.post(f"trash/{item['id']}/restore/", {}).status_code == 404
    assert api.delete(f"trash/{item['id']}/").status_code == 204
    assert not TrashItem.objects.filter(pk=item["id"]).exists()
    assert ApiClient(world.super_key).get(f"trash/{item['id']}/").status_code == 404
