"""The lookup queries exactly as docs/lookups.md gives them to Postfix and Dovecot, and a renderer
that substitutes keys the way the daemons do (quotes doubled, as PQescapeStringConn does with
standard_conforming_strings on)."""

import re
from pathlib import Path

from django.db import connection

from mailhost import contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "lookups.md"

POSTFIX_MAPS = tuple(contract.POSTFIX_MAPS)
DOVECOT_QUERIES = ("password_query", "user_query", "iterate_query", "app_password_query")


def _parse() -> dict[str, str]:
    text = DOC.read_text()
    queries: dict[str, str] = {}
    for name, query in re.findall(r"`(\w+)`[^`\n]*:\s*`(SELECT [^`]+)`", text):
        queries[name] = query
    block = re.search(r"`password_query`.*?```\n(.*?)```", text, re.S)
    if block:
        queries["password_query"] = " ".join(block.group(1).split())
    app = re.search(r"`app_password_query`.*?```\n(.*?)```", text, re.S)
    if app:
        queries["app_password_query"] = " ".join(app.group(1).split())
    iterate = re.search(r"`iterate_query = (SELECT [^`]+)`", text)
    if iterate:
        queries["iterate_query"] = iterate.group(1)
    return queries


QUERIES = _parse()


def _quote(value: str) -> str:
    return value.replace("'", "''")


def render(name: str, **keys: str) -> str:
    """The query `name` with %s / %u / %d substituted (Postfix: %s = key; Dovecot: %u = user,
    %s = service; pass `**{"{sha256:password}": hex}` for the app-password query)."""
    query = QUERIES[name]
    for placeholder, value in keys.items():
        query = query.replace(f"%{placeholder}", _quote(value))
    assert "%" not in query.replace("%%", ""), f"unsubstituted key in {query}"
    return query


def run(name: str, cursor=None, **keys: str) -> list[tuple]:
    """Run a lookup as the daemon would. Inside a test's uncommitted transaction the lookup
    tables are brought up to date first (they are otherwise rewritten at commit)."""
    sql = render(name, **keys)
    if cursor is None:
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute(sql)
            return cur.fetchall()
    cursor.execute(sql)
    return cursor.fetchall()


def postfix(map_name: str, key: str) -> list[str]:
    """One Postfix table lookup: keys are folded to lowercase, then `%s` substituted, and `%d`
    with the key's domain part; a query with `%d` is not sent for a key without one (pgsql_table(5):
    Postfix answers not found)."""
    key = key.lower()
    if "%d" not in QUERIES[map_name]:
        return sorted(row[0] for row in run(map_name, s=key))
    if "@" not in key:
        return []
    return sorted(row[0] for row in run(map_name, s=key, d=key.rpartition("@")[2]))


def postfix_address(map_name: str, address: str) -> list[str]:
    """What Postfix gets for an address from a virtual(5)-style table: `user@domain` first,
    `@domain` only when that finds nothing."""
    found = postfix(map_name, address)
    if found:
        return found
    return postfix(map_name, "@" + address.rpartition("@")[2])
