"""Measure LLM answers against gold: unsupported and irrelevant kept sentences, llm-mode share,
correctness next to extractive answers on the same questions, time per answer.

Usage (after `make setup`, from the project root):

    python bench/llm_measure.py MODEL [--sample 300] [--tuning 100] [--out OUT.json] [--replies DIR]

MODEL is gemma-3-270m or smollm2-135m-instruct. Question sets, each summarised on its own:
- the gold dev split and the gold test split;
- a fixed sample (seed 0) of ``--sample`` questions of the SQuAD 2.0 validation articles
  Harvard_University, Immune_system and Force;
- ``--tuning`` further questions of those articles (seed 1, none of them in the sample): with the
  gold dev split, the questions the verifier's rules and thresholds may be tuned on. The gold test
  split and the SQuAD sample are only measured.
The model is served by llama.cpp (tests/llama_server.py) on loopback, with the settings the
server tests use.

``--replies DIR`` keeps each raw reply (keyed by the exact prompt) in DIR and replays it when
the same prompt comes again, so a change to verification is measured on the very replies the
model gave, in seconds. A replayed answer's time is not a model's time: the summary's
``median_seconds`` counts only answers the model wrote in this run.

The checks were fixed before any run and do not use the verifier's similarity:
- a sentence *answers* when it holds a gold answer (SQuAD normalisation) or every gold fact;
- a sentence is *supported* when it answers, or when the gold evidence sentences (the units of
  the gold document that hold the evidence text or answer) back it lexically: every number and
  name in them and at least half its content words (``quote_supports``). For an unanswerable
  question there is no gold evidence: a sentence is then supported only by that lexical check
  against the quotes it cites, and never answers.
Correctness is the eval's: answerable and every fact in the answer, or unanswerable and abstained.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pdqa.evaluation import metrics
from pdqa.evaluation.gold import load_gold, squad_to_corpus
from pdqa.evaluation.runner import quote_supports, verified_sentences
from pdqa.index import build_index
from pdqa.models import Citation, reference
from pdqa.qa import QA
from pdqa.settings import LLMSettings, Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
from llama_server import SMOLLM2_ALIAS, gguf_path, serve, smollm2_gguf_path  # noqa: E402
from test_llm_server import COMMON, MODELS  # noqa: E402

SQUAD = PROJECT_ROOT.parent / "shared" / "data" / "squad2" / "dev-8-articles.json"
VALIDATION_ARTICLES = ("Harvard_University", "Immune_system", "Force")


def evidence_citations(qa: QA, gold) -> list[Citation]:
    """The units of the gold documents that hold an evidence text, as citations to check against."""
    texts = [(e.doc_id, " ".join(e.text.lower().split())) for e in gold.evidence]
    documents = {doc for doc, _ in texts}
    found = []
    for chunk in qa.index.store.iter_chunks():
        if chunk.doc_id not in documents:
            continue
        for unit in qa.index.units_of(chunk.chunk_id):
            if any(doc == chunk.doc_id and text in " ".join(unit.text.lower().split()) for doc, text in texts):
                found.append(Citation(n=1, **reference(chunk), start=unit.start, end=unit.end, quote=unit.text))
    return found


def answers(sentence: str, gold) -> bool:
    if not gold.answerable:
        return False
    text = metrics.normalize_answer(sentence)
    holds_answer = any(metrics.normalize_answer(a) and metrics.normalize_answer(a) in text for a in gold.answers)
    return holds_answer or (bool(gold.facts) and metrics.fact_recall(sentence, gold.facts)[0] == 1.0)


def supported(sentence: str, gold, evidence: list[Citation], cited: list[Citation]) -> bool:
    if answers(sentence, gold):
        return True
    return quote_supports(sentence, evidence if gold.answerable else cited) if (evidence or cited) else False


def correct(answer, gold) -> bool:
    if not gold.answerable:
        return answer.abstained
    return not answer.abstained and metrics.fact_recall(answer.answer, gold.facts)[0] == 1.0


class _Piece:
    def __init__(self, delta: str):
        self.delta = delta


class ReplayLLM:
    """A LlamaIndex LLM stand-in that keeps every raw reply in a folder and replays it.

    A reply is read whole from the model before it is handed on, so a reply the reader stops
    reading early is still kept whole; ``replayed`` tells whether the last reply came from the folder.
    """

    def __init__(self, llm, folder: Path):
        self.llm, self.folder, self.replayed = llm, folder, False
        folder.mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name):
        return getattr(self.llm, name)

    def stream_chat(self, messages):
        key = json.dumps([[str(m.role), m.content] for m in messages])
        return self._replay(key, lambda: self.llm.stream_chat(messages))

    def stream_complete(self, prompt: str):
        return self._replay(prompt, lambda: self.llm.stream_complete(prompt))

    def _replay(self, key: str, ask):
        path = self.folder / (hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json")
        self.replayed = path.exists()
        if not self.replayed:
            deltas = [piece.delta or "" for piece in ask()]
            path.write_text(json.dumps(deltas), encoding="utf-8")
        return iter([_Piece(d) for d in json.loads(path.read_text(encoding="utf-8"))])


def measure(qa_llm: QA, qa_plain: QA, questions, progress: Path) -> dict:
    """Ask every question of both QAs; the summary so far is rewritten to ``progress`` after each."""
    rows = []
    for gold in questions:
        started = time.perf_counter()
        answer = qa_llm.ask(gold.question)
        seconds = time.perf_counter() - started
        extractive = qa_plain.ask(gold.question)
        evidence = evidence_citations(qa_llm, gold)
        kept = verified_sentences(answer) if answer.mode == "llm" and not answer.abstained else []
        raw = [(s, cs) for s, cs in kept] + [(r.sentence, []) for r in answer.removed]
        rows.append({
            "id": gold.id, "answerable": gold.answerable, "mode": answer.mode, "seconds": seconds,
            "replayed": getattr(qa_llm.backend.llm, "replayed", False), "question": gold.question,
            "correct": correct(answer, gold), "extractive_correct": correct(extractive, gold),
            "raw": len(raw), "raw_unsupported": sum(not supported(s, gold, evidence, cs) for s, cs in raw),
            "kept": len(kept), "kept_unsupported": sum(not supported(s, gold, evidence, cs) for s, cs in kept),
            "kept_irrelevant": sum(not answers(s, gold) for s, _ in kept),
            "kept_sentences": [s for s, _ in kept],
            "removed": [[r.sentence, r.reason] for r in answer.removed],
        })
        progress.write_text(json.dumps(summarise(rows) | {"rows": rows}, indent=1), encoding="utf-8")
    return summarise(rows) | {"rows": rows}


def summarise(rows: list[dict]) -> dict:
    def share(part, whole):
        return f"{part}/{whole}" + (f" = {part / whole:.3f}" if whole else "")

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "questions": len(rows),
        "raw_unsupported": share(sum(r["raw_unsupported"] for r in rows), sum(r["raw"] for r in rows)),
        "kept_unsupported": share(sum(r["kept_unsupported"] for r in rows), sum(r["kept"] for r in rows)),
        "kept_irrelevant": share(sum(r["kept_irrelevant"] for r in rows), sum(r["kept"] for r in rows)),
        "llm_mode": share(sum(r["mode"] == "llm" for r in rows), len(rows)),
        "llm_mode_answerable": share(sum(r["mode"] == "llm" for r in answerable), len(answerable)),
        "fallback": share(sum(r["mode"] == "extractive-fallback" for r in rows), len(rows)),
        "correct_answerable": share(sum(r["correct"] for r in answerable), len(answerable)),
        "extractive_correct_answerable": share(sum(r["extractive_correct"] for r in answerable), len(answerable)),
        "noans_accuracy": share(sum(r["correct"] for r in unanswerable), len(unanswerable)),
        "extractive_noans_accuracy": share(sum(r["extractive_correct"] for r in unanswerable), len(unanswerable)),
        "median_seconds": _median([r["seconds"] for r in rows if not r.get("replayed")]),
        "answers_written": sum(not r.get("replayed") for r in rows),
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def squad_sets(root: Path, size: int, tuning: int) -> tuple[Settings, list, list]:
    """The SQuAD validation corpus, indexed in ``root`` (kept for the next run), the measured
    sample and the tuning questions (disjoint from the sample)."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    held_out = [a for a in data["data"] if a["title"] in VALIDATION_ARTICLES]
    (root / "validation.json").write_text(json.dumps({"version": "v2.0", "data": held_out}), encoding="utf-8")
    questions = squad_to_corpus(root / "validation.json", root / "corpus")
    settings = Settings(corpus={"dir": root / "corpus"}, index={"dir": root / "index"})
    build_index(settings)
    sample = random.Random(0).sample(questions, min(size, len(questions)))
    rest = [q for q in questions if q not in sample]
    return settings, sample, random.Random(1).sample(rest, min(tuning, len(rest)))


