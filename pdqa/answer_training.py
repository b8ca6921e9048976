"""``pdqa train answerer``: gather the validation questions' reader scores and fit the answer stage (training.py)."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from .answer_model import MODEL_PATH, AnswerModel, LinearModel, Platt
from .settings import Settings
from .training import SEED, card, fit_answer_model, fit_injection, rows_over

NEGATIVE_UNITS = 1500  # report sentences (training documents) that state facts, for the injection check


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train_answer_stage(data_dir: Path, report_set: Path, injection_dir: Path, out_dir: Path, settings: Settings,
                       progress=print) -> AnswerModel:
    from .evaluation.sets import bundled_file, prepare_questions
    from .extractive import ExtractiveAnswerer
    from .qa import QA
    from .reader import load_reader, reader_sha256

    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="pdqa-answerer-") as scratch:
        plans = {
            "squad": prepare_questions(settings, squad_path=data_dir / "squad2" / "dev-8-articles.json", split="validation",
                                       split_file=bundled_file("squad_split.json"), scratch=Path(scratch) / "squad"),
            "reports": prepare_questions(settings, gold_path=report_set / "gold.jsonl", split="validation",
                                         split_file=report_set / "split.json", documents_dir=data_dir / "reports",
                                         scratch=Path(scratch) / "reports"),
        }
        train_plan = prepare_questions(settings, gold_path=report_set / "gold.jsonl", split="train",
                                       split_file=report_set / "split.json", documents_dir=data_dir / "reports",
                                       scratch=Path(scratch) / "train")
        progress("injection check")
        with QA(train_plan.corpora[0].settings, on_stale="rebuild") as qa:
            embed = qa.embedder.embed
            units = [u.text for u in qa.index.store.iter_units() if u.kind in ("sentence", "item")]
            negatives = rng.sample(units, min(NEGATIVE_UNITS, len(units)))
            written = _jsonl(injection_dir / "train.jsonl")
            # The check reads the user's question too (an order there means no answer): the
            # training documents' questions teach it that a question is not an order, and their
            # requests to write, rewrite or reveal something (kind "instruction") that they are.
            asked = train_plan.corpora[0].questions
            texts = [row["text"] for row in written] + negatives + [q.question for q in asked]
            labels = ([int(row["label"]) for row in written] + [0] * len(negatives)
                      + [int(q.category == "instruction") for q in asked])
            injection, threshold, injection_figures = fit_injection(texts, labels, embed, progress)
            provisional = AnswerModel(
                choice=LinearModel(features=["reader_logit"], mean=[0.0], scale=[1.0], weights=[1.0], bias=0.0),
                answerable=LinearModel(features=[], mean=[], scale=[], weights=[], bias=0.0), calibration=Platt(a=1, b=0),
                min_confidence=0.0, complement_logit=99.0, complement_margin=0.0, injection=injection,
                injection_threshold=threshold)
        rows = []
        for domain, plan in plans.items():
            for corpus in plan.corpora:
                progress(f"reader scores of the {domain} validation questions")
                with QA(corpus.settings, on_stale="rebuild") as qa:
                    answerer = ExtractiveAnswerer(qa.index, settings.answer, provisional, load_reader())
                    rows += rows_over(qa, corpus.questions, domain, answerer)
    model = fit_answer_model(rows, injection, threshold, settings.answer.max_units, reader_sha256(), progress)
    model.trained["injection"] = injection_figures
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MODEL_PATH.name
    path.write_text(model.model_dump_json(indent=1) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(card(model, path), encoding="utf-8")
    return model
