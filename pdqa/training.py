"""Training the answer model on SQuAD 2.0 (``pdqa train answerer``; needs the ``train`` extra).

The SQuAD slices in ``../shared/data/squad2`` are split by article (``eval/squad_split.json``).
Each group of articles becomes a temporary pdqa corpus with a real index, and every question goes
through pdqa's own retrieval and feature extraction, so the model learns from exactly what it
will see at query time. Then:

1. the unit scorer (logistic regression) learns which candidate unit holds the answer, on the
   answerable questions of the training articles;
2. the answerability model learns whether the best unit's answer is right, from question-level
   features. Its training rows get unit scores from unit scorers that did not see their article
   (cross-fitting by article), and it is trained only on articles that hold unanswerable
   questions: elsewhere it would learn "this topic is answerable";
3. on the validation articles: the regularisation of both models, Platt scaling of the
   confidence, and the abstention threshold that maximises overall accuracy.

Everything is seeded; the same data and code give the same model file.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .answer_model import AnswerModel, LinearModel, Platt
from .embeddings import OnnxEmbedder
from .errors import IndexCorrupt, IndexNotBuilt, IndexStale
from .evaluation.gold import load_gold, squad_to_corpus
from .evaluation.metrics import expected_calibration_error, fact_recall
from .extractive import eligible
from .features import QUESTION_FEATURES, UNIT_FEATURES, FeatureExtractor, TermWeights, question_row, unit_terms_of
from .index import build_index, load_index
from .question import analyse
from .retrieval import HybridRetriever
from .settings import PROJECT_ROOT, Settings, default_corpus_dir

SPLIT_FILE = PROJECT_ROOT / "eval" / "squad_split.json"
GOLD_FILE = PROJECT_ROOT / "eval" / "gold.jsonl"
SEED = 13
C_GRID = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5


@dataclass
class QuestionData:
    """One question's candidates, as the answerer sees them, with labels from the gold answer."""

    qid: str
    article: str
    answerable: bool
    units: np.ndarray  # candidates x UNIT_FEATURES
    labels: np.ndarray  # candidate holds a gold answer
    allowed: np.ndarray  # candidate may be quoted
    question: object = None  # the analysed Question, for question-level features


@dataclass
class Group:
    """The questions of one set of articles."""

    name: str
    questions: list[QuestionData] = field(default_factory=list)


def train_answerer(
    data_dir: Path,
    out_dir: Path,
    work_dir: Path,
    split_file: Path = SPLIT_FILE,
    gold_path: Path = GOLD_FILE,
    progress=print,
) -> AnswerModel:
    """Collect features, fit and validate both models, and write model.json and MODEL_CARD.md.

    Args:
        data_dir: The folder holding the SQuAD files the split names (``../shared/data/squad2``).
        out_dir: Where to write ``model.json`` and ``MODEL_CARD.md``.
        work_dir: Scratch folder for the temporary corpora and indexes (reused when present).
        split_file: Which articles train and which validate (``eval/squad_split.json``).
        gold_path: The report's gold questions; their dev split validates too (never the test split).
        progress: Called with one line of progress at a time.
    """
    split = json.loads(split_file.read_text(encoding="utf-8"))
    groups = {}
    for part in ("train", "validation"):
        for file_name, articles in split[part].items():
            name = f"{part}-{Path(file_name).stem}"
            progress(f"collecting {name} ({len(articles)} articles)")
            groups[name] = collect(data_dir / file_name, set(articles), work_dir / name, name)
    progress("collecting the report's dev questions")
    report_dev = collect_gold(gold_path, "dev", work_dir / "report-dev", "report-dev")
    train = [q for name, g in groups.items() if name.startswith("train") for q in g.questions]
    squad = [q for name, g in groups.items() if name.startswith("validation") for q in g.questions]
    model, figures = fit(train, {"squad": squad, "report-dev": report_dev.questions}, progress)
    model.trained.update(_provenance(data_dir, split, figures))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.json").write_text(model.model_dump_json(indent=1) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(model_card(model, out_dir / "model.json"), encoding="utf-8")
    return model


def collect(squad_path: Path, articles: set[str], work: Path, name: str) -> Group:
    """Build a pdqa index over the SQuAD articles and extract every question's candidates."""
    settings = Settings(corpus_dir=work / "corpus", index_dir=work / "index")
    if not settings.corpus_dir.is_dir():
        squad_to_corpus(squad_path, settings.corpus_dir, articles)
    _ensure_index(settings)
    return _extract(settings, _squad_questions(squad_path, articles), name)


