"""The queue reader and actions against the real Postfix of the session's stack (conftest.py):
200 messages to remote domains (the stack defers the smtp transport, so they stay queued) are
held, counted and acted on by id and by filter."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest

from mailhost import queue
from mailhost.stack import _bin, wait_for

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]

# 200 messages: 120 to a.remote, 50 to b.remote, 30 to both b.remote and c.remote.
PLAN = (
    [("alice@s1.queue.test", ["u{}@a.remote.test"])] * 120
    + [("bob@s2.queue.test", ["u{}@b.remote.test"])] * 50
    + [("bob@s2.queue.test", ["u{}@b.remote.test", "v{}@c.remote.test"])] * 30
)


def submit(stack, sender: str, recipients: list[str], n: int) -> None:
    body = f"From: {sender}\nTo: {', '.join(recipients)}\nSubject: queue test {n}\n\nbody {n}\n"
    subprocess.run(
        [_bin("sendmail"), "-C", str(stack.postfix_dir), "-f", sender, "--", *recipients],
        input=body.encode(),
        check=True,
        timeout=30,
        capture_output=True,
    )


def kick_pickup(stack) -> None:
    """Requeued mail waits in maildrop for pickup's next wake-up (up to a minute): wake it."""
    subprocess.run(
        [_bin("postkick"), "-c", str(stack.postfix_dir), "public", "pickup", "W"],
        check=True,
        timeout=30,
        capture_output=True,
    )


def stream(stack):
    return queue.entries(str(stack.postfix_dir))


def by_queue(stack) -> Counter:
    return Counter(e.queue_name for e in stream(stack))


def settle(stack, want: dict[str, int], timeout: float = 60) -> None:
    """Wait until the queue's counts are `want` (Postfix moves mail asynchronously)."""

    def ok():
        got = by_queue(stack)
        return {k: got.get(k, 0) for k in want} == want and sum(got.values()) == sum(want.values())

    try:
        wait_for(ok, timeout=timeout, what=f"queue counts {want}")
    except Exception:
        raise AssertionError(f"queue is {dict(by_queue(stack))}, expected {want}") from None


@pytest.fixture
def held_200(mail_stack):
    stack = mail_stack
    stack.purge_queue()
    for n, (sender, rcpts) in enumerate(PLAN):
        submit(stack, sender, [r.format(n) for r in rcpts], n)
    settle(stack, {"deferred": 200})
    result = queue.run_action(
        str(stack.postfix_dir), action="hold", flt=queue.QueueFilter.build(queue="deferred")
    )
    assert result.selected == 200 and result.affected == 200, result
    settle(stack, {"hold": 200})
    yield stack
    stack.purge_queue()


def test_200_held_messages_give_the_right_stats(held_200):
    stack = held_200
    raw = stack.queue()  # the whole output, parsed independently of mailhost.queue
    assert len(raw) == 200
    summary = queue.summarise(stream(stack))
    assert summary.messages == 200
    assert summary.by_queue["hold"] == 200
    assert sum(summary.by_queue.values()) == 200
    assert summary.recipients == 230
    assert summary.size_bytes == sum(m["message_size"] for m in raw) > 0
    # all just arrived: the youngest qshape bucket
    assert summary.age_totals[0] == 200 and sum(summary.age_totals[1:]) == 0
    domains = {d["domain"]: d["total"] for d in summary.as_dict()["top_domains"]}
    assert domains == {"a.remote.test": 120, "b.remote.test": 80, "c.remote.test": 30}
    senders = {d["domain"]: d["total"] for d in summary.as_dict()["top_sender_domains"]}
    assert senders == {"s1.queue.test": 120, "s2.queue.test": 80}
    for m in raw:  # the ids Postfix really uses pass our validator
        assert queue.validate_queue_id(m["queue_id"]) == m["queue_id"]

    # the list: search, filter and pages, as the stream is read
    flt = queue.QueueFilter.build(recipient_domain="c.remote.test")
    page = queue.queue_page(stream(stack), flt, page=2, page_size=20)
    assert page.total == 30 and len(page.items) == 10
    assert all(any(a.endswith("@c.remote.test") for a, _ in e.recipients) for e in page.items)
    one = raw[17]
    found = queue.queue_page(stream(stack), queue.QueueFilter.build(search=one["queue_id"]))
    assert [e.queue_id for e in found.items] == [one["queue_id"]]


