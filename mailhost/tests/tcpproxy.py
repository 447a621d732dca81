"""A tiny TCP proxy the tests control: put it between the mail servers and PostgreSQL, then
`cut()` the database away (live connections dropped, new ones closed at once) and `restore()`."""

from __future__ import annotations

import re
import select
import socket
import threading
from collections import Counter


class TCPProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self._listener = socket.create_server((listen_host, 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._up = True
        self._closed = False
        self.accepted = 0
        self.refused = 0
        self.queries = 0  # SQL statements seen from the clients (SELECT/INSERT/UPDATE...)
        self.relations: Counter[str] = Counter()  # ... per relation read or written
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # control
    @property
    def up(self) -> bool:
        return self._up

    def cut(self) -> None:
        with self._lock:
            self._up = False
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _close(*pair)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        try:
            self._listener.close()
        except OSError:
            pass

    # plumbing
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            self.accepted += 1
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair) -> None:
        a, b = pair
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                if not self._up and pair not in self._pairs:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is a:
                        self._count(data)
                    peers[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._pairs.discard(pair)
            _close(a, b)

    def _count(self, data: bytes) -> None:
        # Good enough to count lookups (libpq's simple queries carry the SQL text); not a
        # protocol parser.
        found = _STATEMENT.findall(data)
        with self._lock:
            self.queries += len(found)
            self.relations.update(name.decode().lower() for name in found)


_STATEMENT = re.compile(rb"(?:FROM|INTO|UPDATE)\s+(mail_\w+)", re.I)


def _close(*socks: socket.socket) -> None:
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass
