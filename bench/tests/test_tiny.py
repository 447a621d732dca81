"""The benchmark suite at its CI size (`--tiny`): it runs end to end against the real
PostgreSQL, pgbench, Postfix and Dovecot, and writes well-formed results. Nothing here is timed
or compared with a target: the figures at this size mean nothing (benchmarks live in bench/)."""

import json
import shutil

import pytest

from mailhost.tests.conftest import check_prerequisites, unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.mailstack]


@pytest.fixture
def bench_db(django_db_setup, django_db_blocker):
    from django.db import connection

    if connection.vendor != "postgresql":
        unavailable("the benchmarks need PostgreSQL (set DATABASE_URL)")
    check_prerequisites()
    if shutil.which("pgbench") is None:
        unavailable("pgbench is missing: apt-get install postgresql-client")
    with django_db_blocker.unblock():
        yield


def test_tiny_run_writes_well_formed_results(bench_db, tmp_path):
    from bench.run import Databases, main

    out, md = tmp_path / "bench.json", tmp_path / "benchmarks.md"
    dbs = Databases()
    original = dbs.original
    try:
        results = main(["--tiny", "--json", str(out), "--markdown", str(md)])
    finally:
        for label in ("m200", "m20"):
            dbs.drop(dbs.name(label))
    assert dbs.settings["NAME"] == original

    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(results, default=str))
    assert data["load"]["rows"]["domains_mailbox"] == 200
    assert data["load"]["spot_check_failures"] == []
    lookups = {c["lookup"]: c for c in data["lookups"]["cases"]}
    assert "primary key (baseline)" in lookups
    assert all(c["tps_median"] > 0 and c["plan"] for c in lookups.values())
    # (At 200 rows a sequential scan is the right plan: mailhost/tests/test_explain.py proves
    # the index probes at 100k.)
    assert all(any("Planning" in line for line in c["plan"]) for c in lookups.values())

    smtp = data["smtp"]
    assert {p["variant"] for p in smtp["passes"]} == {"pgsql", "hash"}
    for p in [*smtp["passes"], smtp["concurrent"]]:
        # Every message accepted and every copy delivered, through both kinds of maps.
        assert p["error_count"] == 0 and p["refused_count"] == 0, p
        assert p["delivered_all"], p
        assert p["peak_connections"] >= 1
    assert smtp["concurrent"]["peak_connections"] <= smtp["max_db_connections_configured"]
    # The CPU profile read the machine's processes (too few messages here for every one to show).
    assert sum(sum(p["cpu_ms_per_message"].values()) for p in smtp["passes"]) > 0
    assert all(0 <= p["machine_busy_accepting"] <= 1 for p in smtp["passes"])

    assert set(data["pages"]) == {"20", "200"}
    for page in data["pages"].values():
        assert set(page) == {"domain list", "a domain's mailbox list", "API mailbox list"}
        assert all(v["queries"] > 0 for v in page.values())
    assert set(data["writes"]) == {"large", "small"}
    assert all(isinstance(v["met"], bool | None) for v in data["verdict"].values())
    text = md.read_text()
    assert "<!-- bench:generated:start -->" in text and "### Targets" in text
    assert "CPU per message by process" in text
