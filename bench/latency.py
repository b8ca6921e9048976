"""Latency of one question, cold (a new `pdqa ask` process) and warm (a loaded `QA().ask`).

Usage (from the project root, after `make setup`; the machine otherwise idle):

    python bench/latency.py cold [--runs N]
        `pdqa ask` over the bundled report, each run a new process (median, and every run), beside
        the plain LlamaIndex + sentence-transformers script (retrieval only).
    python bench/latency.py warm [--gold FILE] [--corpus DIR] [--split NAME] [--questions N] [--whole]
        p50 / p95 of a warm `QA().ask` over N questions of an evaluation set (the bundled report's
        dev questions by default; a report set's split with --gold eval/reports/gold.jsonl and
        --corpus ../shared/data/reports), and the median of each stage's time. The set's index is
        built first when it is missing (not timed). A report set's questions are asked over the
        documents they name; with --whole, over one index of every document of --corpus.

Wall times are printed beside the process's CPU time: on a shared machine the wall time moves with
the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "Who wrote the Innovation in Action report?"
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_runs(command: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of ``runs`` runs of ``command``."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu, started = _children_cpu(), time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu)
    return walls, cpus


def cold(runs: int) -> None:
    with tempfile.TemporaryDirectory() as persist:
        plain = [str(BIN / "python"), "bench/llamaindex_plain.py", persist, QUESTION]
        subprocess.run(plain, check=True, capture_output=True)  # build and persist once
        subprocess.run([str(BIN / "pdqa"), "index", "build"], check=True, capture_output=True)
        results = {
            "pdqa ask": timed_runs([str(BIN / "pdqa"), "ask", QUESTION], runs),
            "plain LlamaIndex + sentence-transformers (retrieval only)": timed_runs(plain, runs),
        }
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, (walls, cpus) in results.items():
        every = ", ".join(f"{w:.2f}" for w in walls)
        print(f"{name}: median {statistics.median(walls):.2f} s wall ({every}), "
              f"{statistics.median(cpus):.2f} s CPU, over {runs} runs")


def _whole_corpus(plan, corpus: Path, scratch: Path):
    """One corpus plan: every question of ``plan``, asked over an index of all of ``corpus``."""
    from pdqa.evaluation.sets import EvalCorpus

    settings = plan.corpora[0].settings.changed(corpus={"dir": corpus.resolve()}, index={"dir": scratch / "whole-index"})
    return [EvalCorpus(settings, [q for corpus_plan in plan.corpora for q in corpus_plan.questions])]


def warm(gold: Path | None, corpus: Path | None, split: str | None, count: int, whole: bool = False) -> None:
    from pdqa.evaluation.sets import prepare_questions
    from pdqa.qa import QA
    from pdqa.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        plan = prepare_questions(Settings.from_environment(), gold_path=gold, split=split,
                                 documents_dir=corpus, sample=count, scratch=Path(scratch))
        corpora = _whole_corpus(plan, corpus, Path(scratch)) if whole else plan.corpora
        walls, stages, cpu = [], {}, 0.0
        for corpus_plan in corpora:
            with QA(corpus_plan.settings, on_stale="rebuild") as qa:
                load_average = os.getloadavg()[0]  # after the build
                qa.ask(corpus_plan.questions[0].question)  # the reader's session starts on first use
                chunks = qa.manifest.chunk_count
                for question in corpus_plan.questions:
                    started_cpu, started = time.process_time(), time.perf_counter()
                    answer = qa.ask(question.question)
                    walls.append(time.perf_counter() - started)
                    cpu += time.process_time() - started_cpu
                    for stage, ms in answer.timings_ms.items():
                        stages.setdefault(stage, []).append(ms)
    walls_ms = sorted(1000 * w for w in walls)
    p95 = walls_ms[min(len(walls_ms) - 1, round(0.95 * (len(walls_ms) - 1)))]
    print(f"{plan.gold} {plan.split}: {len(walls_ms)} questions over {chunks} chunks, load average "
          f"{load_average:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"warm QA().ask p50 {statistics.median(walls_ms):.0f} ms, p95 {p95:.0f} ms wall; "
          f"{1000 * cpu / len(walls_ms):.0f} ms CPU per question")
    print("median per stage (ms): " + ", ".join(f"{s} {statistics.median(v):.1f}" for s, v in stages.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    cold_mode = modes.add_parser("cold", help="a new `pdqa ask` process per question")
    cold_mode.add_argument("--runs", type=int, default=5)
    warm_mode = modes.add_parser("warm", help="a loaded QA().ask")
    warm_mode.add_argument("--gold", type=Path, help="question set (default: the bundled report's)")
    warm_mode.add_argument("--corpus", type=Path, help="folder of a report set's documents")
    warm_mode.add_argument("--split", help="split of the set (default: dev for the bundled set, validation for a report set)")
    warm_mode.add_argument("--questions", type=int, default=60, help="questions asked (a seeded sample)")
    warm_mode.add_argument("--whole", action="store_true", help="ask over one index of every document of --corpus")
    args = parser.parse_args()
    os.chdir(REPO)
    if args.mode == "cold":
        cold(args.runs)
    else:
        split = args.split or (None if args.gold else "dev")
        if args.whole and args.corpus is None:
            parser.error("--whole needs --corpus")
        warm(args.gold, args.corpus, split, args.questions, args.whole)


if __name__ == "__main__":
    main()
