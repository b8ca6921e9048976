"""What ``pdqa serve`` and ``pdqa mcp`` run (the CLI imports this only inside those commands)."""

from __future__ import annotations

import logging
import os
import sys

from . import MCP_MODULES, SERVER_MODULES, check_bind, require_extra
from .live import LiveQA, ServerStale

log = logging.getLogger("pdqa.server")


def _log_to_stderr(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logger = logging.getLogger("pdqa")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    logging.captureWarnings(True)  # a fallback warning in a request is a log line, not stderr noise


def serve(settings, host: str = "127.0.0.1", port: int = 8000, token_env: str | None = None, mcp: bool = False,
          on_stale: ServerStale = "use", rate_limit: int | None = None, max_body: int | None = None,
          echo=print) -> None:
    """Run the HTTP server until interrupted.

    Raises:
        ServerError: A missing extra, or an exposed address without a usable token.
    """
    require_extra("pdqa serve", SERVER_MODULES + (MCP_MODULES if mcp else ()))
    token = check_bind(host, token_env, os.environ)  # before anything binds or loads
    import uvicorn

    from .app import create_app
    from .security import DEFAULT_MAX_BODY

    _log_to_stderr()
    live = LiveQA(settings, on_stale)
    app = create_app(settings, live=live, on_stale=on_stale, token=token, token_env=token_env, bind_host=host,
                     max_body=max_body or DEFAULT_MAX_BODY, rate_limit=rate_limit, mcp=mcp)
    shown = f"[{host}]" if ":" in host else host
    echo(f"pdqa: serving {settings.corpus_dir} at http://{shown}:{port}/ (API at /v1, reference at /docs"
         + (", MCP at /mcp" if mcp else "") + (", bearer token required" if token else "") + "); Ctrl-C stops.")
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False,
                timeout_graceful_shutdown=5)


def run_mcp_stdio(settings, on_stale: ServerStale = "use") -> None:
    """Serve MCP over standard input and output until the client closes it.

    Standard output is the protocol's: nothing else is ever written there (logs go to stderr).
    """
    require_extra("pdqa mcp", MCP_MODULES)
    from .mcp_tools import build_mcp_server

    _log_to_stderr(logging.WARNING)
    live = LiveQA(settings, on_stale)
    live.preload()
    try:
        build_mcp_server(live).run("stdio")
    finally:
        live.close()
