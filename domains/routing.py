"""Where mail for an address goes, as far as one tenant may see: the checks behind alias
recipients and forwards, each a fixed number of queries however long the list.

An actor sees only the domains it manages (domains.permissions). An address anywhere else, even a
domain served here for another tenant, is treated like an external one: no "does not exist" for it
(that would reveal another tenant's addresses), and the loop check does not follow it (a loop that
passes through another tenant's aliases is stopped by Postfix at delivery, see docs/security.md).
"""

from django.db import connection

from domains.models import (
    Alias,
    AliasDomain,
    AliasRecipient,
    Domain,
    Mailbox,
    MailboxForward,
)
from domains.permissions import domain_scope_q, is_trusted


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def canonical_in_scope(actor, addresses: list[str]) -> dict[str, str]:
    """For each address in a local domain the actor manages (directly or through an alias
    domain), its address at the real domain. Two queries; other addresses are left out."""
    names = {_split(a)[1] for a in addresses}
    local = Domain.objects.filter(domain_scope_q(actor), name__in=names, kind=Domain.Kind.LOCAL)
    targets = {name: name for name in local.values_list("name", flat=True)}
    aliases = AliasDomain.objects.filter(
        domain_scope_q(actor, "target__"), name__in=names, target__kind=Domain.Kind.LOCAL
    ).values_list("name", "target__name")
    targets.update(dict(aliases))
    result = {}
    for address in addresses:
        local_part, domain = _split(address)
        if domain in targets:
            result[address] = f"{local_part}@{targets[domain]}"
    return result


def missing_in_scope(actor, addresses: list[str]) -> list[str]:
    """The addresses in the actor's own local domains that nothing answers for (no mailbox, no
    alias, no catch-all). Four queries for any number of addresses."""
    canonical = canonical_in_scope(actor, addresses)
    if not canonical:
        return []
    wanted = set(canonical.values())
    catchalls = {"@" + _split(a)[1] for a in wanted}
    found = set(Mailbox.objects.filter(address__in=wanted).values_list("address", flat=True))
    found |= set(
        Alias.objects.filter(address__in=wanted | catchalls).values_list("address", flat=True)
    )
    return [
        address
        for address, target in canonical.items()
        if target not in found and "@" + _split(target)[1] not in found
    ]


_SPLIT_SQL = {
    "postgresql": ("split_part({0}, '@', 1)", "split_part({0}, '@', 2)"),
    "sqlite": ("substr({0}, 1, instr({0}, '@') - 1)", "substr({0}, instr({0}, '@') + 1)"),
}


def _scope_sql(actor, column: str, params: dict) -> str:
    """SQL that keeps rows whose domain id `column` the actor manages (as domain_scope_q)."""
    if is_trusted(actor):
        return "1 = 1"
    if actor.is_reseller:
        params["reseller"] = actor.reseller_id
        return (
            f"{column} IN (SELECT id FROM {Domain._meta.db_table} WHERE reseller_id = %(reseller)s)"
        )
    params["admin"] = actor.pk
    through = Domain.admins.through._meta.db_table
    return f"{column} IN (SELECT domain_id FROM {through} WHERE user_id = %(admin)s)"


def loop_path(actor, start: str, targets: list[str]) -> list[str] | None:
    """The way mail sent to `targets` would come back to `start` (start first and last), or
    None, following mailbox forwards, alias recipients, alias domains and catch-alls inside the
    actor's domains.

    One recursive query whatever the number of targets or the depth of the graph: it collects
    the reachable hops as (from, to) edges, and UNION (not UNION ALL) keeps each edge once, so
    cycles elsewhere in the graph end too. The path is then found among those edges.
    """
    if not targets:
        return None
    local_sql, domain_sql = _SPLIT_SQL[connection.vendor]
    here = "reach.address"
    params: dict = {"start": start}
    values = ", ".join(f"(%(t{i})s)" for i in range(len(targets)))
    params.update({f"t{i}": target for i, target in enumerate(targets)})
    sql = f"""
        WITH RECURSIVE reach(via, address) AS (
            SELECT CAST(%(start)s AS TEXT), CAST(column1 AS TEXT)
              FROM (VALUES {values}) AS targets
          UNION
            SELECT {here}, CAST(CASE
                WHEN m.id IS NOT NULL THEN f.address
                WHEN a.id IS NOT NULL THEN r.address
                WHEN ad.id IS NOT NULL THEN {local_sql.format(here)} || '@' || t.name
                ELSE cr.address
            END AS TEXT)
            FROM reach
            LEFT JOIN {Mailbox._meta.db_table} m
                   ON m.address = {here} AND {_scope_sql(actor, "m.domain_id", params)}
            LEFT JOIN {MailboxForward._meta.db_table} f ON f.mailbox_id = m.id
            LEFT JOIN {Alias._meta.db_table} a
                   ON a.address = {here} AND {_scope_sql(actor, "a.domain_id", params)}
            LEFT JOIN {AliasRecipient._meta.db_table} r ON r.alias_id = a.id
            LEFT JOIN {AliasDomain._meta.db_table} ad
                   ON ad.name = {domain_sql.format(here)}
                  AND {_scope_sql(actor, "ad.target_id", params)}
            LEFT JOIN {Domain._meta.db_table} t ON t.id = ad.target_id
            LEFT JOIN {Alias._meta.db_table} c
                   ON m.id IS NULL AND a.id IS NULL AND ad.id IS NULL
                  AND c.address = '@' || {domain_sql.format(here)}
                  AND {_scope_sql(actor, "c.domain_id", params)}
            LEFT JOIN {AliasRecipient._meta.db_table} cr ON cr.alias_id = c.id
            WHERE {here} <> %(start)s
        )
        SELECT via, address FROM reach WHERE address IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        edges = cursor.fetchall()
    hops: dict[str, list[str]] = {}
    for via, address in edges:
        hops.setdefault(via, []).append(address)
    # Breadth first from start over the collected edges: the shortest way back.
    came_from: dict[str, str] = {}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for nxt in hops.get(current, []):
            if nxt == start:
                path = [current]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = current
                queue.append(nxt)
    return None
