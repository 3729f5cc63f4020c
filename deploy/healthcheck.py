"""Container health check: GET a URL on this container; healthy on a 200.

    python deploy/healthcheck.py http://127.0.0.1:8000/readyz

The request names the first of ALLOWED_HOSTS as its host, so that Django answers
it whatever host names the site is configured for. Prints the answer's start
(docker inspect shows it) and exits 1 on anything but a 200.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe_host() -> str | None:
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    # ".example.org" allows its subdomains too; "*" allows any host.
    first = first.lstrip(".")
    return None if first in ("", "*") else first


def main(url: str) -> int:
    request = urllib.request.Request(url)
    host = probe_host()
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError as error:
        print(f"{url}: {error}")
        return 1
    print(f"{url}: {status} {body[:500].decode(errors='replace')}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
