"""The queue reader on a long synthetic queue, streamed through a real subprocess
(fake_postqueue.py prints `postqueue -j` lines): the summary is right, and the memory it needs
does not grow with the queue. No mail stack needed; test_queue_stack.py runs the real Postfix."""

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from mailhost import queue

GENERATOR = str(Path(__file__).with_name("fake_postqueue.py"))


def generated(count: int, seed: int = 1) -> list[str]:
    return [sys.executable, GENERATOR, str(count), str(seed)]


def summarise_generated(count: int) -> tuple[queue.QueueSummary, int]:
    """Summarise `count` generated entries; returns (summary, peak traced bytes)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        summary = queue.summarise(queue.parse_lines(queue.stream_lines(generated(count))))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return summary, peak


@pytest.mark.slow
def test_memory_does_not_grow_with_the_queue():
    small, small_peak = summarise_generated(10_000)
    large, large_peak = summarise_generated(100_000)
    print(
        f"\npeak traced memory: 10,000 entries {small_peak / 1024:.0f} KiB; "
        f"100,000 entries {large_peak / 1024:.0f} KiB "
        f"(ratio {large_peak / small_peak:.2f}); distinct domains kept: "
        f"{len(small.by_domain.rows)} / {len(large.by_domain.rows)}"
    )
    assert small.messages == 10_000 and large.messages == 100_000
    # Ten times the queue: a list of entries would need ~10x; bounded counters need about 1x.
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert large_peak < 8 * 1024 * 1024
    assert len(large.by_domain.rows) <= queue.MAX_DOMAINS + 1
    assert queue.OTHER in large.by_domain.rows  # one in ten domains is unique: the cap is hit


def test_summary_counts_match_the_stream():
    count = 3_000
    summary = queue.summarise(queue.parse_lines(queue.stream_lines(generated(count, seed=7))))
    want = expected_seed(count, 7)
    assert summary.messages == count
    assert {q: n for q, n in summary.by_queue.items() if n} == want["by_queue"]
    assert summary.size_bytes == want["size"]
    assert summary.recipients == want["recipients"]
    assert sum(summary.age_totals) == count
    data = summary.as_dict(top=5)
    assert len(data["top_domains"]) <= 6
    # four reason templates, however many hosts and IPs they name
    assert 1 <= len([r for r in data["top_reasons"] if r["reason"] != queue.OTHER]) <= 5
    assert sum(r["count"] for r in data["top_reasons"]) <= summary.recipients


def expected_seed(count: int, seed: int) -> dict:
    out = subprocess.run(generated(count, seed), capture_output=True, text=True, check=True).stdout
    by_queue: dict[str, int] = {}
    size = rcpts = 0
    for line in out.splitlines():
        obj = json.loads(line)
        by_queue[obj["queue_name"]] = by_queue.get(obj["queue_name"], 0) + 1
        size += obj["message_size"]
        rcpts += len(obj["recipients"])
    return {"by_queue": by_queue, "size": size, "recipients": rcpts}


@pytest.mark.slow
def test_a_deep_page_keeps_only_the_page():
    tracemalloc.start()
    try:
        stream = queue.parse_lines(queue.stream_lines(generated(100_000)))
        page = queue.queue_page(stream, queue.QueueFilter(), page=1500, page_size=50)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"\npeak traced memory for page 1500 of 100,000: {peak / 1024:.0f} KiB")
    assert page.total == 100_000 and len(page.items) == 50
    assert peak < 4 * 1024 * 1024


def test_page_and_filter():
    lines = generated(2_000, seed=3)
    flt = queue.QueueFilter.build(queue="hold", recipient_domain="pool5.example")
    every = [e for e in queue.parse_lines(queue.stream_lines(lines)) if flt.matches(e)]
    page = queue.queue_page(queue.parse_lines(queue.stream_lines(lines)), flt, page=2, page_size=3)
    assert page.total == len(every)
    assert [e.queue_id for e in page.items] == [e.queue_id for e in every[3:6]]
    for e in page.items:
        assert e.queue_name == "hold"
        assert any(a.endswith("@pool5.example") for a, _ in e.recipients)


def test_age_buckets_follow_qshape():
    now = time.time()
    assert [queue.age_bucket(m * 60) for m in (0, 5, 6, 1280, 1281)] == [0, 0, 1, 8, 9]
    entry = queue.QueueEntry("deferred", "ABCDEF123", int(now - 90 * 60), 10, "a@b.example", ())
    summary = queue.summarise([entry], now=now)
    assert summary.age_by_queue["deferred"][queue.AGE_LABELS.index("160")] == 1


def test_reasons_are_normalised():
    a = queue.normalise_reason("connect to mx1.a.example[192.0.2.1]:25: Connection timed out")
    b = queue.normalise_reason("connect to mx9.b.example[192.0.2.77]:25: Connection timed out")
    assert a == b == "connect to <host>[<ip>]: Connection timed out"
    g = queue.normalise_reason(
        "host mx.a.example[192.0.2.1] said: 451 4.7.1 <x@a.example>: try again in 300 seconds"
    )
    assert g == "host <host>[<ip>] said: 451 4.7.1 <address>: try again in N seconds"


def test_bounded_counter_caps_distinct_keys():
    counter = queue.BoundedCounter(cap=3)
    for key in ("a", "b", "c", "d", "e", "a"):
        counter.add(key)
    assert counter.rows == {"a": [2], "b": [1], "c": [1], queue.OTHER: [2]}


@pytest.mark.parametrize(
    "value",
    ["", "abc", "ABCDEFG; rm -rf /", "-d", "ALL", "../x", "4HBShP0Ffhz1\nXXw", "a" * 40],
)
def test_bad_queue_ids_are_refused(value):
    with pytest.raises(queue.QueueInputError) as exc:
        queue.validate_queue_id(value)
    assert exc.value.field == "queue_id"


@pytest.mark.parametrize("value", ["3A9C61C2F3", "4HBShP0Ffhz1XXw", "4dQpLk6Bjqz7N1"])
def test_good_queue_ids_pass(value):
    assert queue.validate_queue_id(value) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("queue", "bogus"),
        ("recipient_domain", "bad domain"),
        ("sender_domain", "-x-..example"),
        ("sender", "a b"),
        ("search", "x" * 300),
        ("nonsense", "x"),
    ],
)
def test_bad_filters_name_the_field(field, value):
    with pytest.raises(queue.QueueInputError) as exc:
        queue.QueueFilter.build(**{field: value})
    assert exc.value.field == field


def test_only_allowlisted_commands_and_options():
    with pytest.raises(queue.QueueError):
        queue._argv("postsuper", "/etc/postfix", "-s")
    with pytest.raises(queue.QueueError):
        queue.binary("sh")
    with pytest.raises(queue.QueueError):
        queue._argv("postqueue", "relative/dir", "-j")


def test_a_failing_command_reports_its_stderr():
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('fatal: no queue'); sys.exit(75)"]
    with pytest.raises(queue.QueueError, match="fatal: no queue"):
        list(queue.stream_lines(argv))


def test_a_malformed_line_is_an_error():
    with pytest.raises(queue.QueueError, match="line 2"):
        list(queue.parse_lines(['{"queue_name": "hold"}\n', "not json\n"]))
