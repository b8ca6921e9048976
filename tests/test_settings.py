"""Tests for pdqa.settings: PDQA_* variables are read, and typos and bad values are one-line errors."""

from __future__ import annotations

import math
import os

import pytest

from pdqa.errors import InvalidSetting, PdqaError
from pdqa.settings import Settings, check_top_k


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No PDQA_* variable of the calling shell may change what these tests see."""
    for name in list(os.environ):
        if name.upper().startswith("PDQA_"):
            monkeypatch.delenv(name)


def test_known_variables_are_read(monkeypatch):
    monkeypatch.setenv("PDQA_TOP_K", "7")
    monkeypatch.setenv("PDQA_LLM__STOP", '["\\n"]')
    monkeypatch.setenv("PDQA_LLM__TIMEOUT_S", "5.5")
    settings = Settings()
    assert (settings.top_k, settings.llm.stop, settings.llm.timeout_s) == (7, ["\n"], 5.5)


@pytest.mark.parametrize(
    ("name", "closest"),
    [("PDQA_TOPK", "PDQA_TOP_K"), ("PDQA_ANSWER_TRESHOLD", "PDQA_ANSWER_THRESHOLD"), ("PDQA_LLM__BACKEN", "PDQA_LLM__BACKEND")],
)
def test_unknown_variable_names_the_closest_real_one(monkeypatch, name, closest):
    monkeypatch.setenv(name, "3")
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert str(caught.value) == f"unknown setting {name}"
    assert caught.value.hint == f"did you mean {closest}?"


def test_unknown_variable_without_a_close_name_gets_the_general_hint(monkeypatch):
    monkeypatch.setenv("PDQA_QQQQQQQQQQQQ", "1")
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert "README" in caught.value.hint


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
@pytest.mark.parametrize("name", ["PDQA_ANSWER_THRESHOLD", "PDQA_LLM__TIMEOUT_S", "PDQA_DENSE_WEIGHT"])
def test_non_finite_numbers_are_rejected(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert str(caught.value).startswith(f"invalid setting {name}: ")
    assert "finite" in str(caught.value)


def test_non_finite_keyword_value_is_rejected_too():
    with pytest.raises(InvalidSetting, match="PDQA_ANSWER_THRESHOLD"):
        Settings(answer_threshold=math.nan)


def test_bad_json_names_the_variable_and_shows_an_example(monkeypatch):
    monkeypatch.setenv("PDQA_LLM__STOP", "notjson")
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert str(caught.value).startswith("PDQA_LLM__STOP is not valid JSON")
    assert caught.value.hint == """for example PDQA_LLM__STOP='["\\n\\n"]'"""
    assert "\n" not in str(caught.value)


def test_invalid_setting_is_a_pdqa_error_and_a_value_error():
    with pytest.raises(InvalidSetting) as caught:
        Settings(top_k=0)
    assert isinstance(caught.value, PdqaError) and isinstance(caught.value, ValueError)
    assert str(caught.value) == "invalid setting PDQA_TOP_K: Input should be greater than or equal to 1, got 0"


@pytest.mark.parametrize("k", [0, 51, -1, True, 2.0, "3"])
def test_check_top_k_rejects_what_pdqa_top_k_rejects(k):
    with pytest.raises(InvalidSetting, match="k must be a whole number from 1 to 50"):
        check_top_k(k)


@pytest.mark.parametrize("k", [None, 1, 50])
def test_check_top_k_accepts_the_setting_range(k):
    check_top_k(k)
