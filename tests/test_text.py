"""The shared text utilities: one tokeniser, one marker pattern, one number pattern."""

from __future__ import annotations

from pdqa.text import MARKER_RE, content_terms, negated, numbers, strip_markers, words


def test_words_fold_case_possessives_hyphens_and_keep_accents():
    assert words("The report’s co-commissioning in Kraków") == ["the", "report", "co", "commissioning", "in", "kraków"]
    assert words("Beyoncé's album") == ["beyoncé", "album"]


def test_numbers_drop_thousands_separators():
    assert numbers("£30,000 for 12 months, 3.5% more") == ["30000", "12", "3.5"]


def test_one_marker_pattern_reads_every_marker_style():
    text = "It began in 2004 [1]. Two authors [2, 3] wrote it [4;5]."
    assert [m.group(1) for m in MARKER_RE.finditer(text)] == ["1", "2, 3", "4;5"]
    assert strip_markers(text) == "It began in 2004 . Two authors wrote it ."


def test_negation_words_and_contractions():
    assert negated("The contract is not for 12 months")
    assert negated("No model emerged as superior")
    assert negated("It wasn’t renewed")
    assert not negated("Nothing here is notable")


def test_content_terms_stem_and_map_irregular_forms():
    assert content_terms("Who wrote it? The authors.") == ["write", "write"]
    assert content_terms("the commissioning of pilots") == ["commiss", "pilot"]