def test_actions_by_id_and_by_filter(held_200):
    stack = held_200
    cfg = str(stack.postfix_dir)
    ids = {e.queue_id: e for e in stream(stack)}
    a_ids = [q for q, e in ids.items() if e.recipients[0][0].endswith("@a.remote.test")]

    # release one by id: back to the deferred queue
    result = queue.run_action(cfg, action="release", queue_id=a_ids[0])
    assert result.affected == 1
    settle(stack, {"hold": 199, "deferred": 1})
    # hold it again by id
    queue.run_action(cfg, action="hold", queue_id=a_ids[0])
    settle(stack, {"hold": 200})

    # release by filter: the 80 messages with a b.remote recipient (30 also have c.remote)
    result = queue.run_action(
        cfg, action="release", flt=queue.QueueFilter.build(recipient_domain="b.remote.test")
    )
    assert result.affected == 80
    settle(stack, {"hold": 120, "deferred": 80})

    # hold by filter: the released messages move between deferred and active all the time
    result = queue.run_action(
        cfg, action="hold", flt=queue.QueueFilter.build(recipient_domain="c.remote.test")
    )
    assert result.affected == 30
    settle(stack, {"hold": 150, "deferred": 50})

    # requeue by filter and by id: re-injected, deferred again by the smtp transport
    result = queue.run_action(
        cfg,
        action="requeue",
        flt=queue.QueueFilter.build(queue="hold", recipient_domain="c.remote.test"),
    )
    assert result.selected == 30 and result.affected == 30
    kick_pickup(stack)
    settle(stack, {"hold": 120, "deferred": 80})
    queue.run_action(cfg, action="requeue", queue_id=a_ids[1])
    kick_pickup(stack)
    settle(stack, {"hold": 119, "deferred": 81})

    # flush by id and by filter: postqueue -i accepts them (the transport stays deferred)
    assert queue.run_action(cfg, action="flush", queue_id=a_ids[3]).selected == 1
    flushed = queue.run_action(
        cfg, action="flush", flt=queue.QueueFilter.build(queue="hold", sender="alice@")
    )
    assert flushed.selected == 119
    settle(stack, {"hold": 119, "deferred": 81})

    # delete by id, then by filter (the 80 from s2 are moving between deferred and active)
    result = queue.run_action(cfg, action="delete", queue_id=a_ids[2])
    assert result.affected == 1
    settle(stack, {"hold": 118, "deferred": 81})
    result = queue.run_action(
        cfg, action="delete", flt=queue.QueueFilter.build(sender_domain="s2.queue.test")
    )
    assert result.affected == 80
    settle(stack, {"hold": 118, "deferred": 1})
    left = Counter(e.sender for e in stream(stack))
    assert left == {"alice@s1.queue.test": 119}

    # a filter matching nothing touches nothing
    result = queue.run_action(
        cfg, action="delete", flt=queue.QueueFilter.build(recipient_domain="none.remote.test")
    )
    assert result.selected == 0 and result.affected == 0
    assert sum(by_queue(stack).values()) == 119


def test_unknown_id_and_bad_input(held_200):
    cfg = str(held_200.postfix_dir)
    result = queue.run_action(cfg, action="delete", queue_id="ABCDEF012345")
    assert result.affected == 0
    with pytest.raises(queue.QueueInputError) as exc:
        queue.run_action(cfg, action="delete", queue_id="ALL")
    assert exc.value.field == "queue_id"
    with pytest.raises(queue.QueueInputError) as exc:
        queue.run_action(cfg, action="delete", flt=queue.QueueFilter())
    assert exc.value.field == "filter"
    with pytest.raises(queue.QueueInputError):
        queue.run_action(cfg, action="explode", queue_id="ABCDEF012345")
    assert sum(by_queue(held_200).values()) == 200
