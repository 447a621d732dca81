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
    its transaction and has checked names and limits.

    Rows are inserted in batches, one model at a time, so a domain of a hundred thousand
    mailboxes is a few hundred statements, not a few per row."""
    objects = [
        obj.object for obj in serializers.deserialize("python", payload, ignorenonexistent=True)
    ]
    in_payload = {_key(type(o), o.pk) for o in objects}
    # Parents that exist: those outside the payload that still do, and each row restored here.
    present = _existing_parents(objects, in_payload)
    skipped = []
    runs: list[list[Any]] = []
    for instance in objects:
        if not all(_key(target, value) in present for target, value in _foreign_keys(instance)):
            skipped.append(instance)
            continue
        if runs and type(runs[-1][0]) is type(instance):
            runs[-1].append(instance)
        else:
            runs.append([instance])
        present.add(_key(type(instance), instance.pk))
    for run in runs:
        model = type(run[0])
        for batch in batches(run):
            # raw=True, as a deserialized save does: the stored values go back as they were,
            # auto_now fields included (bulk_create would stamp them anew).
            model._base_manager._insert(batch, fields=model._meta.local_concrete_fields, raw=True)
    return skipped


def batches(values: list, size: int = 500):
    """`values` in slices of `size`: SQLite (the demo database) caps a statement's parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _key(model, pk) -> tuple[str, Any]:
    return model._meta.label_lower, pk


def _foreign_keys(instance):
    for field in instance._meta.concrete_fields:
        if field.is_relation and field.related_model is not None:
            value = getattr(instance, field.attname)
            if value is not None:
                yield field.related_model, value


def _existing_parents(objects: list[Any], in_payload: set[tuple[str, Any]]) -> set:
    """The parents outside the payload that still exist, one query per model and batch."""
    wanted: dict[Any, set[Any]] = {}
    for instance in objects:
        for target, value in _foreign_keys(instance):
            if _key(target, value) not in in_payload:
                wanted.setdefault(target, set()).add(value)
    found: set[tuple[str, Any]] = set()
    for target, values in wanted.items():
        for batch in batches(sorted(values)):
            pks = target._base_manager.filter(pk__in=batch).values_list("pk", flat=True)
            found.update(_key(target, pk) for pk in pks)
    return found
