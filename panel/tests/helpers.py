"""Helpers for the panel tests: a logged-in client, the form token a page hands out, the error
shown next to a field."""

import html
import re

from django.test import Client


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, "the form carries a one-time token"
    return match.group(1)


def field_errors(page: str, field: str) -> list[str]:
    """The messages shown next to `field` (the list Django's aria-describedby points at)."""
    match = re.search(rf'<ul class="errors" id="id_{field}_error">(.*?)</ul>', page, re.S)
    if not match:
        return []
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def text(response) -> str:
    return html.unescape(response.content.decode())
