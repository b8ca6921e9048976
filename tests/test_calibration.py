"""A corpus's own calibration (pdqa calibrate): fitting, finding the file, answering with it."""

from __future__ import annotations

import json
import random
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from pdqa.answer_model import Platt, load_answer_model, model_sha256
from pdqa.calibration import CALIBRATION_FILE, CalibrationWarning, CorpusCalibration, Fit, load_calibration
from pdqa.cli import cli
from pdqa.errors import InvalidSetting
from pdqa.evaluation.calibrate import fit_calibration
from pdqa.evaluation.metrics import expected_calibration_error
from pdqa.extractive import ExtractiveAnswerer


def _underconfident(n: int = 300, seed: int = 0):
    """Questions whose answers are right far more often than the confidence says (p_true = sqrt(p))."""
    rng = random.Random(seed)
    confidences, right, answerable = [], [], []
    for _ in range(n):
        p = rng.random()
        is_answerable = rng.random() < 0.7
        confidences.append(p)
        answerable.append(is_answerable)
        right.append(is_answerable and rng.random() < p ** 0.5)
    return confidences, right, answerable


def test_fit_rescales_an_underconfident_corpus_and_lowers_its_ece():
    confidences, right, answerable = _underconfident()
    fitted = fit_calibration(confidences, right, answerable, "sha", 0.5, "gold.jsonl", "dev")
    assert fitted.after.ece < fitted.before.ece / 2
    assert fitted.after.ece == pytest.approx(
        expected_calibration_error([fitted.confidence(p) for p in confidences], right), abs=1e-9)
    # Rescaling raises a middling confidence when answers are right more often than it says.
    assert fitted.confidence(0.3) > 0.3
    assert 0.0 <= fitted.min_confidence <= 1.0
    assert fitted.questions == 300 and fitted.answerable == sum(answerable)
    assert fitted.after.overall_accuracy >= fitted.before.overall_accuracy


def test_the_fitted_threshold_answers_the_fitted_questions_best():
    confidences, right, answerable = _underconfident(seed=1)
    fitted = fit_calibration(confidences, right, answerable, "sha", 0.5, "g", "dev")
    scores = np.array([fitted.confidence(p) for p in confidences])
    right, answerable = np.array(right), np.array(answerable)

    def overall(t):
        answered = scores >= t
        return np.where(answerable, answered & right, ~answered).mean()

    assert overall(fitted.min_confidence) == pytest.approx(fitted.after.overall_accuracy)
    assert all(overall(t) <= fitted.after.overall_accuracy + 1e-12 for t in np.linspace(0, 1, 101))


@pytest.mark.parametrize("n, right_share", [(20, 0.5), (100, 0.0), (100, 1.0)])
def test_too_little_to_fit_on_is_a_one_line_error(n, right_share):
    right = [i < n * right_share for i in range(n)]
    with pytest.raises(InvalidSetting) as caught:
        fit_calibration([0.5] * n, right, [True] * n, "sha", 0.5, "g", "dev")
    assert "\n" not in str(caught.value) and "too few" in str(caught.value)


def _calibration(sha: str, threshold: float = 0.25) -> CorpusCalibration:
    fit = Fit(overall_accuracy=0.5, ece=0.1, threshold=0.4)
    return CorpusCalibration(answer_model_sha256=sha, scaling=Platt(a=1.0, b=1.0), min_confidence=threshold,
                             gold="g", split="dev", questions=40, answerable=30, before=fit, after=fit)


def test_auto_finds_the_corpus_folders_file_and_none_ignores_it(tmp_path):
    assert load_calibration("auto", tmp_path, model_sha256()) is None
    (tmp_path / CALIBRATION_FILE).write_text(_calibration(model_sha256()).model_dump_json(), encoding="utf-8")
    assert load_calibration("auto", tmp_path, model_sha256()).min_confidence == 0.25
    assert load_calibration("none", tmp_path, model_sha256()) is None
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(_calibration(model_sha256(), 0.75).model_dump_json(), encoding="utf-8")
    assert load_calibration(str(elsewhere), tmp_path / "nothing-here", model_sha256()).min_confidence == 0.75


def test_a_calibration_of_another_answer_model_is_ignored_with_a_warning(tmp_path):
    (tmp_path / CALIBRATION_FILE).write_text(_calibration("0" * 64).model_dump_json(), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_calibration("auto", tmp_path, model_sha256()) is None
    assert [w.category for w in caught] == [CalibrationWarning]
    assert "pdqa calibrate" in str(caught[0].message)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"version": 1}), ""])
def test_a_broken_calibration_file_is_a_one_line_error_naming_it(tmp_path, content):
    (tmp_path / CALIBRATION_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(InvalidSetting) as caught:
        load_calibration("auto", tmp_path, model_sha256())
    assert str(tmp_path / CALIBRATION_FILE) in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_named_calibration_file_is_an_error(tmp_path):
    with pytest.raises(InvalidSetting, match="not a file"):
        load_calibration(str(tmp_path / "nope.json"), tmp_path, model_sha256())


def test_the_threshold_is_the_setting_else_the_calibrations_else_the_models(built_settings):
    model = load_answer_model()
    answer = built_settings.answer
    plain = ExtractiveAnswerer(None, answer)
    assert plain.min_confidence == model.min_confidence
    calibrated = ExtractiveAnswerer(None, answer, calibration=_calibration(model_sha256(), 0.25))
    assert calibrated.min_confidence == 0.25
    chosen = ExtractiveAnswerer(None, answer.model_copy(update={"min_confidence": 0.6}),
                                calibration=_calibration(model_sha256(), 0.25))
    assert chosen.min_confidence == 0.6


@pytest.mark.slow
def test_calibrate_writes_a_file_the_answers_then_use(scratch_settings, tmp_path):
    from pdqa.qa import QA

    corpus = scratch_settings.corpus_dir
    (corpus / CALIBRATION_FILE).unlink(missing_ok=True)
    env = {"PDQA_CORPUS__DIR": str(corpus), "PDQA_INDEX__DIR": str(scratch_settings.index_dir)}
    result = CliRunner().invoke(cli, ["calibrate", "--split", "dev"], env=env)
    assert result.exit_code == 0, result.output
    assert "Fitted on 90 questions" in result.output
    fitted = CorpusCalibration.model_validate_json((corpus / CALIBRATION_FILE).read_text(encoding="utf-8"))
    question = "How long is the initial contract for the Joint Head post?"
    raw = QA(scratch_settings.changed(answer={"calibration": "none"})).ask(question)
    rescaled = QA(scratch_settings).ask(question)
    assert rescaled.confidence == pytest.approx(fitted.confidence(raw.confidence), abs=1e-9)
    assert rescaled.abstained == (rescaled.confidence < fitted.min_confidence)
