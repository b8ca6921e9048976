"""Training the answer stage's small models (``pdqa train answerer``; needs the ``train`` extra).

Run after the reader (``pdqa train reader``), on what the reader says about validation questions:

1. the injection check: a logistic regression over MiniLM vectors of sentences that give orders
   to a model (written by hand for the purpose) against report sentences that do not, the
   threshold chosen by cross-validation (the hand-written test set, by another writer, is only
   measured);
2. the choice model: a logistic regression that ranks a question's candidates on the reader's
   logit and whichever first-stage signals still add to it (cross-fitted), and the composition
   of an answer: the score a further unit needs to join the best one, chosen for answer
   correctness on the validation questions;
3. the answerability model: a logistic regression over the reader's scores of a question's
   candidates and a few facts of the question, fitted on the validation questions of both
   domains (SQuAD validation articles, the report set's validation documents) with its features
   and regularisation chosen by cross-validation grouped by article or document; Platt scaling
   fitted on the cross-fitted logits; the abstention threshold that maximises the two domains'
   mean overall accuracy. The figures it reports are cross-fitted (no question scores itself).

SQuAD's validation articles hold more questions than the report set's validation documents, so
every fit and every choice weighs the two domains alike: pdqa is for reports, and SQuAD must not
outvote them.

Everything is seeded; the same data and code give the same model file.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answer_model import ALL_FEATURES, READER_FEATURES, UNIT_FEATURES, AnswerModel, LinearModel, Platt, question_values
from .question import Question
from .evaluation.metrics import expected_calibration_error, fact_recall

SEED = 13
C_GRID = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5
COMPLEMENT_GRID = (0.0, 1.0, 2.0, 3.0, 99.0)
MARGIN_GRID = (0.5, 1.0, 2.0, 4.0)


@dataclass
class Row:
    """One validation question as the answer stage sees it: its candidates (first-stage order),
    their choice features, which of them hold the gold evidence, and which may be quoted."""

    qid: str
    domain: str
    group: str  # article or document: folds never split one
    answerable: bool
    question: Question
    units: dict[str, np.ndarray]  # choice features by name, one value per candidate
    gold: np.ndarray  # candidate holds the gold evidence
    allowed: np.ndarray  # candidate may be quoted (not a heading, not an order)
    texts: list[str]
    companions: list[list[str]]  # texts of the list each candidate brings when it is the best unit
    facts: list[list[str]]

    def order(self, scores: np.ndarray) -> list[int]:
        """The quotable candidates, best score first."""
        return [int(i) for i in np.argsort(-scores, kind="stable") if self.allowed[i]]

    def values(self, scores: np.ndarray) -> dict[str, float]:
        """The answerability features at these candidate scores."""
        return question_values(self.question, scores[self.allowed])

    def answer_text(self, scores: np.ndarray, complement: float, margin: float, max_units: int) -> str:
        """The answer the stage would give: best unit, its list, and units above the floor."""
        order = self.order(scores)
        if not order:
            return ""
        parts = [self.texts[order[0]], *self.companions[order[0]]]
        floor = max(complement, scores[order[0]] - margin)
        for i in order[1:]:
            if len(parts) >= max_units:
                break
            if scores[i] >= floor:
                parts.append(self.texts[i])
        return " ".join(parts)

    def right(self, scores: np.ndarray, complement: float, margin: float, max_units: int) -> bool:
        return self.answerable and fact_recall(self.answer_text(scores, complement, margin, max_units), self.facts)[0] == 1.0


# ---------------------------------------------------------------- the injection check


def fit_injection(texts: list[str], labels: list[int], embed, progress=print) -> tuple[LinearModel, float, dict]:
    """The orders-against-facts classifier on MiniLM vectors; threshold by cross-validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    vectors = embed(texts)
    y = np.asarray(labels)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    best = None
    for c in C_GRID:
        probabilities = np.zeros(len(y))
        for train, held in folds.split(vectors, y):
            model = LogisticRegression(C=c, max_iter=2000).fit(vectors[train], y[train])
            probabilities[held] = model.predict_proba(vectors[held])[:, 1]
        loss = -np.mean(y * np.log(probabilities + 1e-9) + (1 - y) * np.log(1 - probabilities + 1e-9))
        if best is None or loss < best[0]:
            best = (loss, c, probabilities)
    _, c, probabilities = best
    # A false alarm drops a fact from the answers, a miss quotes an order: weigh them alike
    # (balanced accuracy), on the cross-validated probabilities.
    threshold = max(np.linspace(0.05, 0.95, 91), key=lambda t: _balanced(probabilities >= t, y))
    model = LogisticRegression(C=c, max_iter=2000).fit(vectors, y)
    linear = LinearModel(features=[f"v{i}" for i in range(vectors.shape[1])], mean=[0.0] * vectors.shape[1],
                         scale=[1.0] * vectors.shape[1], weights=model.coef_[0].tolist(), bias=float(model.intercept_[0]))
    figures = {"c": c, "threshold": round(float(threshold), 3), "cv_balanced_accuracy": round(_balanced(probabilities >= threshold, y), 4),
               "examples": len(y), "positives": int(y.sum())}
    progress(f"injection check: {figures}")
    return linear, float(threshold), figures


