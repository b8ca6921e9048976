"""Fitting the support check's model (``pdqa train support``; needs the ``train`` extra).

Run after the reader. The data are the hand-written replies in a strong model's style over the
report set (``eval/reports/llm_replies/``): right restatements of an answer sentence and subtly
wrong ones (a number, a name, a negation, an overclaim, a swapped role or entity, an invention),
each with the source text it restates.

1. The reader's support head reads every (sentence, source) pair once.
2. A logistic regression over the head's logit and the word measures of
   :func:`pdqa.support.support_values` is fitted on the training replies (``train-*.jsonl``).
3. Features are then dropped one at a time, as long as dropping one raises the model's AUC on the
   validation replies (another writer's, other questions): what stays earns its place there.

Fitting is deterministic (lbfgs on standardised features); the same files give the same model.
The thresholds the verifier applies to its probability are chosen by ``bench/verify_replies.py
--choose`` on the validation replies, through the whole verification pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .answer_model import LinearModel
from .corpus import file_sha256
from .reader import SUPPORT, load_reader, reader_sha256, support_pair
from .reader_training import _auc, read_replies
from .support import FEATURES, SupportModel, support_values
from .text import content_terms

C = 1.0


def feature_matrix(rows: list[dict], reader) -> tuple[np.ndarray, np.ndarray]:
    """Every feature (``FEATURES`` order) of each reply row against its source, and the labels."""
    logits = reader.logits([support_pair(row["sentence"], row["source"]) for row in rows], SUPPORT)
    values = [support_values(row["sentence"], row["source"], frozenset(content_terms(row["question"])), logit)
              for row, logit in zip(rows, logits)]
    matrix = np.array([[v[name] for name in FEATURES] for v in values], dtype=np.float64)
    return matrix, np.array([row["label"] == "correct" for row in rows])


def fit(matrix: np.ndarray, labels: np.ndarray, features: list[str]) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    columns = matrix[:, [FEATURES.index(name) for name in features]]
    mean, scale = columns.mean(0), columns.std(0) + 1e-9
    model = LogisticRegression(C=C, max_iter=2000).fit((columns - mean) / scale, labels)
    return LinearModel(features=list(features), mean=mean.tolist(), scale=scale.tolist(),
                       weights=model.coef_[0].tolist(), bias=float(model.intercept_[0]))


def validation_auc(model: LinearModel, matrix: np.ndarray, labels: np.ndarray) -> float:
    columns = matrix[:, [FEATURES.index(name) for name in model.features]]
    return _auc(model.logits(columns), labels)


def train_support(train_paths: list[Path], validation_path: Path, out: Path, progress=print) -> SupportModel:
    """Fit, choose the features on validation, and write ``support.json`` to ``out``."""
    reader = load_reader()
    train_rows, validation_rows = read_replies(train_paths), read_replies([validation_path])
    train_x, train_y = feature_matrix(train_rows, reader)
    valid_x, valid_y = feature_matrix(validation_rows, reader)
    features = list(FEATURES)
    model = fit(train_x, train_y, features)
    auc = validation_auc(model, valid_x, valid_y)
    steps = [{"features": list(features), "validation_auc": round(auc, 4)}]
    progress(f"all features: validation AUC {auc:.4f}")
    while len(features) > 1:
        trials = {name: fit(train_x, train_y, [f for f in features if f != name]) for name in features}
        aucs = {name: validation_auc(m, valid_x, valid_y) for name, m in trials.items()}
        name = max(aucs, key=lambda n: (aucs[n], -features.index(n)))
        if aucs[name] <= auc:
            break
        features.remove(name)
        model, auc = trials[name], aucs[name]
        steps.append({"dropped": name, "validation_auc": round(auc, 4)})
        progress(f"dropped {name}: validation AUC {auc:.4f}")
    head_only = fit(train_x, train_y, ["head_logit"])
    trained = {
        "train_rows": len(train_rows), "validation_rows": len(validation_rows), "C": C,
        "validation_auc": round(auc, 4),
        "validation_auc_head_only": round(validation_auc(head_only, valid_x, valid_y), 4),
        "selection": steps,
        "files": {path.name: file_sha256(path) for path in [*train_paths, validation_path]},
    }
    result = SupportModel(model=model, reader_sha256=reader_sha256(), trained=trained)
    out.mkdir(parents=True, exist_ok=True)
    (out / "support.json").write_text(result.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return result
