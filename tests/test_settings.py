"""Tests for pdqa.settings: PDQA_* variables are read, and typos and bad values are one-line errors."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import pytest

from pdqa import settings as settings_module
from pdqa.errors import InvalidSetting, PdqaError
from pdqa.settings import (
    GROUPS,
    PACKAGE_DIR,
    RETIRED,
    AnswerSettings,
    CorpusSettings,
    IndexSettings,
    LLMSettings,
    RetrievalSettings,
    SettingDeprecated,
    SettingIgnored,
    Settings,
    VerifySettings,
    bundled_corpus_dir,
    check_top_k,
    default_index_dir,
    index_root,
    settings_table,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No PDQA_* variable of the calling shell may change what these tests see, nor its cache folder."""
    for name in list(os.environ):
        if name.upper().startswith("PDQA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def user_cache(tmp_path: Path) -> Path:
    """Where the per-user cache of indexes is under the temporary HOME of ``clean_environment``."""
    return tmp_path / "home" / ".cache" / "pdqa" / "indexes"


def quietly(make):
    """Run ``make()`` and return (its result, the warnings it gave)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = make()
    return result, caught


def test_known_variables_are_read(monkeypatch):
    monkeypatch.setenv("PDQA_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("PDQA_LLM__STOP", '["\\n"]')
    monkeypatch.setenv("PDQA_LLM__TIMEOUT_S", "5.5")
    settings, caught = quietly(Settings)
    assert (settings.retrieval.top_k, settings.llm.stop, settings.llm.timeout_s) == (7, ["\n"], 5.5)
    assert caught == []


# ---------------------------------------------------------------- the groups and their variables


# Every setting's variable, a value that is not its default, and where it lands.
GROUPED = [
    ("PDQA_CORPUS__DIR", "{tmp}/docs", ("corpus", "dir"), "{tmp}/docs"),
    ("PDQA_CORPUS__MAX_INFLATED_MB", "50.5", ("corpus", "max_inflated_mb"), 50.5),
    ("PDQA_CORPUS__MAX_INFLATE_RATIO", "40", ("corpus", "max_inflate_ratio"), 40.0),
    ("PDQA_CORPUS__MAX_DOCUMENT_CHARS", "5000", ("corpus", "max_document_chars"), 5000),
    ("PDQA_INDEX__DIR", "{tmp}/mine", ("index", "dir"), "{tmp}/mine"),
    ("PDQA_INDEX__MODEL_DIR", "{tmp}/model", ("index", "model_dir"), "{tmp}/model"),
    ("PDQA_INDEX__CHUNK_MAX_CHARS", "600", ("index", "chunk_max_chars"), 600),
    ("PDQA_RETRIEVAL__TOP_K", "8", ("retrieval", "top_k"), 8),
    ("PDQA_RETRIEVAL__CANDIDATES", "30", ("retrieval", "candidates"), 30),
    ("PDQA_RETRIEVAL__RRF_K", "60", ("retrieval", "rrf_k"), 60),
    ("PDQA_RETRIEVAL__DENSE_WEIGHT", "0.5", ("retrieval", "dense_weight"), 0.5),
    ("PDQA_RETRIEVAL__BM25_WEIGHT", "2.5", ("retrieval", "bm25_weight"), 2.5),
    ("PDQA_ANSWER__MIN_CONFIDENCE", "0.25", ("answer", "min_confidence"), 0.25),
    ("PDQA_ANSWER__CALIBRATION", "none", ("answer", "calibration"), "none"),
    ("PDQA_ANSWER__MAX_UNITS", "2", ("answer", "max_units"), 2),
    ("PDQA_ANSWER__CANDIDATES", "8", ("answer", "candidates"), 8),
    ("PDQA_ANSWER__LEXICAL", "10", ("answer", "lexical"), 10),
    ("PDQA_VERIFY__SUPPORT_THRESHOLD", "0.35", ("verify", "support_threshold"), 0.35),
    ("PDQA_VERIFY__ATTRIBUTE_UNCITED", "false", ("verify", "attribute_uncited"), False),
    ("PDQA_VERIFY__RELEVANCE_THRESHOLD", "0.3", ("verify", "relevance_threshold"), 0.3),
    ("PDQA_LLM__BACKEND", "ollama", ("llm", "backend"), "ollama"),
    ("PDQA_LLM__MODEL", "llama3.2", ("llm", "model"), "llama3.2"),
    ("PDQA_LLM__BASE_URL", "http://h:1/v1", ("llm", "base_url"), "http://h:1/v1"),
    ("PDQA_LLM__API_KEY_ENV", "MY_KEY", ("llm", "api_key_env"), "MY_KEY"),
    ("PDQA_LLM__MODEL_PATH", "{tmp}/m.gguf", ("llm", "model_path"), "{tmp}/m.gguf"),
    ("PDQA_LLM__API", "completion", ("llm", "api"), "completion"),
    ("PDQA_LLM__TIMEOUT_S", "5.5", ("llm", "timeout_s"), 5.5),
    ("PDQA_LLM__MAX_RETRIES", "3", ("llm", "max_retries"), 3),
    ("PDQA_LLM__MAX_TOKENS", "64", ("llm", "max_tokens"), 64),
    ("PDQA_LLM__TEMPERATURE", "0.2", ("llm", "temperature"), 0.2),
    ("PDQA_LLM__CONTEXT_WINDOW", "2048", ("llm", "context_window"), 2048),
    ("PDQA_LLM__STOP", '["\\n\\n"]', ("llm", "stop"), ["\n\n"]),
    ("PDQA_LLM__REPLY_MAX_CHARS", "500", ("llm", "reply_max_chars"), 500),
    ("PDQA_LLM__REPLY_MAX_SENTENCES", "4", ("llm", "reply_max_sentences"), 4),
    ("PDQA_LLM__STRICT", "true", ("llm", "strict"), True),
]


def _filled(value, tmp_path):
    return Path(value.format(tmp=tmp_path)) if isinstance(value, str) and "{tmp}" in value else value


def test_the_groups_are_the_pipeline_stages():
    assert list(GROUPS) == ["corpus", "index", "retrieval", "answer", "verify", "llm"]
    settings = Settings()
    kinds = (CorpusSettings, IndexSettings, RetrievalSettings, AnswerSettings, VerifySettings, LLMSettings)
    for (group, model), kind in zip(GROUPS.items(), kinds):
        assert model is kind
        assert isinstance(getattr(settings, group), kind)


def test_every_setting_is_in_the_table_of_grouped_variables():
    """GROUPED names every field of every group: a new setting must be added here, with its variable."""
    fields = {(group, name) for group, model in GROUPS.items() for name in model.model_fields}
    assert {where for _, _, where, _ in GROUPED} == fields
    for variable, _, (group, name), _ in GROUPED:
        assert variable == settings_module.variable(group, name) == f"PDQA_{group.upper()}__{name.upper()}"


@pytest.mark.parametrize(("variable", "raw", "where", "expected"), GROUPED, ids=[row[0] for row in GROUPED])
def test_each_grouped_variable_sets_its_field(monkeypatch, tmp_path, variable, raw, where, expected):
    group, name = where
    assert getattr(getattr(Settings(), group), name) != _filled(expected, tmp_path), "pick a value that is not the default"
    monkeypatch.setenv(variable, raw.format(tmp=tmp_path))
    settings, caught = quietly(Settings.from_environment)
    assert getattr(getattr(settings, group), name) == _filled(expected, tmp_path)
    assert caught == [], "a current name is not deprecated"


def test_groups_are_given_in_code_as_dicts_or_models(tmp_path):
    settings = Settings(
        corpus={"dir": tmp_path / "docs"}, index={"dir": tmp_path / "idx"}, retrieval={"top_k": 8},
        llm=LLMSettings(backend="ollama", model="m"),
    )
    assert settings.corpus.dir == settings.corpus_dir == tmp_path / "docs"
    assert settings.index.dir == settings.index_dir == tmp_path / "idx"
    assert settings.retrieval.top_k == 8
    assert settings.retrieval.candidates == RetrievalSettings().candidates  # the rest of a group keeps its defaults
    assert (settings.llm.backend, settings.llm.model) == ("ollama", "m")


def test_keywords_win_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PDQA_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("PDQA_RETRIEVAL__CANDIDATES", "9")
    settings = Settings(retrieval={"top_k": 3})
    assert settings.retrieval.top_k == 3
    assert settings.retrieval.candidates == 9


def test_corpus_dir_and_index_dir_are_read_only_views_of_the_groups(tmp_path):
    settings = Settings(corpus={"dir": tmp_path / "docs"})
    with pytest.raises(AttributeError):
        settings.corpus_dir = tmp_path / "other"
    with pytest.raises(AttributeError):
        settings.index_dir = tmp_path / "other"
    assert settings.corpus_dir == tmp_path / "docs"


def test_a_group_variable_as_json_sets_the_group(monkeypatch):
    monkeypatch.setenv("PDQA_LLM", '{"backend": "ollama", "model": "llama3.2"}')
    settings = Settings.from_environment()
    assert (settings.llm.backend, settings.llm.model) == ("ollama", "llama3.2")


# ---------------------------------------------------------------- the previous release's names


# Every setting of the previous release whose name changed, and its variable today.
PREVIOUS_VARIABLES = [
    ("PDQA_CORPUS_DIR", "{tmp}/docs", "PDQA_CORPUS__DIR", ("corpus", "dir"), "{tmp}/docs"),
    ("PDQA_INDEX_DIR", "{tmp}/mine", "PDQA_INDEX__DIR", ("index", "dir"), "{tmp}/mine"),
    ("PDQA_MODEL_DIR", "{tmp}/model", "PDQA_INDEX__MODEL_DIR", ("index", "model_dir"), "{tmp}/model"),
    ("PDQA_CHUNK_MAX_CHARS", "600", "PDQA_INDEX__CHUNK_MAX_CHARS", ("index", "chunk_max_chars"), 600),
    ("PDQA_TOP_K", "7", "PDQA_RETRIEVAL__TOP_K", ("retrieval", "top_k"), 7),
    ("PDQA_CANDIDATES", "30", "PDQA_RETRIEVAL__CANDIDATES", ("retrieval", "candidates"), 30),
    ("PDQA_RRF_K", "60", "PDQA_RETRIEVAL__RRF_K", ("retrieval", "rrf_k"), 60),
    ("PDQA_DENSE_WEIGHT", "0.5", "PDQA_RETRIEVAL__DENSE_WEIGHT", ("retrieval", "dense_weight"), 0.5),
    ("PDQA_BM25_WEIGHT", "2.5", "PDQA_RETRIEVAL__BM25_WEIGHT", ("retrieval", "bm25_weight"), 2.5),
    ("PDQA_MIN_CONFIDENCE", "0.25", "PDQA_ANSWER__MIN_CONFIDENCE", ("answer", "min_confidence"), 0.25),
    ("PDQA_MAX_ANSWER_UNITS", "2", "PDQA_ANSWER__MAX_UNITS", ("answer", "max_units"), 2),
    ("PDQA_LLM__SUPPORT_THRESHOLD", "0.5", "PDQA_VERIFY__SUPPORT_THRESHOLD", ("verify", "support_threshold"), 0.5),
    ("PDQA_LLM__ATTRIBUTE_UNCITED", "false", "PDQA_VERIFY__ATTRIBUTE_UNCITED", ("verify", "attribute_uncited"), False),
    ("PDQA_LLM__RELEVANCE_THRESHOLD", "0.3", "PDQA_VERIFY__RELEVANCE_THRESHOLD", ("verify", "relevance_threshold"), 0.3),
]


@pytest.mark.parametrize(
    ("old", "raw", "new", "where", "expected"), PREVIOUS_VARIABLES, ids=[row[0] for row in PREVIOUS_VARIABLES]
)
@pytest.mark.parametrize("make", [Settings, Settings.from_environment], ids=["Settings", "from_environment"])
def test_previous_variable_still_works_with_a_warning_naming_the_new_one(monkeypatch, tmp_path, make, old, raw, new, where, expected):
    monkeypatch.setenv(old, raw.format(tmp=tmp_path))
    settings, caught = quietly(make)
    group, name = where
    assert getattr(getattr(settings, group), name) == _filled(expected, tmp_path)
    deprecations = [w for w in caught if issubclass(w.category, SettingDeprecated)]
    assert len(deprecations) == 1, [str(w.message) for w in caught]
    assert issubclass(SettingDeprecated, FutureWarning)
    message = str(deprecations[0].message)
    assert message.startswith(f"{old} is now {new}")
    assert not [w for w in caught if issubclass(w.category, SettingIgnored)], "a previous name is not unknown"


RETIRED_VARIABLES = ["PDQA_VERIFY__SUPPORT_COVERAGE", "PDQA_LLM__SUPPORT_COVERAGE",
                     "PDQA_VERIFY__RELEVANCE_RANK", "PDQA_LLM__RELEVANCE_RANK"]


@pytest.mark.parametrize("name", RETIRED_VARIABLES)
@pytest.mark.parametrize("make", [Settings, Settings.from_environment], ids=["Settings", "from_environment"])
def test_a_retired_variable_is_warned_about_once_and_changes_nothing(monkeypatch, make, name):
    monkeypatch.setenv(name, "0.6")
    settings, caught = quietly(make)
    warned = [str(w.message) for w in caught if issubclass(w.category, SettingDeprecated)]
    assert len(warned) == 1 and warned[0].startswith(f"{name} no longer has an effect: "), warned
    assert settings.verify == VerifySettings()


@pytest.mark.parametrize("field", ["support_coverage", "relevance_rank"])
def test_a_retired_setting_given_in_code_is_warned_about_and_dropped(field):
    settings, caught = quietly(lambda: Settings(verify={field: 0.6}))
    warned = [str(w.message) for w in caught if issubclass(w.category, SettingDeprecated)]
    assert warned == [f"the setting verify.{field} no longer has an effect: {RETIRED[('verify', field)]}"]
    assert settings.verify == VerifySettings()
    assert not hasattr(settings.verify, field)


def test_the_new_variable_wins_over_the_previous_one(monkeypatch):
    monkeypatch.setenv("PDQA_TOP_K", "7")
    monkeypatch.setenv("PDQA_RETRIEVAL__TOP_K", "9")
    settings, _ = quietly(Settings)
    assert settings.retrieval.top_k == 9


def test_a_bad_value_under_a_previous_name_is_refused_naming_the_new_one(monkeypatch):
    monkeypatch.setenv("PDQA_TOP_K", "0")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with pytest.raises(InvalidSetting) as caught:
            Settings()
    assert str(caught.value).startswith("invalid setting PDQA_RETRIEVAL__TOP_K: ")
    assert [str(w.message) for w in warned if w.category is SettingDeprecated] == [
        "PDQA_TOP_K is now PDQA_RETRIEVAL__TOP_K; the old name works until the next release"
    ]


# Every keyword of the previous release's Settings(...) whose field moved into a group.
PREVIOUS_KEYWORDS = [
    ("corpus_dir", "{tmp}/docs", ("corpus", "dir"), "{tmp}/docs"),
    ("index_dir", "{tmp}/mine", ("index", "dir"), "{tmp}/mine"),
    ("model_dir", "{tmp}/model", ("index", "model_dir"), "{tmp}/model"),
    ("chunk_max_chars", 600, ("index", "chunk_max_chars"), 600),
    ("top_k", 8, ("retrieval", "top_k"), 8),
    ("candidates", 30, ("retrieval", "candidates"), 30),
    ("rrf_k", 60, ("retrieval", "rrf_k"), 60),
    ("dense_weight", 0.5, ("retrieval", "dense_weight"), 0.5),
    ("bm25_weight", 2.5, ("retrieval", "bm25_weight"), 2.5),
    ("min_confidence", 0.25, ("answer", "min_confidence"), 0.25),
    ("max_answer_units", 2, ("answer", "max_units"), 2),
]


@pytest.mark.parametrize(("old", "value", "where", "expected"), PREVIOUS_KEYWORDS, ids=[row[0] for row in PREVIOUS_KEYWORDS])
def test_previous_keyword_still_works_with_a_warning_naming_the_new_one(tmp_path, old, value, where, expected):
    settings, caught = quietly(lambda: Settings(**{old: _filled(value, tmp_path)}))
    group, name = where
    assert getattr(getattr(settings, group), name) == _filled(expected, tmp_path)
    [deprecation] = [w for w in caught if issubclass(w.category, SettingDeprecated)]
    assert str(deprecation.message) == f"Settings({old}=...) is now Settings({group}={{'{name}': ...}})"


def test_previous_keyword_is_validated_like_the_new_one():
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with pytest.raises(InvalidSetting) as caught:
            Settings(top_k=0)
    assert [w.category for w in warned] == [SettingDeprecated]
    assert str(caught.value) == "invalid setting PDQA_RETRIEVAL__TOP_K: Input should be greater than or equal to 1, got 0"


def test_a_new_keyword_wins_over_a_previous_one():
    settings, _ = quietly(lambda: Settings(top_k=8, retrieval={"top_k": 3}))
    assert settings.retrieval.top_k == 3


# ---------------------------------------------------------------- unknown and bad variables


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("PDQA_TOPK", "PDQA_RETRIEVAL__TOP_K"),
        ("PDQA_MIN_CONFIDENSE", "PDQA_ANSWER__MIN_CONFIDENCE"),
        ("PDQA_LLM__BACKEN", "PDQA_LLM__BACKEND"),
        ("PDQA_RETRIEVAL__TOPK", "PDQA_RETRIEVAL__TOP_K"),
        ("PDQA_VERIFY__SUPPORT_TRESHOLD", "PDQA_VERIFY__SUPPORT_THRESHOLD"),
    ],
)
def test_unknown_variable_is_refused_by_from_environment_naming_the_closest_real_one(monkeypatch, name, closest):
    monkeypatch.setenv(name, "3")
    with pytest.raises(InvalidSetting) as caught:
        Settings.from_environment()
    assert str(caught.value) == f"unknown setting {name}"
    assert caught.value.hint == f"did you mean {closest}?"


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("PDQA_TOPK", "PDQA_RETRIEVAL__TOP_K"),
        ("PDQA_LLM__BACKEN", "PDQA_LLM__BACKEND"),  # inside a group: ignored there too, not refused
        ("PDQA_VERIFY__SUPPORT_TRESHOLD", "PDQA_VERIFY__SUPPORT_THRESHOLD"),
    ],
)
def test_unknown_variable_is_only_warned_about_by_settings(monkeypatch, name, closest):
    monkeypatch.setenv(name, "3")
    settings, caught = quietly(Settings)
    [ignored] = caught
    assert ignored.category is SettingIgnored and issubclass(SettingIgnored, UserWarning)
    assert str(ignored.message) == f"ignored unknown setting {name} (did you mean {closest}?)"
    assert settings.retrieval.top_k == RetrievalSettings().top_k  # nothing else changed
    assert settings.llm.backend == "none"


def test_unknown_variable_without_a_close_name_gets_the_general_hint(monkeypatch):
    monkeypatch.setenv("PDQA_QQQQQQQQQQQQ", "1")
    with pytest.raises(InvalidSetting) as caught:
        Settings.from_environment()
    assert str(caught.value) == "unknown setting PDQA_QQQQQQQQQQQQ"
    assert "pdqa settings" in caught.value.hint
    _, warned = quietly(Settings)
    assert [str(w.message) for w in warned] == ["ignored unknown setting PDQA_QQQQQQQQQQQQ"]


def test_a_variable_of_another_program_is_not_pdqas_business(monkeypatch):
    monkeypatch.setenv("PDQAX_TOP_K", "3")
    monkeypatch.setenv("OTHER_PDQA_TOP_K", "3")
    _, caught = quietly(Settings.from_environment)
    assert caught == []


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
@pytest.mark.parametrize("name", ["PDQA_ANSWER__MIN_CONFIDENCE", "PDQA_LLM__TIMEOUT_S", "PDQA_RETRIEVAL__DENSE_WEIGHT"])
def test_non_finite_numbers_are_rejected(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert str(caught.value).startswith(f"invalid setting {name}: ")
    assert "finite" in str(caught.value)


def test_non_finite_keyword_value_is_rejected_too():
    with pytest.raises(InvalidSetting, match="PDQA_ANSWER__MIN_CONFIDENCE"):
        Settings(answer={"min_confidence": math.nan})
    with pytest.raises(InvalidSetting, match="PDQA_RETRIEVAL__BM25_WEIGHT"):
        Settings(retrieval={"bm25_weight": math.inf})


def test_bad_json_names_the_variable_and_shows_an_example(monkeypatch):
    monkeypatch.setenv("PDQA_LLM__STOP", "notjson")
    with pytest.raises(InvalidSetting) as caught:
        Settings()
    assert str(caught.value).startswith("PDQA_LLM__STOP is not valid JSON")
    assert caught.value.hint == """for example PDQA_LLM__STOP='["\\n\\n"]'"""
    assert "\n" not in str(caught.value)


def test_invalid_setting_is_a_pdqa_error_and_a_value_error():
    with pytest.raises(InvalidSetting) as caught:
        Settings(retrieval={"top_k": 0})
    assert isinstance(caught.value, PdqaError) and isinstance(caught.value, ValueError)
    assert str(caught.value) == "invalid setting PDQA_RETRIEVAL__TOP_K: Input should be greater than or equal to 1, got 0"


def test_an_unknown_field_of_a_group_is_refused():
    with pytest.raises(InvalidSetting, match="invalid setting PDQA_RETRIEVAL__TOPK: Extra inputs are not permitted"):
        Settings(retrieval={"topk": 3})


@pytest.mark.parametrize("k", [0, 51, -1, True, 2.0, "3"])
def test_check_top_k_rejects_what_pdqa_top_k_rejects(k):
    with pytest.raises(InvalidSetting, match="k must be a whole number from 1 to 50"):
        check_top_k(k)


@pytest.mark.parametrize("k", [None, 1, 50])
def test_check_top_k_accepts_the_setting_range(k):
    check_top_k(k)


def test_check_top_k_has_the_range_of_the_setting():
    field = RetrievalSettings.model_fields["top_k"]
    bounds = {type(m).__name__: m for m in field.metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == settings_module.TOP_K_RANGE == (1, 50)


# ---------------------------------------------------------------- empty variables


def test_an_empty_index_dir_variable_means_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("PDQA_INDEX__DIR", "")
    settings, caught = quietly(lambda: Settings.from_environment(corpus={"dir": tmp_path / "docs"}))
    assert settings.index_dir == default_index_dir(tmp_path / "docs")
    assert settings.index_dir != Path.cwd()
    assert caught == []


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("PDQA_RETRIEVAL__TOP_K", ("retrieval", "top_k")),
        ("PDQA_ANSWER__MIN_CONFIDENCE", ("answer", "min_confidence")),
        ("PDQA_LLM__STOP", ("llm", "stop")),  # a JSON variable: empty is not bad JSON
        ("PDQA_CORPUS__DIR", ("corpus", "dir")),
    ],
)
def test_any_empty_variable_means_unset(monkeypatch, name, where):
    default = getattr(getattr(Settings(), where[0]), where[1])
    monkeypatch.setenv(name, "")
    settings = Settings.from_environment()
    assert getattr(getattr(settings, where[0]), where[1]) == default


# ---------------------------------------------------------------- changed copies


def test_changed_gives_a_validated_copy_and_leaves_the_original(tmp_path):
    settings = Settings(corpus={"dir": tmp_path / "docs"})
    changed = settings.changed(answer={"min_confidence": 0.0}, retrieval={"top_k": 9})
    assert (changed.answer.min_confidence, changed.retrieval.top_k) == (0.0, 9)
    assert changed.retrieval.candidates == settings.retrieval.candidates
    assert changed.corpus_dir == settings.corpus_dir and changed.index_dir == settings.index_dir
    assert (settings.answer.min_confidence, settings.retrieval.top_k) == (None, RetrievalSettings().top_k)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"answer": {"min_confidence": 1.5}}, "invalid setting PDQA_ANSWER__MIN_CONFIDENCE: Input should be less than or equal to 1, got 1.5"),
        ({"retrieval": {"top_k": 0}}, "invalid setting PDQA_RETRIEVAL__TOP_K: Input should be greater than or equal to 1, got 0"),
        ({"retrieval": {"top_k": 51}}, "invalid setting PDQA_RETRIEVAL__TOP_K: Input should be less than or equal to 50, got 51"),
        ({"verify": {"support_threshold": math.nan}}, "invalid setting PDQA_VERIFY__SUPPORT_THRESHOLD: Input should be a finite number"),
        ({"llm": {"timeout_s": 0}}, "invalid setting PDQA_LLM__TIMEOUT_S: Input should be greater than 0, got 0"),
        ({"retrieval": {"topk": 3}}, "invalid setting PDQA_RETRIEVAL__TOPK: Extra inputs are not permitted"),
    ],
)
def test_changed_refuses_an_out_of_range_value(groups, message):
    settings = Settings()
    with pytest.raises(InvalidSetting) as caught:
        settings.changed(**groups)
    assert str(caught.value).startswith(message)
    assert settings.model_dump() == Settings().model_dump(), "the original is untouched"


def test_changed_refuses_an_unknown_group():
    with pytest.raises(InvalidSetting) as caught:
        Settings().changed(retreival={"top_k": 3})
    assert str(caught.value) == "no settings group 'retreival'"
    assert caught.value.hint == "groups: corpus, index, retrieval, answer, verify, llm"


def test_changed_takes_a_whole_group():
    changed = Settings().changed(llm=LLMSettings(backend="ollama", model="m"))
    assert (changed.llm.backend, changed.llm.model) == ("ollama", "m")


def test_changed_does_not_read_the_environment_again(monkeypatch):
    settings = Settings()
    monkeypatch.setenv("PDQA_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("PDQA_TOPK", "9")  # unknown: would warn if the environment were checked again
    monkeypatch.setenv("PDQA_MIN_CONFIDENCE", "0.9")  # a previous name: would warn again
    monkeypatch.setenv("PDQA_LLM__BACKEN", "x")  # unknown, nested
    changed, caught = quietly(lambda: settings.changed(answer={"max_units": 2}))
    assert changed.retrieval.top_k == settings.retrieval.top_k != 9
    assert changed.answer.min_confidence is None
    assert changed.answer.max_units == 2
    assert caught == []


def test_changed_checks_that_the_folders_stay_apart(tmp_path):
    settings = Settings(corpus={"dir": tmp_path / "docs"}, index={"dir": tmp_path / "idx"})
    with pytest.raises(InvalidSetting, match="overlap"):
        settings.changed(index={"dir": tmp_path / "docs" / "idx"})


# ---------------------------------------------------------------- where the corpus and index are


def test_defaults_are_the_bundled_report_and_an_index_in_the_user_cache(tmp_path):
    settings = Settings()
    assert settings.corpus_dir == bundled_corpus_dir()
    # This checkout has no packaged copy: the bundled report is the top-level corpus/ of git.
    assert not (PACKAGE_DIR / "bundled_corpus").is_dir()
    assert bundled_corpus_dir() == PACKAGE_DIR.parent / "corpus"
    # No checkout special case: the checkout's own corpus is indexed under the user cache too.
    assert index_root() == user_cache(tmp_path)
    assert settings.index_dir == default_index_dir(settings.corpus_dir)
    assert settings.index_dir.parent == user_cache(tmp_path)
    assert settings.index_dir.name.startswith("corpus-")


def test_the_removed_checkout_names_are_gone():
    for name in ("PROJECT_ROOT", "IS_CHECKOUT", "BUNDLED_CORPUS_DIR", "default_corpus_dir"):
        assert not hasattr(settings_module, name), name


def test_each_corpus_folder_gets_its_own_index(tmp_path):
    first, second = tmp_path / "a" / "docs", tmp_path / "b" / "docs"
    first_index = Settings(corpus={"dir": first}).index_dir
    second_index = Settings(corpus={"dir": second}).index_dir
    assert first_index != second_index
    assert first_index.parent == second_index.parent == user_cache(tmp_path)
    assert first_index.name.startswith("docs-")


def test_index_key_is_the_resolved_path(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert Settings(corpus={"dir": Path("docs")}).index_dir == Settings(corpus={"dir": tmp_path / "docs"}).index_dir


def test_index_dir_variable_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQA_INDEX__DIR", str(tmp_path / "mine"))
    assert Settings(corpus={"dir": tmp_path / "docs"}).index_dir == tmp_path / "mine"


def test_for_corpus_moves_a_default_index_and_keeps_a_chosen_one(tmp_path):
    moved = Settings().for_corpus(tmp_path / "docs")
    assert moved.corpus_dir == tmp_path / "docs"
    assert moved.index_dir == default_index_dir(tmp_path / "docs")
    chosen = Settings(index={"dir": tmp_path / "mine"}).for_corpus(tmp_path / "docs")
    assert chosen.index_dir == tmp_path / "mine"


def test_changed_corpus_moves_a_default_index_and_keeps_a_chosen_one(tmp_path):
    moved = Settings().changed(corpus={"dir": tmp_path / "docs"})
    assert moved.index_dir == default_index_dir(tmp_path / "docs")
    both = Settings().changed(corpus={"dir": tmp_path / "docs"}, index={"dir": tmp_path / "mine"})
    assert both.index_dir == tmp_path / "mine"
    kept = Settings(index={"dir": tmp_path / "mine"}).changed(corpus={"dir": tmp_path / "docs"})
    assert kept.index_dir == tmp_path / "mine"


def test_installed_package_reads_its_bundled_copy_and_indexes_into_the_user_cache(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "pdqa"
    (package / "bundled_corpus").mkdir(parents=True)
    monkeypatch.setattr(settings_module, "PACKAGE_DIR", package)
    settings = Settings()
    assert bundled_corpus_dir() == package / "bundled_corpus"
    assert settings.corpus_dir == package / "bundled_corpus"
    assert settings.index_dir.parent == user_cache(tmp_path)


# ---------------------------------------------------------------- corpus and index folders apart


@pytest.mark.parametrize(
    ("corpus", "index"),
    [("docs", "docs"), ("docs", "docs/index"), ("docs/inner", "docs"), ("docs", "docs/a/b/c")],
    ids=["same", "index inside corpus", "corpus inside index", "index deep inside corpus"],
)
def test_overlapping_corpus_and_index_folders_are_refused(tmp_path, corpus, index):
    with pytest.raises(InvalidSetting) as caught:
        Settings(corpus={"dir": tmp_path / corpus}, index={"dir": tmp_path / index})
    assert str(caught.value) == f"the index folder {tmp_path / index} and the corpus folder {tmp_path / corpus} overlap"
    assert "PDQA_INDEX__DIR" in caught.value.hint


def test_overlap_is_found_through_a_link_and_a_relative_path(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidSetting, match="overlap"):
        Settings(corpus={"dir": Path("docs")}, index={"dir": tmp_path / "link" / "index"})


def test_overlap_set_through_the_environment_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PDQA_CORPUS__DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("PDQA_INDEX__DIR", str(tmp_path / "docs"))
    with pytest.raises(InvalidSetting, match="overlap"):
        Settings.from_environment()


def test_folders_that_only_share_a_name_prefix_are_apart(tmp_path):
    settings = Settings(corpus={"dir": tmp_path / "docs"}, index={"dir": tmp_path / "docs-index"})
    assert settings.index_dir == tmp_path / "docs-index"


# ---------------------------------------------------------------- the generated table


def test_settings_table_lists_every_field_with_its_description():
    table = settings_table()
    lines = table.splitlines()
    assert lines[:2] == ["| variable | default | meaning |", "|---|---|---|"]
    fields = [(group, name, field) for group, model in GROUPS.items() for name, field in model.model_fields.items()]
    assert len(lines) == 2 + len(fields)
    for line, (group, name, field) in zip(lines[2:], fields):
        assert field.description and field.description.strip(), f"{group}.{name} has no description"
        assert line.startswith(f"| `{settings_module.variable(group, name)}` | ")
        assert line.endswith(f" | {field.description} |")
    assert table.endswith("\n")


def test_settings_table_shows_the_defaults():
    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ")[1] for line in settings_table().splitlines()[2:]}
    assert rows["PDQA_CORPUS__DIR"] == "the bundled report"
    assert rows["PDQA_INDEX__DIR"] == "per corpus folder"
    assert rows["PDQA_RETRIEVAL__TOP_K"] == "`5`"
    assert rows["PDQA_RETRIEVAL__BM25_WEIGHT"] == "`1.5`"
    assert rows["PDQA_ANSWER__MIN_CONFIDENCE"] == "–"
    assert rows["PDQA_VERIFY__ATTRIBUTE_UNCITED"] == "`true`"
    assert rows["PDQA_LLM__STRICT"] == "`false`"
    assert rows["PDQA_LLM__STOP"] == "`[]`"
    assert rows["PDQA_LLM__BACKEND"] == "`none`"
    assert set(rows) == {row[0] for row in GROUPED}


def test_effective_settings_dump_as_json_with_their_groups(tmp_path):
    settings = Settings(corpus={"dir": tmp_path / "docs"}, retrieval={"top_k": 8})
    data = json.loads(settings.model_dump_json())
    assert list(data) == list(GROUPS)
    assert data["retrieval"]["top_k"] == 8
    assert data["index"]["dir"] == str(default_index_dir(tmp_path / "docs"))
    assert Settings.model_validate(data).model_dump() == settings.model_dump()