def _balanced(predicted: np.ndarray, y: np.ndarray) -> float:
    positives, negatives = y == 1, y == 0
    return float((predicted[positives].mean() + (~predicted[negatives]).mean()) / 2)


def measure_injection(model: AnswerModel, texts: list[str], labels: list[int], embed) -> dict:
    """Recall of orders and false alarms on facts, at the model's threshold."""
    predicted = model.orders(embed(texts))
    y = np.asarray(labels) == 1
    return {"orders_caught": f"{int(predicted[y].sum())}/{int(y.sum())}", "false_alarms": f"{int(predicted[~y].sum())}/{int((~y).sum())}",
            "balanced_accuracy": round(_balanced(predicted, y.astype(int)), 4)}


# ---------------------------------------------------------------- the answerability model


def choose_composition(rows: list[Row], scores: list[np.ndarray], max_units: int) -> tuple[float, float]:
    """The complement floor and margin that make most answerable questions right."""
    answerable = [(row, own) for row, own in zip(rows, scores) if row.answerable]
    return max(((c, m) for c in COMPLEMENT_GRID for m in MARGIN_GRID),
               key=lambda cm: (sum(row.right(own, cm[0], cm[1], max_units) for row, own in answerable), -cm[0]))


# ---------------------------------------------------------------- the choice model


