"""Fetch a page or feed over HTTP(S), with a timeout, a size limit and errors that say which
URL failed and why."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

from rag import __version__
from rag.errors import ArticleError

TIMEOUT_SECONDS = 20.0
"""Per connection and per read: a server that stops answering fails after this long."""
MAX_BYTES = 10 * 1024 * 1024
"""Largest page or feed read; news pages are far smaller."""
USER_AGENT = f"newsrag/{__version__} (+local news question answering)"


def human_size(size: int) -> str:
    """`2.5 MB`, `700 KB`, `120 bytes`."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Response:
    url: str
    """The final URL, after redirects."""
    content_type: str
    body: bytes


def fetch(url: str) -> Response:
    """GET `url`; any failure is an `ArticleError` naming the URL."""
    if not url.startswith(("http://", "https://")):
        raise ArticleError(
            url,
            "only http:// and https:// URLs can be fetched",
            hint="Give the full URL, starting with https://.",
        )
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # "http://[x"
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            body = reply.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise ArticleError(
                    url,
                    f"larger than {human_size(MAX_BYTES)}",
                    hint="Save the page and ingest the file, or split it.",
                )
            return Response(reply.geturl(), reply.headers.get_content_type(), body)
    except urllib.error.HTTPError as exc:
        raise ArticleError(
            url,
            f"HTTP {exc.code} {exc.reason}",
            hint="Check the URL in a browser; the server refused it.",
        ) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timed_out(url) from exc
        raise ArticleError(
            url,
            f"cannot be fetched: {exc.reason}",
            hint="Check the address and the network, then run again.",
        ) from exc
    except TimeoutError as exc:
        raise _timed_out(url) from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:  # bad URL, broken reply
        raise ArticleError(
            url,
            f"cannot be fetched: {exc or type(exc).__name__}",
            hint="Check the address (no spaces, a valid host) and run again.",
        ) from exc


def _timed_out(url: str) -> ArticleError:
    return ArticleError(
        url,
        f"timed out after {TIMEOUT_SECONDS:g} s",
        hint="The server is slow or down; run again later.",
    )
