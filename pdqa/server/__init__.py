"""pdqa over HTTP and MCP: ``pdqa serve`` (a FastAPI app, a web page) and ``pdqa mcp`` (an MCP server).

Needs the ``server`` extra (``pip install 'pdqa[server]'``): FastAPI, uvicorn and the MCP SDK.
Importing this package does not import them; :func:`require_extra` says in one line what is
missing, and :func:`check_bind` refuses an exposed address without a bearer token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from importlib.util import find_spec

from ..errors import PdqaError

EXTRA_HINT = "pip install 'pdqa[server]'"
SERVER_MODULES = ("fastapi", "uvicorn", "jinja2")
MCP_MODULES = ("mcp",)
MIN_TOKEN_CHARS = 16
LOOPBACK_NAMES = ("localhost",)


class ServerError(PdqaError):
    """The server cannot start as asked (a missing extra, an exposed address without a token)."""

    hint = "See `pdqa serve --help`."


def require_extra(what: str, modules: tuple[str, ...]) -> None:
    """Raise ServerError naming the ``server`` extra when one of ``modules`` is not installed."""
    missing = [name for name in modules if find_spec(name) is None]
    if missing:
        raise ServerError(f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed",
                          hint=EXTRA_HINT)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


def check_bind(host: str, token_env: str | None, environ: Mapping[str, str]) -> str | None:
    """The bearer token the server must require, or None on loopback without ``--token-env``.

    Raises:
        ServerError: ``host`` is not loopback and no token is configured, or ``--token-env``
            names a variable that is unset, empty or too short to be a secret.
    """
    if token_env is None:
        if is_loopback(host):
            return None
        raise ServerError(
            f"--host {host} is not a loopback address, so the server needs a bearer token",
            hint="Put a long random token in an environment variable and pass --token-env NAME "
            "(or bind to 127.0.0.1).",
        )
    token = environ.get(token_env, "")
    if not token.strip():
        raise ServerError(f"--token-env {token_env}: the environment variable {token_env} is not set or empty",
                          hint=f"export {token_env}=<a long random token>, e.g. from `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`")
    if len(token) < MIN_TOKEN_CHARS:
        raise ServerError(f"--token-env {token_env}: the token is shorter than {MIN_TOKEN_CHARS} characters",
                          hint="Use a long random token, e.g. secrets.token_urlsafe(32).")
    try:
        token.encode("ascii")
    except UnicodeEncodeError:
        raise ServerError(f"--token-env {token_env}: the token must be ASCII (it travels in an HTTP header)") from None
    return token
