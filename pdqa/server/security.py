"""The server's guards, as plain ASGI middleware: security headers, the Host check, the bearer
token, a per-client rate limit and a bound on request bodies.

Tokens are compared with :func:`hmac.compare_digest` and never logged; the web page's session
cookie holds an HMAC of the token, never the token itself. CORS is off: no
``Access-Control-Allow-*`` header is ever sent, so other sites' scripts cannot read answers.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time

from fastapi.exceptions import HTTPException  # FastAPI passes its own HTTPException through body parsing

from .errors import json_bytes

SESSION_COOKIE = "pdqa_session"
DEFAULT_MAX_BODY = 64 * 1024  # a 2,000-character question, JSON-escaped, is at most 12 KB
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
OPEN_PATHS = ("/v1/health", "/static/", "/login", "/favicon.ico")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def page_csp(nonce: str) -> str:
    """The web page's policy: its own script (by nonce) and styles, nothing inline, nothing foreign."""
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def session_value(token: str) -> str:
    """What the web page's cookie holds: an HMAC of the token (the token itself never leaves)."""
    return hmac.new(token.encode("ascii"), b"pdqa web session", hashlib.sha256).hexdigest()


def tokens_match(given: str, token: str) -> bool:
    try:
        return hmac.compare_digest(given.encode("ascii"), token.encode("ascii"))
    except UnicodeEncodeError:
        return False


async def send_json(send, status: int, error: str, hint: str = "", headers: list | None = None) -> None:
    payload = json_bytes(error, hint)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class SecurityHeaders:
    """Adds nosniff, no-referrer, no framing and, where a response set none, a deny-all CSP."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {key.lower() for key, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
                         (b"cross-origin-resource-policy", b"same-origin")]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", API_CSP.encode()))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HostCheck:
    """On a loopback bind, refuses requests whose Host is not a loopback name (DNS rebinding)."""

    def __init__(self, app, allowed: tuple[str, ...] | None):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or self.allowed is None:
            return await self.app(scope, receive, send)
        host = (_header(scope, b"host") or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in self.allowed:
            return await send_json(send, 421, f"this server answers only to {', '.join(self.allowed)}, not to Host {host[:100]!r}",
                                   "Open it as http://127.0.0.1:PORT/.")
        await self.app(scope, receive, send)


class BearerAuth:
    """Requires ``Authorization: Bearer <token>`` (or the web page's session cookie).

    ``/v1/health``, ``/static/`` and ``/login`` stay open; a browser asking for a page without the
    cookie is sent to ``/login``.
    """

    def __init__(self, app, token: str | None, token_env: str | None):
        self.app = app
        self.token = token
        self.session = session_value(token) if token else None
        self.token_env = token_env or "the token variable"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.token is None or scope["path"].startswith(OPEN_PATHS):
            return await self.app(scope, receive, send)
        if self.authorised(scope):
            return await self.app(scope, receive, send)
        accept = _header(scope, b"accept") or ""
        if scope["method"] == "GET" and "text/html" in accept and not scope["path"].startswith("/v1/"):
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/login"), (b"content-length", b"0")]})
            return await send({"type": "http.response.body", "body": b""})
        await send_json(send, 401, "missing or wrong bearer token",
                        f"Send 'Authorization: Bearer <token>' with the token in ${self.token_env} on the server.",
                        [(b"www-authenticate", b'Bearer realm="pdqa"')])

    def authorised(self, scope) -> bool:
        given = _header(scope, b"authorization") or ""
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and tokens_match(value.strip(), self.token):
            return True
        cookie = _cookie(_header(scope, b"cookie") or "", SESSION_COOKIE)
        return cookie is not None and tokens_match(cookie, self.session)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class RateLimit:
    """At most ``per_minute`` requests per client address (a token bucket of that size), else 429."""

    def __init__(self, app, per_minute: int | None):
        self.app = app
        self.rate = per_minute
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.rate or scope["path"].startswith(("/static/", "/v1/health")):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.take(client)
        if wait > 0:
            return await send_json(send, 429, f"rate limit: at most {self.rate} requests a minute per client",
                                   f"Try again in {math.ceil(wait)} s.", [(b"retry-after", str(math.ceil(wait)).encode())])
        await self.app(scope, receive, send)

    def take(self, client: str) -> float:
        """Take one request from the client's bucket: 0, or the seconds until one is free."""
        now = time.monotonic()
        refill = self.rate / 60.0
        with self.lock:
            tokens, since = self.buckets.get(client, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - since) * refill)
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                return (1 - tokens) / refill
            self.buckets[client] = (tokens - 1, now)
            if len(self.buckets) > 10_000:  # forget clients whose bucket is full again
                full = [c for c, (t, s) in self.buckets.items() if t + (now - s) * refill >= self.rate]
                for c in full:
                    del self.buckets[c]
            return 0.0


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, by Content-Length or as they arrive."""

    def __init__(self, app, limit: int = DEFAULT_MAX_BODY):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                return await send_json(send, 400, "the Content-Length header is not a number")
            if int(length) > self.limit:
                return await send_json(send, 413, f"the request body is larger than {self.limit:,} bytes",
                                       "Send a smaller request body.")
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)
