"""The schema and the interactive docs are served from this host: no CDN."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client


@pytest.mark.django_db
def test_schema_is_public_openapi_3():
    response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/mailboxes/" in schema["paths"]
    assert {"BearerKey", "HeaderKey"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.django_db
def test_docs_load_their_assets_from_this_host():
    page = Client().get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), asset
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset
    script = Client().get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "/api/v1/schema/" in script.content.decode()


@pytest.mark.django_db
def test_unknown_api_paths_are_json_404():
    response = Client().post("/api/v1/no-such-thing/", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": ["Not found."]}
