"""The trash's mechanics: gather the rows a deletion takes, serialize them, save them back.

The services (domains.services: domain_delete, mailbox_delete, trash_*) decide what goes and
check the rules; this module only moves rows. Rows are gathered with Django's deletion
Collector, never fast-deleted, so every row that would cascade is seen (M2M through rows such as
domain admins, and other apps' rows such as mailhost's quota warnings), and serialized with
their primary keys, so API clients' ids stay valid after a restore.
"""

from __future__ import annotations

import json
from typing import Any

from django.core import serializers
from django.db import router
from django.db.models.deletion import Collector


class _Gatherer(Collector):
    """A Collector that collects everything (like django.contrib.admin.utils.NestedObjects)."""

    def can_fast_delete(self, *args, **kwargs) -> bool:
        return False


def gather(objs) -> _Gatherer:
    """Collect `objs` (model instances, any models) and what would cascade with them."""
    objs = list(objs)
    collector = _Gatherer(using=router.db_for_write(objs[0].__class__) if objs else "default")
    for obj in objs:
        collector.collect([obj])
    collector.sort()
    return collector


def snapshot(collector: _Gatherer) -> list[dict[str, Any]]:
    """The collected rows as JSON-ready dicts, in the order they are saved back (parents first:
    the reverse of the collector's delete order)."""
    rows: list[Any] = []
    for _model, instances in reversed(list(collector.data.items())):
        rows.extend(sorted(instances, key=lambda o: o.pk))
    # The json serializer turns datetimes, decimals... into strings the python deserializer
    # reads back with each field's to_python.
    return json.loads(serializers.serialize("json", rows))


def restore(payload: list[dict[str, Any]]) -> list[Any]:
    """Save the rows of `payload` back, parents first, keeping their primary keys. A row whose
    parent outside the payload is gone meanwhile (a sender grant held by a mailbox deleted since,
    a domain admin who left) is left out; returns the rows not restored. The caller runs this in
    its transaction and has checked names and limits."""
    restored: set[tuple[str, Any]] = set()
    skipped = []
    for obj in serializers.deserialize("python", payload, ignorenonexistent=True):
        instance = obj.object
        if not _parents_present(instance, restored):
            skipped.append(instance)
            continue
        obj.save()
        restored.add((instance._meta.label_lower, instance.pk))
    return skipped


def _parents_present(instance, restored: set[tuple[str, Any]]) -> bool:
    for field in instance._meta.concrete_fields:
        if not field.is_relation or field.related_model is None:
            continue
        value = getattr(instance, field.attname)
        if value is None:
            continue
        target = field.related_model
        if (target._meta.label_lower, value) in restored:
            continue
        if not target._base_manager.filter(pk=value).exists():
            return False
    return True