def _server(model: str, folder: Path, threads: int | None):
    if model == SMOLLM2_ALIAS:
        return serve(smollm2_gguf_path(), chat_template=None, alias=SMOLLM2_ALIAS, threads=threads)
    return serve(gguf_path(folder / "gguf"), threads=threads)


def main(args: argparse.Namespace) -> None:
    results = {}
    work = args.work or Path(tempfile.mkdtemp(prefix="pdqa-llm-measure-"))
    work.mkdir(parents=True, exist_ok=True)
    with _server(args.model, work, args.threads) as server:
        config = LLMSettings(backend="openai-like", base_url=server.base_url, model=server.model,
                             **{**COMMON, "strict": False}, **MODELS[args.model])
        gold = PROJECT_ROOT / "eval" / "gold.jsonl"
        settings, sample, tuning = squad_sets(work, args.sample, args.tuning)
        # The tuning questions first: rules are tuned on them while the measured sets still run.
        sets = {"gold dev": (Settings(), load_gold(gold, "dev")), "SQuAD tuning": (settings, tuning),
                "gold test": (Settings(), load_gold(gold, "test")), "SQuAD validation sample": (settings, sample)}
        for name, (settings, questions) in sets.items():
            if not questions or (args.only and name != args.only):
                continue
            llm_qa = QA(settings.changed(llm=config), on_stale="rebuild")
            if args.replies:
                llm_qa.backend = dataclasses.replace(llm_qa.backend, llm=ReplayLLM(llm_qa.backend.llm, args.replies / args.model))
            partial = args.out.with_suffix(f".{len(results)}.partial.json")
            results[name] = measure(llm_qa, QA(settings, on_stale="rebuild"), questions, partial)
            print(name, json.dumps({k: v for k, v in results[name].items() if k != "rows"}, indent=1), flush=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=list(MODELS))
    parser.add_argument("--sample", type=int, default=300, help="SQuAD validation questions measured")
    parser.add_argument("--tuning", type=int, default=100, help="further SQuAD questions to tune on")
    parser.add_argument("--out", type=Path, help="result file (default: MODEL-measure.json)")
    parser.add_argument("--replies", type=Path, help="folder that keeps and replays raw replies")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--work", type=Path, help="folder for the SQuAD corpus and index (kept)")
    parser.add_argument("--only", choices=["gold dev", "SQuAD tuning", "gold test", "SQuAD validation sample"],
                        help="measure this question set alone (a change is tuned on 'gold dev' without looking at the test split)")
    args = parser.parse_args()
    args.out = args.out or Path(f"{args.model}-measure.json")
    return args


if __name__ == "__main__":
    main(_arguments())
