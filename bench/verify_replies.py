"""Verification of sentences written in a strong model's style: kept-correct and kept-wrong.

The replies (``eval/reports/llm_replies/validation.jsonl``) were written by hand over the report
set's train and validation documents (other questions, and another writer, than the replies the
reader trained on), by helpers who did not build the verifier: for each question, right
restatements of its answer in other words, and subtly wrong ones (a number, a name, a negation,
an overclaim, a swapped entity, an invention, a wrong scope). Each sentence is checked as pdqa
checks an LLM's sentence: against the passages retrieved for its question, citing the passage
that holds its source (added to the passages when retrieval missed it, as a model that was
given it would cite it).

The support check's probabilities and the reader's relevance scores are computed once per
sentence; every threshold pair of the grid then runs the real ``Verifier.check`` again on them.

``--choose`` also picks the thresholds: the support threshold that keeps the most correct
sentences with kept-wrong at most ``--max-wrong`` (0.02), chosen by documents in turn (each
document's sentences measured with the threshold chosen on the others: the cross-fitted figures
are the honest ones), and the relevance threshold that keeps the most correct sentences less
off-topic ones. Every reply here answers its question, so each correct sentence is also asked of
another question of its document, citing its own source: a true sentence that does not answer,
which the relevance check should remove (the earlier rule, the highest threshold that removes at
most ``--relevance-cost`` (2 %) of the correct sentences the support check keeps, is reported
beside it; what the relevance check removes in real replies is measured by
``bench/llm_measure.py``).

The support model is fitted on these same validation replies (``pdqa train support``), so each
document's sentences are scored by a support model fitted on the other documents' replies (same
features); ``--shipped-model`` scores them with the shipped model instead (in-sample figures).

Usage: python bench/verify_replies.py [--replies FILE] [--choose] [--shipped-model] [--out OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pdqa.evaluation.reportgold import StoredText
from pdqa.evaluation.sets import prepare_questions
from pdqa.models import Hit, RemovedClaim, reference
from pdqa.qa import QA
from pdqa.settings import Settings
from pdqa.text import word_set
from pdqa.verify import Claim, KeptClaim

PROJECT_ROOT = Path(__file__).resolve().parent.parent

REPORT_SET = PROJECT_ROOT / "eval" / "reports"
DOCUMENTS = PROJECT_ROOT.parent / "shared" / "data" / "reports"
SUPPORT_GRID = [round(x, 2) for x in np.arange(0.05, 0.995, 0.01)]
RELEVANCE_GRID = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3]


_CHUNKS: dict = {}


def source_chunk(qa: QA, doc: str, source: str):
    """The chunk of ``doc`` that holds most of the ``source`` text."""
    path = next(d.path for d in qa.index.manifest.documents if d.path == doc or d.doc_id == Path(doc).stem)
    if not _CHUNKS:
        for chunk in qa.index.store.iter_chunks():
            _CHUNKS.setdefault(chunk.path, []).append(chunk)
    spans = StoredText(qa.index.text_of(path)).skeleton.spans(source)
    if not spans:
        # The source was copied from an earlier reading of the document (a table read as prose,
        # say): the chunk that shares most of its words holds it now.
        words = word_set(source)
        best = max(_CHUNKS[path], key=lambda chunk: len(words & word_set(chunk.text)))
        return best if len(words & word_set(best.text)) >= 0.6 * len(words) else None
    start, end = spans[0]
    best, overlap = None, 0
    for chunk in _CHUNKS[path]:
        shared = min(end, chunk.end) - max(start, chunk.start)
        if shared > overlap:
            best, overlap = chunk, shared
    return best


class Cached:
    """Wraps the verifier's two model calls so each (sentence, spans) is scored once."""

    def __init__(self, verifier, asked_of):
        self.verifier, self.asked_of = verifier, asked_of
        self.support: dict = {}
        self.embedded: dict = {}
        probabilities, embed = verifier.support_probabilities, verifier.embedder.embed

        def support(text, spans, question_terms=frozenset()):
            key = (text, tuple(s.text for s in spans), question_terms)
            if key not in self.support:
                self.support[key] = probabilities(text, spans, question_terms)
            return self.support[key]

        class Embedder:
            def embed(_, texts):
                missing = [t for t in texts if t not in self.embedded]
                if missing:
                    self.embedded.update(zip(missing, embed(missing)))
                return np.array([self.embedded[t] for t in texts])

        verifier.support_probabilities = support
        verifier.embedder = Embedder()


def cited_hit(chunk, rank: int) -> Hit:
    """A hit for ``chunk`` at ``rank``: a passage a model would cite although retrieval missed it."""
    return Hit(rank=rank, **reference(chunk), start=chunk.start, end=chunk.end, text=chunk.text, page=chunk.page,
               page_label=chunk.page_label, score=0.0, dense_score=None, dense_rank=None, bm25_score=None, bm25_rank=None)


