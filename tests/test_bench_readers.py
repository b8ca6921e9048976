"""The reader-fidelity benchmark's own scoring: what it calls leaked furniture must be furniture."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "readers.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_readers", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scored(bench, units, labels=()):
    units = [SimpleNamespace(text=text, page=page, kind=kind) for text, page, kind in units]
    corpus_file = SimpleNamespace(text="\n".join(u.text for u in units))
    return bench.Scored(corpus_file, [], units, list(labels))


def test_dot_leaders_lead_to_a_page_number(bench):
    assert bench.LEADER_RE.search("Introduction .......... 4")
    assert bench.LEADER_RE.search("Chapter 2: Profile . . . . . . 9 Length of stay 11")
    assert bench.LEADER_RE.search("Foreword …… iii")
    # An ellipsis in quoted text leads to no page.
    assert not bench.LEADER_RE.search("Line to read as follows ‘A Health and Care Professional or other professional……..’. Section 7")
    assert not bench.LEADER_RE.search("He said ..... and then left.")


def test_a_banner_that_repeats_a_labelled_heading_leaks_only_beyond_it(bench):
    banner = {"kind": "furniture", "type": "running-header", "page": 3, "text": "Core decision-making and governance"}
    heading = {"kind": "heading", "page": 3, "text": "Core decision-making and governance"}
    one = scored(bench, [("Core decision-making and governance", 3, "heading"), ("A body sentence.", 3, "sentence")], [heading])
    assert not one.leaks(banner)
    two = scored(bench, [("Core decision-making and governance", 3, "heading"),
                         ("Core decision-making and governance A body sentence.", 3, "sentence")], [heading])
    assert two.leaks(banner)
    # Without a heading label the same single unit is the banner, leaked.
    assert scored(bench, [("Core decision-making and governance", 3, "heading")]).leaks(banner)


def test_footnote_text_leaks_on_its_own_page_only(bench):
    note = {"kind": "furniture", "type": "footnote-text", "page": 14, "text": "1 July 2009 to 30 June 2010"}
    body = "The service gave its workload for the period from 1 July 2009 to 30 June 2010, set out in figure 4."
    assert not scored(bench, [(body, 15, "sentence"), (body, 9, "sentence")]).leaks(note)
    assert scored(bench, [(body, 14, "sentence")]).leaks(note)
    # A sentence begun on the page before and run on across the footnote's page.
    assert scored(bench, [(body, 13, "sentence")]).leaks(note)
    # The footnote stored apart, as a footnote unit, is where it belongs.
    assert not scored(bench, [("7 1 July 2009 to 30 June 2010 and more words here", 14, "footnote")]).leaks(note)
