"""The stored answer model: linear scoring, Platt scaling, and a clear error for a bad file."""

from __future__ import annotations

import numpy as np
import pytest

from pdqa.answer_model import LinearModel, Platt, load_answer_model
from pdqa.errors import BackendUnavailable


def test_linear_model_standardises_then_weighs():
    model = LinearModel(features=["a", "b"], mean=[1.0, 0.0], scale=[2.0, 1.0], weights=[1.0, -1.0], bias=0.5)
    logits = model.logits(np.array([[3.0, 1.0], [1.0, 0.0]]))
    assert logits.tolist() == pytest.approx([0.5, 0.5])


def test_platt_scaling_is_a_monotone_probability():
    platt = Platt(a=2.0, b=-1.0)
    assert platt.probability(0.5) == pytest.approx(0.5)
    assert 0.0 < platt.probability(-3) < platt.probability(0) < platt.probability(3) < 1.0


def test_a_broken_model_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"unit": 1}', encoding="utf-8")
    with pytest.raises(BackendUnavailable, match="cannot read the answer model") as caught:
        load_answer_model(path)
    assert "pdqa train answerer" in caught.value.hint
