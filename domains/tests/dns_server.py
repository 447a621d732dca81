"""A real DNS server on loopback for the verification tests: dnslib answers UDP queries from a
dict the test fills, so the resolver code under test runs unchanged (sockets, wire format)."""

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class TxtZone(BaseResolver):
    """TXT records by name; any other name is NXDOMAIN. `queries` lists what was asked."""

    def __init__(self):
        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []

    def publish(self, name: str, *values: str) -> None:
        self.records.setdefault(name.lower().rstrip("."), []).extend(values)

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        self.queries.append(qname)
        if qname not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.records[qname]:
                reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply


def start(zone: TxtZone) -> tuple[DNSServer, int]:
    logger = DNSLogger(
        log="-request,-reply,-truncated,-error,-recv,-send,-data", logf=lambda s: None
    )
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=logger)
    server.start_thread()
    return server, server.server.server_address[1]
