#!/usr/bin/env python3
"""Health check of the web container: gunicorn answers HTTP on :8000 with Django behind it.

It asks for WEB_HEALTHCHECK_PATH (default "/") under the first concrete name of ALLOWED_HOSTS.
Any answer below 500 counts as alive (with SECURE_SSL_REDIRECT on, Django answers plain HTTP with
a redirect; "/" may redirect to the login page) except 400, which is Django refusing the Host
header: ALLOWED_HOSTS is wrong, and the panel is unusable. No answer or a 5xx fails."""

import http.client
import os
import sys


def host_header() -> str:
    for name in os.environ.get("ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and "*" not in name:
            return name
    return "localhost"


def main() -> int:
    path = os.environ.get("WEB_HEALTHCHECK_PATH", "/")
    port = int(os.environ.get("WEB_HEALTHCHECK_PORT", "8000"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host_header(), "X-Forwarded-Proto": "https"})
        status = conn.getresponse().status
    except OSError as exc:
        print(f"unhealthy: GET {path} on 127.0.0.1:{port}: {exc}")
        return 1
    finally:
        conn.close()
    if status == 400 or status >= 500:
        print(f"unhealthy: GET {path} answered {status} (400: the host is not in ALLOWED_HOSTS)")
        return 1
    print(f"healthy: GET {path} answered {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
