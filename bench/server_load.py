"""Load test of `pdqa serve`: N concurrent clients x M questions against one server.

Checks that no request fails and that every answer is the one in-process ``QA().ask`` gives,
and compares latency with in-process answering at the same concurrency (N threads sharing one
QA) and one at a time. The server runs in its own process (its own GIL), started here with
`pdqa serve` on a free loopback port unless --url names one already running.

Usage (from the project root, after `make setup`):
    python bench/server_load.py [--clients 8] [--questions 50] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _strip(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


def _figures(latencies: list[float]) -> dict:
    return {"p50_ms": round(percentile(latencies, 0.5), 2), "p95_ms": round(percentile(latencies, 0.95), 2),
            "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None}


def in_process(qa, jobs: list[str], clients: int) -> list[float]:
    """Latency of each ``qa.ask`` with ``clients`` threads sharing the QA."""
    def one(question):
        started = time.perf_counter()
        qa.ask(question)
        return (time.perf_counter() - started) * 1000

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, jobs))


def over_http(url: str, jobs_per_client: list[list[str]], expected: dict):
    """(latencies, overheads, errors, mismatches, first problems) of every request, each client on its
    own connection. A request's overhead is its latency less the time QA took inside the server (the
    Answer's ``timings_ms["total"]``): what HTTP, JSON and the server add, whatever the machine's load
    does to answering itself."""
    def client(jobs):
        latencies, overheads, errors, mismatches, problems = [], [], 0, 0, []
        with httpx.Client(base_url=url, timeout=120) as http:
            for question in jobs:
                started = time.perf_counter()
                try:
                    response = http.post("/v1/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    errors += 1
                    problems.append(f"{question}: {exc}")
                    continue
                latency = (time.perf_counter() - started) * 1000
                latencies.append(latency)
                if response.status_code != 200:
                    errors += 1
                    problems.append(f"{question}: {response.status_code} {response.text[:200]}")
                    continue
                answer = response.json()
                overheads.append(latency - answer.get("timings_ms", {}).get("total", 0.0))
                if _strip(answer) != expected[question]:
                    mismatches += 1
                    problems.append(f"{question}: answer differs from QA().ask")
        return latencies, overheads, errors, mismatches, problems

    with concurrent.futures.ThreadPoolExecutor(len(jobs_per_client)) as pool:
        results = list(pool.map(client, jobs_per_client))
    latencies = [value for r in results for value in r[0]]
    overheads = [value for r in results for value in r[1]]
    return (latencies, overheads, sum(r[2] for r in results), sum(r[3] for r in results),
            [p for r in results for p in r[4]][:5])


def measure(url: str, qa, questions: list[str], clients: int = 8, per_client: int = 50, sequential: int = 0) -> dict:
    """Figures of ``clients`` x ``per_client`` requests (each client cycles through ``questions``).

    ``sequential``: also that many requests one at a time, server and in-process (pure overhead).
    """
    expected = {q: _strip(json.loads(qa.ask(q).model_dump_json())) for q in questions}  # also warms the caches
    jobs = [[questions[(c + i) % len(questions)] for i in range(per_client)] for c in range(clients)]
    started = time.perf_counter()
    latencies, overheads, errors, mismatches, problems = over_http(url, jobs, expected)
    wall = time.perf_counter() - started
    local = in_process(qa, [q for client_jobs in jobs for q in client_jobs], clients)
    figures = {
        "clients": clients, "per_client": per_client, "requests": clients * per_client, "errors": errors,
        "mismatches": mismatches, "problems": problems, "wall_s": round(wall, 2),
        "throughput_per_s": round(clients * per_client / wall, 1),
        "server": _figures(latencies), "in_process": _figures(local), "server_overhead": _figures(overheads),
        "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
    }
    figures["p50_overhead_ms"] = round(figures["server"]["p50_ms"] - figures["in_process"]["p50_ms"], 2)
    if sequential:
        one_at_a_time = [questions[i % len(questions)] for i in range(sequential)]
        seq_server, seq_overheads, seq_errors, seq_mismatches, _ = over_http(url, [one_at_a_time], expected)
        seq_local = in_process(qa, one_at_a_time, 1)
        figures["sequential"] = {"requests": sequential, "errors": seq_errors, "mismatches": seq_mismatches,
                                 "server": _figures(seq_server), "in_process": _figures(seq_local),
                                 "server_overhead": _figures(seq_overheads),
                                 "p50_overhead_ms": round(percentile(seq_server, 0.5) - percentile(seq_local, 0.5), 2)}
    return figures


def gold_questions(count: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["question"] for row in rows[:count]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(corpus: str | None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    pdqa = Path(sys.executable).parent / "pdqa"
    corpus_args = ["--corpus", corpus] if corpus else []
    subprocess.run([str(pdqa), *corpus_args, "index", "build"], check=True, capture_output=True)
    process = subprocess.Popen([str(pdqa), *corpus_args, "serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"pdqa serve exited: {process.stderr.read()}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).json().get("ready"):
                return process, url
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    process.terminate()
    raise SystemExit("pdqa serve did not become ready within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=50, help="Questions per client (from eval/gold.jsonl).")
    parser.add_argument("--sequential", type=int, default=50, help="Also this many one at a time (0: skip).")
    parser.add_argument("--url", help="A running `pdqa serve` (default: start one over --corpus).")
    parser.add_argument("--corpus", help="Corpus folder (default: the bundled report).")
    args = parser.parse_args()

    from pdqa.qa import QA
    from pdqa.settings import Settings

    settings = Settings.from_environment(**({"corpus": {"dir": args.corpus}} if args.corpus else {}))
    process = None
    url = args.url
    if url is None:
        process, url = _start_server(args.corpus)
    qa = QA(settings)
    try:
        figures = measure(url, qa, gold_questions(args.questions), args.clients, args.questions, args.sequential)
    finally:
        qa.close()
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(json.dumps(figures, indent=2))
    server, local = figures["server"], figures["in_process"]
    print(f"{figures['clients']} clients x {figures['per_client']} questions: {figures['errors']} errors, "
          f"{figures['mismatches']} answers differing from QA().ask; p50/p95 server {server['p50_ms']}/{server['p95_ms']} ms, "
          f"in-process {local['p50_ms']}/{local['p95_ms']} ms (p50 difference {figures['p50_overhead_ms']} ms; "
          f"per request, latency less QA's own time: p50 {figures['server_overhead']['p50_ms']} ms, "
          f"p95 {figures['server_overhead']['p95_ms']} ms); "
          f"load average {figures['load_average']} on {figures['cpus']} CPUs")
    if "sequential" in figures:
        seq = figures["sequential"]
        print(f"one at a time: p50 server {seq['server']['p50_ms']} ms, in-process {seq['in_process']['p50_ms']} ms "
              f"(difference {seq['p50_overhead_ms']} ms; latency less QA's own time p50 {seq['server_overhead']['p50_ms']} ms, "
              f"p95 {seq['server_overhead']['p95_ms']} ms)")
    if figures["errors"] or figures["mismatches"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
