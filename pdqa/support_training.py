"""Fitting the support check's model (``pdqa train support``; needs the ``train`` extra).

Run after the reader. The data are the hand-written replies in a strong model's style over the
report set (``eval/reports/llm_replies/``): right restatements of an answer sentence and subtly
wrong ones (a number, a name, a negation, an overclaim, a swapped role or entity, an invention),
each with the source text it restates.

1. The reader's support head reads every (sentence, source) pair once.
2. A logistic regression over the head's logit and the word measures of
   :func:`pdqa.support.support_values` is fitted on the **validation** replies (another writer's,
   other questions). The training replies (``train-*.jsonl``) are the reader's own training
   pairs: on them its head is far surer than on text it never saw, and a model fitted there
   learnt to trust the head too much (with the reader of 2,400 steps, the fit on them dropped the
   head altogether: validation AUC 0.79 from two binary measures, and nothing kept).
3. Features are dropped one at a time as long as dropping one raises the AUC of the model's
   predictions cross-fitted by document (each document's replies scored by a model fitted on the
   others'): what stays earns its place on replies the fit did not see.

Fitting is deterministic (lbfgs on standardised features); the same files give the same model.
The thresholds the verifier applies to its probability are chosen by ``bench/verify_replies.py
--choose`` on the validation replies, through the whole verification pipeline, with each
document's sentences scored by a model fitted without that document (:func:`models_by_document`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .answer_model import LinearModel
from .corpus import file_sha256
from .reader import SUPPORT, load_reader, reader_sha256, support_pair
from .reader_training import _auc, read_replies
from .support import FEATURES, SupportModel, reverse_pair, support_values
from .text import content_terms

C = 1.0


def feature_matrix(rows: list[dict], reader) -> tuple[np.ndarray, np.ndarray]:
    """Every feature (``FEATURES`` order) of each reply row against its source, and the labels."""
    logits = reader.logits([support_pair(row["sentence"], row["source"]) for row in rows], SUPPORT)
    reverse = reader.logits([reverse_pair(row["sentence"], row["source"]) for row in rows], SUPPORT)
    values = [support_values(row["sentence"], row["source"], frozenset(content_terms(row["question"])), logit, back)
              for row, logit, back in zip(rows, logits, reverse)]
    matrix = np.array([[v[name] for name in FEATURES] for v in values], dtype=np.float64)
    return matrix, np.array([row["label"] == "correct" for row in rows])


def fit(matrix: np.ndarray, labels: np.ndarray, features: list[str]) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    columns = matrix[:, [FEATURES.index(name) for name in features]]
    mean, scale = columns.mean(0), columns.std(0) + 1e-9
    model = LogisticRegression(C=C, max_iter=2000).fit((columns - mean) / scale, labels)
    return LinearModel(features=list(features), mean=mean.tolist(), scale=scale.tolist(),
                       weights=model.coef_[0].tolist(), bias=float(model.intercept_[0]))


def held_out_fits(matrix: np.ndarray, labels: np.ndarray, documents: list[str], features: list[str]):
    """For each document: its rows (a mask) and the model fitted on the other documents' rows."""
    groups = np.array(documents)
    for doc in sorted(set(documents)):
        held = groups == doc
        yield doc, held, fit(matrix[~held], labels[~held], features)


def cross_fitted_auc(matrix: np.ndarray, labels: np.ndarray, documents: list[str], features: list[str]) -> float:
    """AUC of the logits each document's rows get from a model fitted on the other documents' rows."""
    logits = np.zeros(len(labels))
    columns = matrix[:, [FEATURES.index(name) for name in features]]
    for _, held, model in held_out_fits(matrix, labels, documents, features):
        logits[held] = model.logits(columns[held])
    return _auc(logits, labels)


def models_by_document(rows: list[dict], features: list[str], reader=None) -> dict[str, SupportModel]:
    """For each document of ``rows``, the support model fitted on the other documents' rows (for
    honest figures on the replies the shipped model was fitted on)."""
    matrix, labels = feature_matrix(rows, reader or load_reader())
    sha = reader_sha256()
    return {doc: SupportModel(model=model, reader_sha256=sha)
            for doc, _, model in held_out_fits(matrix, labels, [row["doc"] for row in rows], features)}


def train_support(validation_path: Path, out: Path, progress=print) -> SupportModel:
    """Choose the features (cross-fitted by document), fit on the validation replies, write ``support.json``."""
    reader = load_reader()
    rows = read_replies([validation_path])
    matrix, labels = feature_matrix(rows, reader)
    documents = [row["doc"] for row in rows]
    features = list(FEATURES)
    auc = cross_fitted_auc(matrix, labels, documents, features)
    steps = [{"features": list(features), "cross_fitted_auc": round(auc, 4)}]
    progress(f"all features: cross-fitted AUC {auc:.4f}")
    while len(features) > 1:
        aucs = {name: cross_fitted_auc(matrix, labels, documents, [f for f in features if f != name]) for name in features}
        name = max(aucs, key=lambda n: (aucs[n], -features.index(n)))
        if aucs[name] <= auc:
            break
        features.remove(name)
        auc = aucs[name]
        steps.append({"dropped": name, "cross_fitted_auc": round(auc, 4)})
        progress(f"dropped {name}: cross-fitted AUC {auc:.4f}")
    model = fit(matrix, labels, features)
    trained = {
        "fitted_on": "validation replies", "rows": len(rows), "documents": len(set(documents)), "C": C,
        "cross_fitted_auc": round(auc, 4),
        "cross_fitted_auc_head_only": round(cross_fitted_auc(matrix, labels, documents, ["head_logit"]), 4),
        "selection": steps,
        "files": {validation_path.name: file_sha256(validation_path)},
    }
    result = SupportModel(model=model, reader_sha256=reader_sha256(), trained=trained)
    out.mkdir(parents=True, exist_ok=True)
    (out / "support.json").write_text(result.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return result