def collect_gold(gold_path: Path, split: str, work: Path, name: str) -> Group:
    """The report's own gold questions of one split, over an index of the bundled corpus."""
    settings = Settings(corpus_dir=default_corpus_dir(), index_dir=work / "index")
    _ensure_index(settings)
    items = [
        {"id": q.id, "question": q.question, "article": "report", "facts": q.facts}
        for q in load_gold(gold_path, split)
    ]
    return _extract(settings, items, name)


def _ensure_index(settings: Settings) -> None:
    """Build the index unless a usable, fresh one is there (a kept --work folder is reused)."""
    try:
        load_index(settings)
    except (IndexNotBuilt, IndexStale, IndexCorrupt):
        build_index(settings)


def _extract(settings: Settings, items: list[dict], name: str) -> Group:
    """Every question through pdqa's retrieval and feature extraction, labelled from its facts.

    A unit is labelled as answering when it states at least one of the question's facts; a
    question with no facts is unanswerable and no unit answers it.
    """
    index = load_index(settings, check=False)
    unit_terms = [unit_terms_of(u, index.chunk_by_id[u.chunk_id]) for u in index.units]
    extractor = FeatureExtractor(index.units_by_chunk, index.unit_vectors, unit_terms, TermWeights.of(unit_terms))
    retriever = HybridRetriever(index, settings)
    embedder = OnnxEmbedder(index.encoder_dir)
    texts = [" ".join(item["question"].split()) for item in items]
    vectors = np.concatenate([embedder.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    group = Group(name)
    for item, text, vector in zip(items, texts, vectors):
        question = analyse(text)
        found = extractor.candidates(question, vector, retriever.retrieve(text, vector), index.chunk_by_id)
        labels = np.array([fact_recall(u.text, item["facts"])[0] > 0 for u in found.units], dtype=bool)
        group.questions.append(
            QuestionData(item["id"], item["article"], bool(item["facts"]), found.matrix,
                         labels if item["facts"] else np.zeros(len(found.units), dtype=bool),
                         eligible(question, found), question)
        )
    return group


def _squad_questions(squad_path: Path, articles: set[str]) -> list[dict]:
    data = json.loads(squad_path.read_text(encoding="utf-8"))["data"]
    rows = []
    for article in data:
        if article["title"] not in articles:
            continue
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else sorted({a["text"] for a in qa["answers"]})
                facts = [answers] if answers else []
                rows.append({"id": qa["id"], "question": qa["question"], "article": article["title"], "facts": facts})
    return rows


# ---------------------------------------------------------------- fitting


def fit(train: list[QuestionData], validation: dict[str, list[QuestionData]], progress) -> tuple[AnswerModel, dict]:
    """Fit the unit scorer and the answerability model; calibrate and choose the threshold.

    Args:
        train: Questions of the training articles.
        validation: Held-out questions by domain: the SQuAD validation articles ("squad") and the
            report's own dev split ("report-dev"). Regularisation and Platt scaling are fitted on
            SQuAD (1,097 questions; the report's 90 are too few to fit a calibration on); the
            abstention threshold maximises the mean overall accuracy of both domains, so that one
            default serves Wikipedia-like corpora and the report alike.
    """
    squad = validation["squad"]
    unit_c = _choose_unit_c(train, squad, progress)
    unit_model = _fit_unit(train, unit_c)
    answer_train = [q for q in train if q.article in _articles_with_both_kinds(train)]
    rows, labels = _question_rows(answer_train, _cross_fitted_scores(train, unit_c))
    held_out = {name: _question_rows(qs, {q.qid: unit_model.logits(q.units) for q in qs}) for name, qs in validation.items()}
    answer_c = _choose_answer_c(rows, labels, *held_out["squad"], progress)
    answer_model = _fit_linear(rows, labels, list(QUESTION_FEATURES), answer_c)
    logits = {name: answer_model.logits(r) for name, (r, _) in held_out.items()}
    outcome = {name: l for name, (_, l) in held_out.items()}
    calibration = _platt(logits["squad"], outcome["squad"])
    threshold = choose_threshold(validation, logits, outcome, calibration)
    figures = {"unit_c": unit_c, "answer_c": answer_c}
    for name, questions in validation.items():
        figures[name] = _validation_figures(questions, unit_model, logits[name], outcome[name], calibration, threshold)
    figures["squad"]["ece_cross_fitted"] = _cross_fitted_ece(squad, logits["squad"], outcome["squad"])
    for name in validation:
        progress(f"{name}: " + ", ".join(f"{k} {v}" for k, v in figures[name].items()))
    model = AnswerModel(unit=unit_model, answerable=answer_model, calibration=calibration,
                        min_confidence=threshold, trained={"figures": figures})
    return model, figures


def _unit_rows(questions: list[QuestionData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of answerable questions whose candidates hold the answer at least once."""
    usable = [q for q in questions if q.answerable and (q.labels & q.allowed).any()]
    matrix = np.concatenate([q.units[q.allowed] for q in usable])
    labels = np.concatenate([q.labels[q.allowed] for q in usable])
    groups = np.concatenate([[i] * int(q.allowed.sum()) for i, q in enumerate(usable)])
    return matrix, labels, groups


def _fit_linear(matrix: np.ndarray, labels: np.ndarray, names: list[str], c: float) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, random_state=SEED)
    model.fit((matrix - mean) / scale, labels)
    return LinearModel(features=names, mean=mean.tolist(), scale=scale.tolist(),
                       weights=model.coef_[0].tolist(), bias=float(model.intercept_[0]))


def _fit_unit(questions: list[QuestionData], c: float) -> LinearModel:
    matrix, labels, _ = _unit_rows(questions)
    return _fit_linear(matrix, labels, list(UNIT_FEATURES), c)


def top1_accuracy(model: LinearModel, questions: list[QuestionData]) -> float:
    """Share of answerable questions whose best allowed unit holds the answer."""
    answerable = [q for q in questions if q.answerable and q.allowed.any()]
    right = sum(bool(q.labels[_top(model.logits(q.units), q.allowed)]) for q in answerable)
    return right / max(len(answerable), 1)


def _top(scores: np.ndarray, allowed: np.ndarray) -> int:
    return int(np.argmax(np.where(allowed, scores, -np.inf)))


def _choose_unit_c(train, validation, progress) -> float:
    results = {c: top1_accuracy(_fit_unit(train, c), validation) for c in C_GRID}
    progress("unit scorer top-1 on validation by C: " + ", ".join(f"{c}: {v:.3f}" for c, v in results.items()))
    return max(results, key=lambda c: (results[c], -c))


def _cross_fitted_scores(questions: list[QuestionData], c: float) -> dict[str, np.ndarray]:
    """Unit scores for each question from a unit scorer trained without its article."""
    articles = sorted({q.article for q in questions})
    random.Random(SEED).shuffle(articles)
    folds = [set(articles[i::FOLDS]) for i in range(FOLDS)]
    scores = {}
    for fold in folds:
        model = _fit_unit([q for q in questions if q.article not in fold], c)
        scores.update({q.qid: model.logits(q.units) for q in questions if q.article in fold})
    return scores


def _articles_with_both_kinds(questions: list[QuestionData]) -> set[str]:
    kinds: dict[str, set[bool]] = {}
    for q in questions:
        kinds.setdefault(q.article, set()).add(q.answerable)
    return {article for article, seen in kinds.items() if seen == {True, False}}


def _question_rows(questions, scores: dict) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for q in questions:
        masked = np.where(q.allowed, scores[q.qid], -np.inf)
        found = _AsCandidates(q.units)
        rows.append(question_row(q.question, found, masked))
        labels.append(bool(q.answerable and q.allowed.any() and q.labels[_top(scores[q.qid], q.allowed)]))
    return np.array(rows), np.array(labels)


class _AsCandidates:
    """The part of ``features.Candidates`` that ``question_row`` reads."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = matrix
        self.units = range(len(matrix))

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, UNIT_FEATURES.index(name)]


def _choose_answer_c(rows, labels, val_rows, val_labels, progress) -> float:
    losses = {}
    for c in C_GRID:
        logits = _fit_linear(rows, labels, list(QUESTION_FEATURES), c).logits(val_rows)
        losses[c] = _log_loss(logits, val_labels)
    progress("answerability log loss on validation by C: " + ", ".join(f"{c}: {v:.4f}" for c, v in losses.items()))
    return min(losses, key=lambda c: (losses[c], c))


def _log_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(1 / (1 + np.exp(-logits)), 1e-9, 1 - 1e-9)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _platt(logits: np.ndarray, labels: np.ndarray) -> Platt:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, max_iter=1000).fit(logits.reshape(-1, 1), labels)
    return Platt(a=float(model.coef_[0][0]), b=float(model.intercept_[0]))


def choose_threshold(validation: dict, logits: dict, outcome: dict, calibration: Platt) -> float:
    """The confidence threshold with the best mean overall accuracy over the domains.

    Among equally good thresholds the middle one is taken, away from the edges of the plateau.
    """
    probabilities = {name: calibration.probabilities(l) for name, l in logits.items()}
    answerable = {name: np.array([q.answerable for q in qs]) for name, qs in validation.items()}
    candidates = np.unique(np.round(np.concatenate(list(probabilities.values())), 4))
    mean = np.array([
        np.mean([_overall(probabilities[n] >= t, outcome[n], answerable[n]) for n in validation]) for t in candidates
    ])
    best = np.flatnonzero(mean >= mean.max() - 1e-12)
    return float(candidates[best[len(best) // 2]])


def _overall(answered: np.ndarray, correct: np.ndarray, answerable: np.ndarray) -> float:
    """Answered and right, or abstained on a question with no answer."""
    return float(np.mean(np.where(answered, correct, ~answerable)))


def _cross_fitted_ece(questions: list[QuestionData], logits: np.ndarray, labels: np.ndarray) -> float | None:
    """ECE with each article's probabilities from a Platt scaling fitted on the other articles.

    None with a single validation article: there is nothing to fit on without it.
    """
    articles = np.array([q.article for q in questions])
    if len(np.unique(articles)) < 2:
        return None
    probabilities = np.zeros(len(questions))
    for article in np.unique(articles):
        inside = articles == article
        probabilities[inside] = _platt(logits[~inside], labels[~inside]).probabilities(logits[inside])
    return round(expected_calibration_error(probabilities.tolist(), labels.tolist()), 4)


def _validation_figures(questions, unit_model, logits, correct, calibration: Platt, threshold: float) -> dict:
    """Validation figures of one domain at the chosen threshold (best unit as the answer)."""
    probabilities = calibration.probabilities(logits)
    answered = probabilities >= threshold
    has = np.array([q.answerable for q in questions])
    reachable = [q for q in questions if q.answerable and q.allowed.any()]
    return {
        "questions": len(questions),
        "unanswerable": int((~has).sum()),
        "unit_top1_answerable": round(top1_accuracy(unit_model, reachable), 4),
        "overall_accuracy": round(_overall(answered, correct, has), 4),
        "answer_correctness": round(float((answered & correct)[has].mean()), 4),
        "noans_accuracy": round(float((~answered)[~has].mean()), 4),
        "always_abstain_accuracy": round(float((~has).mean()), 4),
        "ece_in_sample": round(expected_calibration_error(probabilities.tolist(), correct.tolist()), 4),
    }


def _provenance(data_dir: Path, split: dict, figures: dict) -> dict:
    files = {}
    for part in ("train", "validation"):
        for name in split[part]:
            files[name] = hashlib.sha256((data_dir / name).read_bytes()).hexdigest()
    return {
        "date": datetime.now(timezone.utc).date().isoformat(),
        "seed": SEED,
        "data_files": files,
        "split": {part: split[part] for part in ("train", "validation")},
        "licence": "Trained on SQuAD 2.0 (Rajpurkar, Jia and Liang 2018), CC BY-SA 4.0.",
    }


def model_card(model: AnswerModel, model_path: Path) -> str:
    """The model card: data and hashes, features, validation figures."""
    trained = model.trained
    figures = trained.get("figures", {})
    lines = [
        "# pdqa answer model",
        "",
        "Two logistic regressions over pdqa's own features (`pdqa/features.py`), scored in numpy on the",
        "query path: a unit scorer that picks the sentence or list that answers, and an answerability",
        "model whose Platt-scaled probability is the answer's `confidence`. Retrain with",
        "`pdqa train answerer` (seeded; about the time of three index builds and feature extraction",
        "over about 8,000 questions).",
        "",
        f"- model file: `model.json`, sha256 `{hashlib.sha256(model_path.read_bytes()).hexdigest()}`",
        f"- trained: {trained.get('date')}, seed {trained.get('seed')}",
        f"- licence: {trained.get('licence')}",
        "",
        "## Data",
        "",
    ]
    lines += [f"- `{name}` sha256 `{digest}`" for name, digest in trained.get("data_files", {}).items()]
    for part, files in trained.get("split", {}).items():
        for name, articles in files.items():
            lines.append(f"- {part}: `{name}`: {', '.join(articles)}")
    lines += ["", "## Features", "", "Unit scorer: " + ", ".join(f"`{f}`" for f in model.unit.features) + ".", "",
              "Answerability: " + ", ".join(f"`{f}`" for f in model.answerable.features) + ".", "",
              "## Validation (held-out articles)", "", "| figure | value |", "|---|---|"]
    for name, value in figures.items():
        if isinstance(value, dict):
            lines += [f"| {name}: {key} | {item} |" for key, item in value.items()]
        else:
            lines.append(f"| {name} | {value} |")
    lines += ["", f"Abstention threshold (`min_confidence`): {model.min_confidence:.4f}, chosen for the best mean "
              "overall accuracy of the two validation domains."]
    return "\n".join(lines) + "\n"
