"""A corpus's own calibration of the answer confidence, fitted on questions labelled for it.

The answer model's confidence is calibrated on the validation data it was fitted on (SQuAD
articles and the report set's documents). A corpus unlike those can be under- or over-confident
at that scale: one abstention threshold does not serve every corpus. ``pdqa calibrate`` runs the
labelled questions of one corpus (its dev or validation split) and fits, on what the model says
about them, a Platt scaling of the model's confidence and the abstention threshold that answers
those questions best. It writes them to ``pdqa-calibration.json`` in the corpus folder, where
pdqa finds it (``PDQA_ANSWER__CALIBRATION``: ``auto``, ``none`` or a file).

A calibration belongs to the answer model it was fitted on: when that model changes, the file
is ignored with a warning that says to fit it again.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .answer_model import Platt
from .errors import InvalidSetting

CALIBRATION_FILE = "pdqa-calibration.json"
EPSILON = 1e-6


class CalibrationWarning(UserWarning):
    """A corpus calibration file that cannot be used (fitted for another answer model)."""


class Fit(BaseModel):
    """What a calibration did on the questions it was fitted on (in-sample figures)."""

    model_config = ConfigDict(extra="forbid")
    overall_accuracy: float
    ece: float
    threshold: float


class CorpusCalibration(BaseModel):
    """A Platt scaling of the answer model's confidence and an abstention threshold, for one corpus."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    answer_model_sha256: str = Field(description="The answer model whose confidence this rescales.")
    scaling: Platt = Field(description="p = sigmoid(a * logit(confidence) + b).")
    min_confidence: float = Field(ge=0, le=1, description="Abstention threshold on the rescaled confidence.")
    gold: str
    split: str
    questions: int
    answerable: int
    before: Fit
    after: Fit

    def confidence(self, raw: float) -> float:
        """The corpus's confidence for the answer model's ``raw`` confidence."""
        return float(self.scaling.probabilities(logit(np.array([raw])))[0])


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def calibration_path(mode: str, corpus_dir: Path) -> Path | None:
    """The calibration file a setting names: ``auto`` the corpus folder's (when it has one), ``none`` none."""
    if mode == "none":
        return None
    if mode == "auto":
        path = Path(corpus_dir) / CALIBRATION_FILE
        return path if path.is_file() else None
    path = Path(mode).expanduser()
    if not path.is_file():
        raise InvalidSetting(f"PDQA_ANSWER__CALIBRATION names {path}, which is not a file",
                             "Use auto, none or the path of a file pdqa calibrate wrote.")
    return path


def load_calibration(mode: str, corpus_dir: Path, model_sha256: str) -> CorpusCalibration | None:
    """The corpus calibration to answer with, or None (the answer model's own confidence).

    Raises:
        InvalidSetting: The file cannot be read or is not a calibration (named in one line).
    """
    path = calibration_path(mode, corpus_dir)
    if path is None:
        return None
    try:
        calibration = CorpusCalibration.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise InvalidSetting(f"cannot read the calibration {path}: {reason}",
                             "Fit it again with pdqa calibrate, or set PDQA_ANSWER__CALIBRATION=none.") from exc
    if model_sha256 != "custom" and calibration.answer_model_sha256 != model_sha256:
        warnings.warn(f"{path} was fitted for another answer model and is ignored; fit it again with pdqa calibrate",
                      CalibrationWarning, stacklevel=3)
        return None
    if not all(math.isfinite(v) for v in (calibration.scaling.a, calibration.scaling.b)):
        raise InvalidSetting(f"cannot read the calibration {path}: its scaling is not finite",
                             "Fit it again with pdqa calibrate.")
    return calibration


def write_calibration(calibration: CorpusCalibration, path: Path) -> None:
    """Write the file whole or not at all (a half-written calibration is never read)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(calibration.model_dump_json(indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
