"""Print the links of a web page (``href`` and ``src``), made absolute, once each.

python examples/links.py http://127.0.0.1:8080/index.html
"""

from __future__ import annotations

import ssl
import sys
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from dugong import HTTPConnection


class LinkParser(HTMLParser):
    """Collects the ``href`` and ``src`` attributes of a page, in order."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if tag == "base" and name == "href" and value:
                self.base = urljoin(self.base, value)
            elif name in ("href", "src") and value and not value.startswith(("#", "javascript:")):
                link = urljoin(self.base, value.strip())
                if link not in self.links:
                    self.links.append(link)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: links.py URL", file=sys.stderr)
        return 2
    url = urlsplit(argv[1])
    if url.scheme not in ("http", "https") or not url.hostname:
        print(f"links.py: not an http(s) URL: {argv[1]}", file=sys.stderr)
        return 2
    tls = ssl.create_default_context() if url.scheme == "https" else None

    with HTTPConnection(url.hostname, url.port, ssl_context=tls) as conn:
        conn.timeout = 30
        conn.send_request("GET", (url.path or "/") + (f"?{url.query}" if url.query else ""))
        resp = conn.read_response()
        body = conn.readall()
    if resp.status != 200 or resp.headers.get_content_type() != "text/html":
        print(f"links.py: {resp.status} {resp.reason}, {resp.headers['Content-Type']}", file=sys.stderr)
        return 1

    parser = LinkParser(argv[1])
    parser.feed(body.decode(resp.headers.get_content_charset("utf-8"), "replace"))
    parser.close()
    for link in parser.links:
        print(link)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
