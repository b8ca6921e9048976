"""`pdqa eval` end to end: reports, plots, the regression gate and the SQuAD path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pdqa.cli import cli
from pdqa.evaluation.runner import uncited_sentences
from pdqa.index import index_status

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _invoke(args, settings):
    env = {"PDQA_CORPUS__DIR": str(settings.corpus_dir), "PDQA_INDEX__DIR": str(settings.index_dir)}
    return CliRunner().invoke(cli, args, env=env)


@pytest.fixture(scope="module")
def dev_run(built_settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    result = _invoke(["eval", "--split", "dev", "--out", str(out), "--save-baseline", str(out / "b.json")], built_settings)
    return result, out


def test_eval_writes_json_markdown_and_two_plots(dev_run):
    result, out = dev_run
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["split"] == "dev"
    assert all(q["split"] == "dev" for q in report["run"]["questions"])
    assert len(report["run"]["questions"]) >= 40
    assert report["summary"]["quote_fidelity"]["value"] == 1.0
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| answer_correctness |" in markdown and "## Per category" in markdown
    for name in ("category_accuracy.png", "abstention_sweep.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert "answer_correctness" in result.stdout


def test_gate_passes_against_own_baseline_and_fails_on_a_better_one(dev_run, built_settings, tmp_path):
    _, out = dev_run
    baseline = json.loads((out / "b.json").read_text(encoding="utf-8"))
    same = _invoke(["eval", "--split", "dev", "--out", str(tmp_path / "a"), "--compare", str(out / "b.json")], built_settings)
    assert same.exit_code == 0, same.output
    metric = baseline["metrics"]["answer_correctness"]
    # A baseline two questions' worth better than today must fail the gate.
    metric["successes"] += 2
    metric["value"] = metric["successes"] / metric["n"]
    (tmp_path / "better.json").write_text(json.dumps(baseline), encoding="utf-8")
    worse = _invoke(["eval", "--split", "dev", "--out", str(tmp_path / "b"), "--compare", str(tmp_path / "better.json")], built_settings)
    assert worse.exit_code == 1
    assert "REGRESSION: answer_correctness" in worse.stderr


def test_missing_baseline_is_one_line_error(built_settings, tmp_path):
    result = _invoke(["eval", "--split", "dev", "--compare", str(tmp_path / "nope.json")], built_settings)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: cannot read baseline")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_squad_fixture_evaluates_in_a_temporary_index(built_settings, tmp_path):
    result = _invoke(
        ["eval", "--squad", str(REPO / "eval" / "fixtures" / "squad_mini.json"), "--out", str(tmp_path), "--json"],
        built_settings,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    squad = json.loads((REPO / "eval" / "fixtures" / "squad_mini.json").read_text(encoding="utf-8"))
    n_questions = sum(len(p["qas"]) for a in squad["data"] for p in a["paragraphs"])
    assert len(report["run"]["questions"]) == n_questions
    assert summary["noans_accuracy"]["n"] == sum(
        qa["is_impossible"] for a in squad["data"] for p in a["paragraphs"] for qa in p["qas"]
    )
    assert summary["quote_fidelity"]["value"] == 1.0
    # The temporary index never replaces the user's index.
    assert (built_settings.index_dir / "CURRENT").is_file()
    assert index_status(built_settings).usable
    assert all(c["doc_id"] != "innovation-in-action" for q in report["run"]["questions"] for c in q["citations"])


def test_uncited_sentences_counts_sentences_without_a_marker():
    assert uncited_sentences("One fact. [1] Two facts here. [2]") == 0
    assert uncited_sentences("One fact. Another one. [1]") == 1
    assert uncited_sentences("A claim with no marker.") == 1


def test_squad_questions_carry_the_split_they_were_read_for(tmp_path):
    """A report of the SQuAD validation articles names its split "validation", not "test"."""
    from pdqa.evaluation.gold import squad_to_corpus

    fixture = REPO / "eval" / "fixtures" / "squad_mini.json"
    assert {q.split for q in squad_to_corpus(fixture, tmp_path / "a", split="validation")} == {"validation"}
    assert {q.split for q in squad_to_corpus(fixture, tmp_path / "b")} == {"test"}
