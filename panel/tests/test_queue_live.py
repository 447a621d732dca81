"""The queue list page against the real Postfix (`mailstack`): this test process plays the
host's worker (Celery runs eagerly without a broker), so the page streams the real queue."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

try:
    from mailhost.tests.conftest import mail_stack  # noqa: F401
    from mailhost.tests.test_queue_stack import settle, submit
except ImportError:  # pragma: no cover
    pytest.skip("mailhost/tests (the mail_stack fixture) is not there", allow_module_level=True)

from mailhost.models import MailHost

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]


def test_search_and_pages_of_the_real_queue(mail_stack, superadmin, settings):  # noqa: F811
    mail_stack.purge_queue()
    try:
        for n in range(7):
            submit(mail_stack, "pager@s.queue.test", [f"p{n}@page.remote.test"], n)
        submit(mail_stack, "other@s.queue.test", ["q@elsewhere.remote.test"], 99)
        settle(mail_stack, {"deferred": 8})
        host = MailHost.objects.create(name="live-mx", last_heartbeat=timezone.now())
        settings.MAILHOST_NAME = host.name
        settings.MAILHOST_POSTFIX_DIR = str(mail_stack.postfix_dir)
        c = Client()
        c.force_login(superadmin)
        base = reverse("queue_messages", args=[host.pk])
        page = c.get(base + "?recipient_domain=page.remote.test").content.decode()
        assert "7 messages match." in page
        assert "elsewhere.remote.test" not in page
        assert page.count('name="queue_id"') == 7
        page = c.get(base + "?search=elsewhere").content.decode()
        assert "1 message matches." in page and "q@elsewhere.remote.test" in page
    finally:
        mail_stack.purge_queue()