def _unit_matrix(rows: list[Row], features: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every quotable candidate as a row of ``features``, its label, and its sample weight (each
    domain's candidates weigh alike in total; the weights average 1)."""
    matrix = [np.column_stack([row.units[name] for name in features])[row.allowed] for row in rows]
    labels = [row.gold[row.allowed] for row in rows]
    domains = np.concatenate([np.full(int(row.allowed.sum()), row.domain, dtype=object) for row in rows])
    return np.concatenate(matrix), np.concatenate(labels).astype(int), _balanced_weights(domains)


def _balanced_weights(domains: np.ndarray) -> np.ndarray:
    """Sample weights under which each domain weighs alike in total, however many questions it has
    (SQuAD's articles must not outvote the reports pdqa is for); they average 1."""
    names, counts = np.unique(domains.astype(str), return_counts=True)
    per = {name: len(domains) / (count * len(names)) for name, count in zip(names, counts)}
    return np.array([per[str(d)] for d in domains])


def cross_fitted_units(rows: list[Row], features: list[str], c: float) -> list[np.ndarray]:
    """Each question's candidate scores from a choice model fitted without its article or document
    (on the answerable questions' quotable candidates)."""
    from sklearn.linear_model import LogisticRegression

    out = [np.zeros(len(row.texts)) for row in rows]
    for held in _grouped_folds(rows):
        train = [row for row, h in zip(rows, held) if not h and row.answerable]
        matrix, labels, weights = _unit_matrix(train, features)
        mean, scale = matrix.mean(0), matrix.std(0) + 1e-9
        model = LogisticRegression(C=c, max_iter=2000).fit((matrix - mean) / scale, labels, sample_weight=weights)
        for i in np.flatnonzero(held):
            if len(rows[i].texts):
                own = np.column_stack([rows[i].units[name] for name in features])
                out[i] = model.decision_function((own - mean) / scale)
    return out


def _domain_weights(rows: list[Row]) -> np.ndarray:
    """Per question, :func:`_balanced_weights` scaled to sum to 1 (each domain the same say)."""
    return _balanced_weights(np.array([row.domain for row in rows], dtype=object)) / len(rows)


def _helps(base: np.ndarray, trial: np.ndarray, weights: np.ndarray) -> bool:
    """The trial lowers the (domain-weighted) per-question loss by more than twice its standard
    error (paired): a signal that only fits noise in the folds is not taken."""
    gain = base - trial
    if len(gain) < 2:
        return False
    mean = float(weights @ gain)
    error = float(np.sqrt(np.sum(weights**2 * (gain - mean) ** 2)))
    return mean > 2 * error


def _top1_hits(rows: list[Row], scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per answerable question with a gold candidate: 1 when its best-scored quotable candidate is
    gold, and each question's weight (:func:`_domain_weights`)."""
    kept = [(row, own) for row, own in zip(rows, scores) if row.answerable and row.gold[row.allowed].any()]
    hits = np.array([float(row.gold[row.order(own)[0]]) for row, own in kept])
    return hits, _domain_weights([row for row, _ in kept])


def choose_choice(rows: list[Row], progress=print) -> tuple[list[str], float, dict]:
    """The reader's logit always; each first-stage signal kept only if it makes the best-scored
    candidate gold more often, clearly (:func:`_helps`, on per-question top-1, each domain weighed
    alike): the choice model exists to pick the answering unit."""
    features, c = ["reader_logit"], 1.0
    reader_only, weights = _top1_hits(rows, cross_fitted_units(rows, features, c))
    hits = reader_only
    for name in UNIT_FEATURES:
        if name in features:
            continue
        trial, _ = _top1_hits(rows, cross_fitted_units(rows, features + [name], c))
        if _helps(-hits, -trial, weights):
            features, hits = features + [name], trial
    figures = {"reader_only_top1": round(float(weights @ reader_only), 4), "chosen_top1": round(float(weights @ hits), 4)}
    progress(f"choice features {features}: cross-fitted top-1 {figures['chosen_top1']} (reader alone {figures['reader_only_top1']}), domains weighed alike")
    return features, c, figures


def fit_choice(rows: list[Row], features: list[str], c: float) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    matrix, labels, weights = _unit_matrix([row for row in rows if row.answerable], features)
    mean, scale = matrix.mean(0), matrix.std(0) + 1e-9
    model = LogisticRegression(C=c, max_iter=2000).fit((matrix - mean) / scale, labels, sample_weight=weights)
    return LinearModel(features=features, mean=mean.tolist(), scale=scale.tolist(), weights=model.coef_[0].tolist(),
                       bias=float(model.intercept_[0]))


def top1(rows: list[Row], scores: list[np.ndarray]) -> dict[str, float]:
    """Per domain: share of answerable questions with a gold candidate whose best-scored candidate is gold."""
    out = {}
    for domain in sorted({row.domain for row in rows}):
        chosen = [bool(row.gold[row.order(own)[0]]) for row, own in zip(rows, scores)
                  if row.domain == domain and row.answerable and row.gold[row.allowed].any()]
        out[domain] = round(float(np.mean(chosen)), 4) if chosen else None
    return out


# ---------------------------------------------------------------- the answerability model


def _matrix(rows: list[Row], features: list[str], scores: list[np.ndarray]) -> np.ndarray:
    values = [row.values(own) for row, own in zip(rows, scores)]
    return np.array([[v[name] for name in features] for v in values], dtype=np.float64)


def _grouped_folds(rows: list[Row]) -> list[np.ndarray]:
    groups = sorted({row.group for row in rows})
    random.Random(SEED).shuffle(groups)
    fold_of = {group: i % FOLDS for i, group in enumerate(groups)}
    return [np.array([fold_of[row.group] == f for row in rows]) for f in range(FOLDS)]


def cross_fitted(rows: list[Row], labels: np.ndarray, features: list[str], c: float, scores: list[np.ndarray]) -> np.ndarray:
    """Each question's logit from a model fitted without its article or document."""
    from sklearn.linear_model import LogisticRegression

    matrix = _matrix(rows, features, scores)
    domains = np.array([row.domain for row in rows], dtype=object)
    out = np.zeros(len(rows))
    for held in _grouped_folds(rows):
        train = ~held
        if labels[train].min() == labels[train].max():
            out[held] = 0.0
            continue
        mean, scale = matrix[train].mean(0), matrix[train].std(0) + 1e-9
        model = LogisticRegression(C=c, max_iter=2000).fit((matrix[train] - mean) / scale, labels[train],
                                                           sample_weight=_balanced_weights(domains[train]))
        out[held] = model.decision_function((matrix[held] - mean) / scale)
    return out


def _log_losses(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    p = 1 / (1 + np.exp(-logits))
    return -(labels * np.log(p + 1e-9) + (1 - labels) * np.log(1 - p + 1e-9))


def choose_features(rows: list[Row], labels: np.ndarray, scores: list[np.ndarray], progress=print) -> tuple[list[str], float]:
    """Reader features always; each question feature kept only if it lowers the cross-fitted log
    loss clearly (:func:`_helps`), each domain weighed alike."""
    features, c = list(READER_FEATURES), 1.0
    weights = _domain_weights(rows)
    c = min(C_GRID, key=lambda cc: float(weights @ _log_losses(cross_fitted(rows, labels, features, cc, scores), labels)))
    losses = _log_losses(cross_fitted(rows, labels, features, c, scores), labels)
    values = [row.values(own) for row, own in zip(rows, scores)]
    for name in ALL_FEATURES:
        if name in features or all(v[name] == values[0][name] for v in values):
            continue
        trial = _log_losses(cross_fitted(rows, labels, features + [name], c, scores), labels)
        if _helps(losses, trial, weights):
            features, losses = features + [name], trial
    progress(f"answerability features {features}, C={c}, cross-fitted log loss {float(weights @ losses):.4f}")
    return features, c


def fit_linear(rows: list[Row], labels: np.ndarray, features: list[str], c: float, scores: list[np.ndarray]) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    matrix = _matrix(rows, features, scores)
    mean, scale = matrix.mean(0), matrix.std(0) + 1e-9
    weights = _balanced_weights(np.array([row.domain for row in rows], dtype=object))
    model = LogisticRegression(C=c, max_iter=2000).fit((matrix - mean) / scale, labels, sample_weight=weights)
    return LinearModel(features=features, mean=mean.tolist(), scale=scale.tolist(), weights=model.coef_[0].tolist(),
                       bias=float(model.intercept_[0]))


def fit_platt(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> Platt:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, max_iter=2000).fit(logits[:, None], labels, sample_weight=weights)
    return Platt(a=float(model.coef_[0][0]), b=float(model.intercept_[0]))


def choose_threshold(rows: list[Row], probabilities: np.ndarray, right: np.ndarray) -> float:
    """The confidence threshold with the best mean overall accuracy of the domains."""
    domains = sorted({row.domain for row in rows})
    masks = {d: np.array([row.domain == d for row in rows]) for d in domains}
    answerable = np.array([row.answerable for row in rows])

    def overall(t: float) -> float:
        answered = probabilities >= t
        correct = np.where(answered, right, ~answerable)
        return float(np.mean([correct[masks[d]].mean() for d in domains]))

    return float(max(np.round(np.linspace(0.05, 0.95, 181), 3), key=overall))


def figures_of(rows: list[Row], probabilities: np.ndarray, right: np.ndarray, threshold: float) -> dict:
    out = {}
    for domain in sorted({row.domain for row in rows}):
        mask = np.array([row.domain == domain for row in rows])
        answerable = np.array([row.answerable for row in rows])[mask]
        answered = probabilities[mask] >= threshold
        correct = np.where(answered, right[mask], ~answerable)
        out[domain] = {
            "questions": int(mask.sum()), "unanswerable": int((~answerable).sum()),
            "overall_accuracy": round(float(correct.mean()), 4),
            "answer_correctness": round(float((answered & right[mask])[answerable].mean()), 4),
            "noans_accuracy": round(float((~answered)[~answerable].mean()), 4),
            "right_if_forced": round(float(right[mask][answerable].mean()), 4),
            "ece": round(expected_calibration_error(probabilities[mask].tolist(), right[mask].tolist()), 4),
        }
    return out


def fit_answer_model(rows: list[Row], injection: LinearModel, injection_threshold: float, max_units: int,
                     reader_sha: str, progress=print) -> AnswerModel:
    """Choice, composition, answerability, calibration and threshold from the validation rows.

    Every figure is cross-fitted: a question's candidate scores come from a choice model fitted
    without its article or document, and its confidence from an answerability model fitted
    without it, on those scores.
    """
    unit_features, unit_c, choice_figures = choose_choice(rows, progress)
    scores = cross_fitted_units(rows, unit_features, unit_c)
    reader_scores = [row.units["reader_logit"] for row in rows]
    first_stage = [-np.arange(len(row.texts), dtype=np.float64) for row in rows]
    choice_figures["top1"] = top1(rows, scores)
    choice_figures["top1_reader_alone"] = top1(rows, reader_scores)
    choice_figures["top1_first_stage_alone"] = top1(rows, first_stage)
    progress(f"top-1 among the quotable candidates: {json.dumps(choice_figures)}")
    complement, margin = choose_composition(rows, scores, max_units)
    progress(f"composition: a further unit joins at score >= max({complement}, best - {margin})")
    right = np.array([row.right(own, complement, margin, max_units) for row, own in zip(rows, scores)])
    labels = right.astype(int)
    features, c = choose_features(rows, labels, scores, progress)
    logits = cross_fitted(rows, labels, features, c, scores)
    calibration = fit_platt(logits, labels, _balanced_weights(np.array([row.domain for row in rows], dtype=object)))
    probabilities = calibration.probabilities(logits)
    threshold = choose_threshold(rows, probabilities, right)
    figures = figures_of(rows, probabilities, right, threshold)
    progress(f"cross-fitted validation at {threshold}: {json.dumps(figures)}")
    return AnswerModel(
        choice=fit_choice(rows, unit_features, unit_c),
        answerable=fit_linear(rows, labels, features, c, scores), calibration=calibration, min_confidence=threshold,
        complement_logit=complement, complement_margin=margin, injection=injection,
        injection_threshold=injection_threshold, reader_sha256=reader_sha,
        trained={"seed": SEED, "c": c, "features": features, "choice": choice_figures, "figures": figures,
                 "sweep": sweep_areas(rows, probabilities, right)},
    )


def sweep_areas(rows: list[Row], probabilities: np.ndarray, right: np.ndarray) -> dict[str, float | None]:
    """The abstention sweep's area per domain (cross-fitted confidence)."""
    from .evaluation.metrics import sweep, sweep_area

    out = {}
    for domain in sorted({row.domain for row in rows}):
        mask = np.array([row.domain == domain for row in rows])
        answerable = np.array([row.answerable for row in rows]) & mask
        unanswerable = ~np.array([row.answerable for row in rows]) & mask
        area = sweep_area(sweep(probabilities[answerable].tolist(), probabilities[unanswerable].tolist(), right[answerable].tolist()))
        out[domain] = round(area, 4) if area is not None else None
    return out


# ---------------------------------------------------------------- collecting rows


def rows_over(qa, questions, domain: str, answerer) -> list[Row]:
    """Each question's candidates as the query path reads them: the reader's logits, the first
    stage's signals, which candidates hold the gold evidence and which may be quoted."""
    from .answer_model import unit_values
    from .extractive import Candidate
    from .question import analyse
    from .reader_training import _gold_units

    rows = []
    for gold in questions:
        question = analyse(" ".join(gold.question.split()))
        vector = qa.embedder.embed([question.text])[0]
        hits = qa.retriever.retrieve(question.text, vector)
        ranked = answerer.candidates(question, vector, hits)
        units = [qa.index.unit(c.unit_id) for c in ranked]
        logits = answerer.read(question.text, units) if units else np.zeros(0)
        wanted = _gold_units(qa.index, [(e.doc_id, e.text) for e in gold.evidence]) if gold.answerable else set()
        companions = []
        for unit, logit in zip(units, logits):
            chunk = qa.index.store.chunk_of_unit(unit.unit_id)
            companions.append([c.unit.text for c in answerer._list_companions(Candidate(unit, chunk, float(logit)))])
        group = gold.document or (gold.evidence[0].doc_id.rsplit("-", 2)[0] if gold.evidence else gold.id)
        rows.append(Row(gold.id, domain, group or gold.id, gold.answerable, question, unit_values(ranked, logits),
                        np.array([u.unit_id in wanted for u in units], dtype=bool), answerer.eligible(question, units),
                        [u.text for u in units], companions, gold.facts))
    return rows


def card(model: AnswerModel, path: Path) -> str:
    figures = model.trained["figures"]
    lines = [
        "# pdqa answer stage: choice, answerability, composition and the injection check",
        "",
        "Small models over what the reader (`pdqa/reader_model/`) says, scored in numpy on the query path.",
        "Retrain with `pdqa train answerer` after the reader changes.",
        "",
        f"- model file: `model.json`, sha256 `{hashlib.sha256(path.read_bytes()).hexdigest()}`",
        f"- reader: sha256 `{model.reader_sha256}`",
        f"- seed {model.trained['seed']}; the same data, reader and code give the same file",
        f"- choice features: {', '.join(model.choice.features)}; {json.dumps(model.trained.get('choice', {}))}",
        f"- answerability features: {', '.join(model.answerable.features)} (C = {model.trained['c']})",
        f"- a further unit joins an answer at choice score ≥ max({model.complement_logit}, best − {model.complement_margin})",
        f"- abstention threshold (`min_confidence`): {model.min_confidence}",
        f"- injection check: threshold {model.injection_threshold:.3f}; {json.dumps(model.trained.get('injection', {}))}",
        "- injection check on the held-out hand-written test set (another writer): see docs/evaluation.md "
        "(measured once, by `python bench/injection_test.py`)",
        "",
        "## Validation (cross-fitted by article or document)",
        "",
        "| domain | questions | overall | correctness | NoAns | right if forced | ECE | sweep area |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for domain, f in figures.items():
        lines.append(f"| {domain} | {f['questions']} | {f['overall_accuracy']} | {f['answer_correctness']} | "
                     f"{f['noans_accuracy']} | {f['right_if_forced']} | {f['ece']} | {model.trained.get('sweep', {}).get(domain)} |")
    lines += ["", "Data: SQuAD 2.0 validation articles (CC BY-SA 4.0); the report set's validation documents "
              "(questions written for pdqa); injection sentences written for pdqa (eval/injection/).", ""]
    return "\n".join(lines)