def collect(qa: QA, rows: list[dict], questions: dict) -> list[dict]:
    """For each sentence: the passages, the cited number and the question as verification reads it."""
    out, asked_of = [], {}
    for row in rows:
        if row["qid"] not in asked_of:
            trace = qa.trace(row["question"])
            from pdqa.question import analyse, split_compound

            parts = [analyse(p) for p in split_compound(" ".join(row["question"].split()))]
            asked_of[row["qid"]] = (trace.answer.hits, qa._asked(parts, trace.draft))
        hits, asked = asked_of[row["qid"]]
        chunk = source_chunk(qa, row["doc"], row["source"])
        if chunk is None:
            print(f"source not found: {row['qid']}: {row['source'][:60]!r}", file=sys.stderr)
            continue
        position = next((i for i, h in enumerate(hits) if h.chunk_id == chunk.chunk_id), None)
        if position is None:
            hits = hits + [cited_hit(chunk, len(hits) + 1)]
            position = len(hits) - 1
        out.append(row | {"hits": hits, "cited": position + 1, "asked": asked, "retrieved": position < len(asked_of[row["qid"]][0]),
                          "chunk": chunk})
    return out


def off_topic(items: list[dict]) -> list[dict]:
    """Each right sentence asked of another question of its document: a true sentence, cited
    with its own source, that does not answer the question. The relevance check should remove
    it; the validation replies hold no such sentence of their own. The other question is the
    next of the document's questions (by id, in turn) whose source is another passage."""
    by_doc: dict = defaultdict(dict)
    for item in items:
        by_doc[item["doc"]].setdefault(item["qid"], item)
    out = []
    for item in items:
        if item["label"] != "correct":
            continue
        asked = by_doc[item["doc"]]
        qids = sorted(asked)
        at = qids.index(item["qid"])
        other = next((asked[q] for q in qids[at + 1:] + qids[:at] if asked[q]["chunk"].chunk_id != item["chunk"].chunk_id), None)
        if other is None:
            continue
        hits = [h for h in other["hits"] if h.chunk_id != item["chunk"].chunk_id]
        hits = hits + [cited_hit(item["chunk"], len(hits) + 1)]
        out.append(item | {"qid": other["qid"], "question": other["question"], "asked": other["asked"], "hits": hits,
                           "cited": len(hits), "label": "off-topic"})
    return out


def verdicts(qa: QA, items: list[dict], support: float, relevance: float, models: dict | None = None) -> list[KeptClaim | RemovedClaim]:
    """The verifier's verdict on each sentence; with ``models``, each document's sentences are
    scored by that document's support model (fitted without it)."""
    verifier = qa.verifier
    verifier.threshold = support
    verifier.settings = verifier.settings.model_copy(update={"support_threshold": support, "relevance_threshold": relevance})
    out = []
    for item in items:
        if models is not None:
            verifier._support_model = lambda model=models[item["doc"]]: model
        out.append(verifier.check(Claim(item["sentence"], [item["cited"]]), item["hits"], item["asked"]))
    return out


def rates(items: list[dict], kept: list[bool]) -> dict:
    correct = [k for item, k in zip(items, kept) if item["label"] == "correct"]
    wrong = [k for item, k in zip(items, kept) if item["label"] != "correct"]
    return {"kept_correct": sum(correct), "correct": len(correct), "kept_wrong": sum(wrong), "wrong": len(wrong)}


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def choose_support(table: dict, items: list[dict], chosen_from: list[int], max_wrong: float) -> float:
    """The support threshold (relevance 0) that keeps most correct sentences of ``chosen_from`` with kept-wrong <= max_wrong."""
    best = None
    for support in SUPPORT_GRID:
        kept = table[(support, 0.0)]
        r = rates([items[i] for i in chosen_from], [kept[i] for i in chosen_from])
        if share(r["kept_wrong"], r["wrong"]) <= max_wrong:
            key = (r["kept_correct"], -support)
            if best is None or key > best[0]:
                best = (key, support)
    return best[1] if best else SUPPORT_GRID[-1]


