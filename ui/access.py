"""`rag serve --auth`: no route answers without the login, but the login page itself.

Gradio (6.31) checks the login on its data routes (the page's config, the API's info, the
queue, uploads, files, calls), not on every route: `/gradio_api/cancel`, `/reset`, `/stream/…`,
`/heartbeat/…`, `/token`, `/user`, `/app_id`, `/runs`, the `vibe-…` routes and FastAPI's
`/openapi.json` reach their handlers without it. They show no corpus, but some act on sessions,
and what Gradio leaves open may grow with its versions. `LoginRequired` turns that around:
every request needs the login cookie Gradio gave at login, except those in `OPEN`, which a
browser needs to show the login form and which carry no data of the corpus.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN: dict[str, str] = {
    "/": "the page; logged out, Gradio sends the login form in it (no components, no data)",
    "/login": "where the login form posts the user and password",
    "/logout": "forgets the login",
    "/favicon.ico": "Gradio's icon",
    "/manifest.json": "the web app manifest: the page's title and icon",
    "/robots.txt": "the same two lines for every app",
    "/theme.css": "the theme's style sheet",
    "/gradio_api/theme.css": "the same, under the API prefix",
    "/gradio_api/login_check": "whether this browser is logged in (401 when it is not)",
    "/gradio_api/startup-events": "Gradio requests it itself, with no login, as it starts; "
    "it runs the app's startup events once, and answers true or false",
}
"""The paths anyone may request, each with why it is safe to."""
OPEN_PREFIXES: dict[str, str] = {
    "/assets/": "the page's JavaScript, CSS and fonts, the same for every Gradio app",
    "/static/": "Gradio's bundled images and fonts",
    "/svelte/": "the Svelte runtime the page's JavaScript imports",
}
"""Path prefixes anyone may request: files shipped inside the gradio package."""


def is_open(path: str) -> bool:
    """Whether `path` may be requested without the login (Gradio answers `/login/` as
    `/login`)."""
    return (path.rstrip("/") or "/") in OPEN or path.startswith(tuple(OPEN_PREFIXES))


class LoginRequired:
    """ASGI middleware for a Gradio app launched with `auth=`: a request to any path but
    the open ones gets 401 unless it carries the login cookie (as the browser and
    gradio_client do once logged in). The login page is served without the query string,
    so that no parameter can make Gradio put more in it than the login form."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._logged_in(scope):
            await self.app(scope, receive, send)
        elif is_open(scope["path"]):
            await self.app({**scope, "query_string": b""}, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            body = b'{"detail":"Not authenticated: log in first"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _logged_in(scope: Scope) -> bool:
        """No login to check, or the request's cookie names a login Gradio gave (as its own
        `get_current_user` reads it)."""
        app: Any = scope["app"]
        if getattr(app, "auth", None) is None:
            return True
        cookies = HTTPConnection(scope).cookies
        return any(
            app.tokens.get(cookies.get(f"{name}-{app.cookie_id}")) is not None
            for name in ("access-token", "access-token-unsecure")
        )
