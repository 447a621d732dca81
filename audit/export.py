"""The audit trail as CSV, a line at a time, for the faces to stream (the panel's "Export CSV"
and `/api/v1/audit-events/export.csv`): no page of it is held in memory, whatever its size."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from audit.models import AuditEvent

COLUMNS = (
    "id",
    "created",
    "actor",
    "channel",
    "source_ip",
    "api_key",
    "action",
    "object_type",
    "object_id",
    "object",
    "changes",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text a spreadsheet will not run as a formula (a leading =, +, -, @ is quoted away)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row) -> str:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(COLUMNS)
    rows = events.values_list(
        "id",
        "created",
        "actor_label",
        "channel",
        "source_ip",
        "api_key_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
    )
    for row in rows.iterator(chunk_size=2000):
        *head, changes = row
        yield line(
            [_cell(head[0]), head[1].isoformat(), *(_cell(v) for v in head[2:])]
            + [_cell(json.dumps(changes, ensure_ascii=False, sort_keys=True))]
        )
