"""Tests for pdqa.settings: PDQA_* variables are read, and typos and bad values are one-line errors."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from pdqa.errors import InvalidSetting, PdqaError
from pdqa import settings as settings_module
from pdqa.settings import PROJECT_ROOT, Settings, check_top_k, default_index_dir


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
    [("PDQA_TOPK", "PDQA_TOP_K"), ("PDQA_MIN_CONFIDENSE", "PDQA_MIN_CONFIDENCE"), ("PDQA_LLM__BACKEN", "PDQA_LLM__BACKEND")],
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
@pytest.mark.parametrize("name", ["PDQA_MIN_CONFIDENCE", "PDQA_LLM__TIMEOUT_S", "PDQA_DENSE_WEIGHT"])
def test_non_finite_numbers_are_rejected(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert str(caught.value).startswith(f"invalid setting {name}: ")
    assert "finite" in str(caught.value)


def test_non_finite_keyword_value_is_rejected_too():
    with pytest.raises(InvalidSetting, match="PDQA_MIN_CONFIDENCE"):
        Settings(min_confidence=math.nan)


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


# ---------------------------------------------------------------- where the corpus and index are


def test_checkout_defaults_to_its_corpus_and_indexes_default():
    settings = Settings()
    assert settings.corpus_dir == PROJECT_ROOT / "corpus"
    assert settings.index_dir == PROJECT_ROOT / "indexes" / "default"


def test_each_corpus_folder_gets_its_own_index(tmp_path):
    first, second = tmp_path / "a" / "docs", tmp_path / "b" / "docs"
    first_index = Settings(corpus_dir=first).index_dir
    second_index = Settings(corpus_dir=second).index_dir
    assert first_index != second_index
    assert first_index.parent == second_index.parent == PROJECT_ROOT / "indexes"
    assert first_index.name.startswith("docs-")


def test_index_key_is_the_resolved_path(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert Settings(corpus_dir=Path("docs")).index_dir == Settings(corpus_dir=tmp_path / "docs").index_dir


def test_index_dir_variable_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQA_INDEX_DIR", str(tmp_path / "mine"))
    assert Settings(corpus_dir=tmp_path / "docs").index_dir == tmp_path / "mine"


def test_for_corpus_moves_a_default_index_and_keeps_a_chosen_one(tmp_path):
    moved = Settings().for_corpus(tmp_path / "docs")
    assert moved.corpus_dir == tmp_path / "docs"
    assert moved.index_dir == default_index_dir(tmp_path / "docs")
    chosen = Settings(index_dir=tmp_path / "mine").for_corpus(tmp_path / "docs")
    assert chosen.index_dir == tmp_path / "mine"


def test_installed_package_indexes_into_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_module, "IS_CHECKOUT", False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    settings = Settings()
    assert settings.corpus_dir == settings_module.BUNDLED_CORPUS_DIR
    assert settings.index_dir.parent == tmp_path / ".cache" / "pdqa" / "indexes"
