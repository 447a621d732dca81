"""Prints COUNT synthetic `postqueue -j` lines (the format of Postfix 3.7), for the tests that
stream a long queue through a real subprocess: python fake_postqueue.py COUNT [SEED].

Recipient domains: most from a pool of 200, one in ten unique (so the per-domain cap is hit);
deferral reasons from a few templates with per-message hosts and IPs (so normalising matters)."""

import json
import random
import sys
import time

QUEUES = ("deferred", "deferred", "deferred", "active", "incoming", "hold")
REASONS = (
    "connect to mx{n}.{d}[192.0.2.{n}]:25: Connection timed out",
    "host mx{n}.{d}[198.51.100.{n}] said: 451 4.7.1 Greylisted, try again in {n}0 seconds "
    "(in reply to RCPT TO command)",
    "Host or domain name not found. Name service error for name={d} type=MX: Host not found, "
    "try again",
    "delivery temporarily suspended: connect to mx.{d}[203.0.113.{n}]:25: Connection refused",
)
CHARS = "BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789"


def main() -> None:
    count = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    now = int(time.time())
    out = sys.stdout
    for i in range(count):
        recipients = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            if rng.random() < 0.1:
                domain = f"unique-{i}-{rng.randrange(10**9)}.example"
            else:
                domain = f"pool{rng.randrange(200)}.example"
            rcpt = {"address": f"user{rng.randrange(1000)}@{domain}"}
            if rng.random() < 0.8:
                rcpt["delay_reason"] = rng.choice(REASONS).format(n=rng.randrange(1, 255), d=domain)
            recipients.append(rcpt)
        qid = "".join(rng.choice(CHARS) for _ in range(11)) + "z" + str(rng.randrange(10**6))
        entry = {
            "queue_name": rng.choice(QUEUES),
            "queue_id": qid,
            "arrival_time": now - rng.randrange(0, 3 * 86400),
            "message_size": rng.randrange(500, 200_000),
            "forced_expire": False,
            "sender": f"sender{rng.randrange(50)}@src{rng.randrange(30)}.example",
            "recipients": recipients,
        }
        out.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