def main(args: argparse.Namespace) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    rows = [json.loads(line) for line in args.replies.read_text(encoding="utf-8").splitlines() if line.strip()]
    settings = Settings()
    # The replies were written over the train and validation documents ("all" is both; never test).
    plan = prepare_questions(settings, gold_path=REPORT_SET / "gold.jsonl", split="all",
                             split_file=REPORT_SET / "split.json", documents_dir=DOCUMENTS, scratch=args.scratch)
    corpus = plan.corpora[0]
    questions = {q.id: q for q in corpus.questions}
    with QA(corpus.settings, on_stale="rebuild") as qa:
        items = collect(qa, rows, questions)
        offs = off_topic(items)
        Cached(qa.verifier, None)
        # The shipped support model was fitted on the validation replies: each document's
        # sentences are scored by the model fitted on the other documents' (same features).
        models = None
        if not args.shipped_model:
            from pdqa.support import load_support_model
            from pdqa.support_training import models_by_document

            models = models_by_document(rows, load_support_model().model.features)
        table: dict = {}
        # The support threshold is chosen with relevance off; the relevance grid is then run at
        # the chosen support threshold only.
        grid = [(s, 0.0) for s in SUPPORT_GRID] if args.choose else []
        grid.append((settings.verify.support_threshold, settings.verify.relevance_threshold))
        for support, relevance in grid:
            table[(support, relevance)] = [isinstance(v, KeptClaim) for v in verdicts(qa, items, support, relevance, models)]
        default = (settings.verify.support_threshold, settings.verify.relevance_threshold)
        def kept_off(support, relevance):
            return sum(isinstance(v, KeptClaim) for v in verdicts(qa, offs, support, relevance, models))

        result: dict = {"sentences": len(items), "not_retrieved": sum(not i["retrieved"] for i in items),
                        "default": {"thresholds": default, **rates(items, table[default]),
                                    "kept_off_topic": kept_off(*default), "off_topic": len(offs)}}
        final = verdicts(qa, items, *default, models=models)
        reasons = Counter(v.reason.split(" (")[0] for item, v in zip(items, final)
                          if isinstance(v, RemovedClaim) and item["label"] == "correct")
        result["removed_correct_reasons"] = dict(reasons.most_common())
        by_error = defaultdict(lambda: [0, 0])
        for item, v in zip(items, final):
            if item["label"] != "correct":
                by_error[item["error"]][0] += isinstance(v, KeptClaim)
                by_error[item["error"]][1] += 1
        result["kept_wrong_by_error"] = {k: f"{a}/{b}" for k, a, b in ((k, *v) for k, v in sorted(by_error.items()))}
        result["kept_wrong_examples"] = [[item["sentence"], item["source"][:200], item["error"]]
                                         for item, v in zip(items, final) if isinstance(v, KeptClaim) and item["label"] != "correct"][:20]
        result["removed_correct_examples"] = [[item["sentence"], v.reason] for item, v in zip(items, final)
                                              if isinstance(v, RemovedClaim) and item["label"] == "correct"][:30]
        if args.choose:
            documents = sorted({item["doc"] for item in items})
            held_kept = [False] * len(items)
            per_document = {}
            for doc in documents:
                held = [i for i, item in enumerate(items) if item["doc"] == doc]
                others = [i for i, item in enumerate(items) if item["doc"] != doc]
                support = choose_support(table, items, others, args.max_wrong)
                per_document[doc] = support
                for i in held:
                    held_kept[i] = table[(support, 0.0)][i]
            support = choose_support(table, items, list(range(len(items))), args.max_wrong)
            kept_correct = [i for i, item in enumerate(items) if item["label"] == "correct" and table[(support, 0.0)][i]]
            for relevance in RELEVANCE_GRID:
                table[(support, relevance)] = [isinstance(v, KeptClaim) for v in verdicts(qa, items, support, relevance, models)]
            by_cost = max((r for r in RELEVANCE_GRID
                           if share(sum(not table[(support, r)][i] for i in kept_correct), len(kept_correct)) <= args.relevance_cost),
                          default=0.0)
            # The relevance threshold: the one that keeps the most right sentences less off-topic
            # ones (a right sentence removed costs as much as an off-topic one kept; a tie goes
            # to the higher threshold).
            relevance_curve = {}
            for r in RELEVANCE_GRID:
                relevance_curve[r] = {"kept_correct": rates(items, table[(support, r)])["kept_correct"],
                                      "kept_off_topic": kept_off(support, r), "off_topic": len(offs)}
            relevance = max(RELEVANCE_GRID, key=lambda r: (relevance_curve[r]["kept_correct"] - relevance_curve[r]["kept_off_topic"], r))
            result["relevance_curve"] = {str(r): v for r, v in relevance_curve.items()}
            result["chosen"] = {"support_threshold": support, "relevance_threshold": relevance,
                                "relevance_by_cost_rule": by_cost,
                                "chosen_per_held_out_document": per_document,
                                "cross_fitted_support_only": rates(items, held_kept),
                                "at_chosen": rates(items, table[(support, relevance)])}
            result["curve"] = {str(s): rates(items, table[(s, 0.0)]) for s in SUPPORT_GRID}
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=Path, default=REPORT_SET / "llm_replies" / "validation.jsonl")
    parser.add_argument("--choose", action="store_true")
    parser.add_argument("--shipped-model", action="store_true",
                        help="Score every sentence with the shipped support model (fitted on these replies: in-sample figures).")
    parser.add_argument("--max-wrong", type=float, default=0.02)
    parser.add_argument("--relevance-cost", type=float, default=0.02)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/pdqa-verify-replies"))
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    main(arguments)
