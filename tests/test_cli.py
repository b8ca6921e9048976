"""Tests for the ``pdqa`` command (pdqa.cli) through click's CliRunner, over the session index."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pdqa import __version__
from pdqa.cli import cli
from pdqa.models import Answer, Citation, Hit
from pdqa.settings import settings_table

AUTHORS_QUESTION = "Who wrote the Innovation in Action report?"
# A question the extractive answerer answers (the authors question it abstains on: docs/evaluation.md).
CONTRACT_QUESTION = "How long is the initial contract for the Joint Head post?"
UNANSWERED_QUESTION = "How many pilot sites were there?"
CORPUS_NAME = "innovation-in-action.txt"
CITATION_KEYS = {"n", "doc_id", "title", "section", "chunk_id", "start", "end", "quote", "page", "page_label", "path"}
# The bundled report's metadata says it calls itself "the report".
REPORT_NOT_FOUND = "The report does not say."


# ---------------------------------------------------------------- helpers


def invoke(args, settings=None, **env):
    """Run ``pdqa ARGS`` with the corpus and index of ``settings`` and extra PDQA_* variables.

    PDQA_* variables of the calling environment are cleared so they cannot change the outcome.
    """
    variables = {name: None for name in os.environ if name.startswith("PDQA_")}
    if settings is not None:
        variables["PDQA_CORPUS__DIR"] = str(settings.corpus_dir)
        variables["PDQA_INDEX__DIR"] = str(settings.index_dir)
    variables.update(env)
    return CliRunner().invoke(cli, args, env=variables, prog_name="pdqa")


def assert_ok(result):
    """Exit 0, nothing raised past the CLI, no traceback."""
    assert result.exception is None or (
        isinstance(result.exception, SystemExit) and result.exit_code == 0
    ), result.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def assert_one_line_error(result, *fragments):
    """Non-zero exit, one 'Error: ...' line on stderr holding every fragment, no traceback."""
    # An exception other than SystemExit means it escaped the CLI: a user would see a traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert lines[0][len("Error: "):].strip(), "the error message is empty"
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def corpus_texts(settings) -> dict[str, str]:
    """doc_id -> text of the corpus file holding it, read from disk exactly as stored."""
    from pdqa.corpus import load_corpus

    corpus = load_corpus(settings.corpus_dir)
    return {
        document.doc_id: (settings.corpus_dir / document.path).read_bytes().decode("utf-8")
        for document in corpus.documents
    }


def generation(settings) -> Path:
    """The live generation of the index of ``settings``: the folder its CURRENT file names."""
    return settings.index_dir / (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def manifest_of(settings) -> dict:
    return json.loads((generation(settings) / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def scratch_settings(built_settings, tmp_path):
    """A private copy of the corpus and the built index, free to modify in a test, fresh as copied.

    Overrides conftest's fixture of the same name: an index records the resolved corpus folder it
    was built from (a copy of it is "built for another corpus folder"), so the copied index is
    pointed at the copied corpus, as if it had been built there.
    """
    shutil.copytree(built_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built_settings.index_dir, tmp_path / "indexes" / "default")
    settings = built_settings.changed(corpus={"dir": tmp_path / "corpus"}, index={"dir": tmp_path / "indexes" / "default"})
    path = generation(settings) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["corpus_dir"] = str(settings.corpus_dir.resolve())
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return settings


def edit_corpus(settings, extra: str) -> Path:
    path = settings.corpus_dir / CORPUS_NAME
    path.write_bytes(path.read_bytes() + extra.encode("utf-8"))
    return path


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()):
    """Every (path, command) below ``group``, groups included, walked recursively."""
    for name, command in sorted(group.commands.items()):
        path = prefix + (name,)
        yield path, command
        if isinstance(command, click.Group):
            yield from command_paths(command, path)


ALL_PATHS = [((), cli)] + list(command_paths(cli))


def path_id(path: tuple[str, ...]) -> str:
    return " ".join(("pdqa",) + path)


# ---------------------------------------------------------------- help and version


def test_command_tree_holds_the_documented_commands():
    paths = {path for path, _ in ALL_PATHS}
    expected = {
        (),
        ("ask",),
        ("retrieve",),
        ("index",),
        ("index", "build"),
        ("index", "status"),
        ("corpus",),
        ("corpus", "list"),
        ("corpus", "add"),
        ("corpus", "remove"),
        ("settings",),
        ("eval",),
        ("train",),
        ("train", "answerer"),
    }
    assert expected <= paths


@pytest.mark.parametrize(("path", "command"), ALL_PATHS, ids=[path_id(p) for p, _ in ALL_PATHS])
def test_every_command_has_help_text(path, command):
    assert command.help and command.help.strip(), f"{path_id(path)} has no help"
    short = command.get_short_help_str(limit=200)
    assert short.strip(), f"{path_id(path)} has no short help"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            # --help and --version come with click's own help text.
            assert param.help and param.help.strip(), f"{path_id(path)} {param.opts} has no help"


@pytest.mark.parametrize(("path", "command"), ALL_PATHS, ids=[path_id(p) for p, _ in ALL_PATHS])
def test_help_flag_exits_zero_and_shows_the_help(path, command):
    result = invoke([*path, "--help"])
    assert_ok(result)
    assert result.stdout.startswith(f"Usage: {path_id(path)} ")
    first_line = command.help.strip().splitlines()[0]
    # click rewraps help paragraphs, so compare with whitespace folded.
    assert " ".join(first_line.split()) in " ".join(result.stdout.split())
    assert result.stderr == ""


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help_flags_agree(flag):
    result = invoke(["ask", flag])
    assert_ok(result)
    assert result.stdout == invoke(["ask", "--help"]).stdout


@pytest.mark.parametrize(
    "path", [(), ("index",), ("corpus",), ("train",)], ids=["pdqa", "pdqa index", "pdqa corpus", "pdqa train"]
)
def test_group_without_a_subcommand_shows_its_help_not_an_error(path):
    result = invoke(list(path))
    assert "Traceback" not in result.output
    assert f"Usage: {path_id(path)} " in result.output
    assert "Commands:" in result.output
    # The help is not an error message: no "Error:" prefix, no "(try ... --help)" glued on.
    assert "Error:" not in result.output
    assert "(try '" not in result.output


def test_version_prints_package_version():
    result = invoke(["--version"])
    assert_ok(result)
    assert result.stdout == f"pdqa, version {__version__}\n"
    assert result.stderr == ""


# ---------------------------------------------------------------- ask


def test_ask_json_has_exactly_the_answer_fields(built_settings):
    result = invoke(["ask", "--json", CONTRACT_QUESTION], built_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert set(data) == set(Answer.model_fields)
    assert set(Citation.model_fields) == CITATION_KEYS
    assert data["citations"], "the authors question must be answered with citations"
    for citation in data["citations"] + data["related"]:
        assert set(citation) == CITATION_KEYS


def test_ask_json_quotes_the_contract_exactly(built_settings):
    result = invoke(["ask", "--json", CONTRACT_QUESTION], built_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["question"] == CONTRACT_QUESTION
    assert data["abstained"] is False
    assert "secondment" in data["answer"]
    assert "12 months" in data["answer"]
    assert "[1]" in data["answer"]
    texts = corpus_texts(built_settings)
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))
    for citation in data["citations"]:
        text = texts[citation["doc_id"]]
        assert 0 <= citation["start"] < citation["end"] <= len(text)
        assert citation["quote"] == text[citation["start"] : citation["end"]]
    quotes = " ".join(c["quote"] for c in data["citations"])
    assert "secondment" in quotes and "12 months" in quotes


def test_ask_json_abstains_on_unanswered_question(built_settings):
    result = invoke(["ask", "--json", UNANSWERED_QUESTION], built_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["abstained"] is True
    assert data["answer"] == REPORT_NOT_FOUND == manifest_of(built_settings)["not_found"]
    assert data["citations"] == []
    assert data["abstain_reason"]
    texts = corpus_texts(built_settings)
    for citation in data["related"]:
        assert citation["quote"] == texts[citation["doc_id"]][citation["start"] : citation["end"]]


def test_ask_human_output_has_marker_sources_and_quote(built_settings):
    answer = json.loads(invoke(["ask", "--json", CONTRACT_QUESTION], built_settings).stdout)
    result = invoke(["ask", CONTRACT_QUESTION], built_settings)
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert "[1]" in result.stdout
    assert "Sources" in lines
    # Quotes are printed on one line with whitespace folded.
    quote = " ".join(answer["citations"][0]["quote"].split())
    assert f"“{quote}”" in result.stdout
    assert "secondment" in lines[0] and "12 months" in lines[0]
    # A fresh index is used as is: nothing is rebuilt, nothing is said on stderr.
    assert result.stderr == ""


def test_ask_question_words_are_joined(built_settings):
    result = invoke(["ask", "--json", *AUTHORS_QUESTION.split()], built_settings)
    assert_ok(result)
    assert json.loads(result.stdout)["question"] == AUTHORS_QUESTION


def test_ask_human_output_for_abstention(built_settings):
    result = invoke(["ask", UNANSWERED_QUESTION], built_settings)
    assert_ok(result)
    assert result.stdout.splitlines()[0] == REPORT_NOT_FOUND
    assert "The report does not say" in result.stdout
    assert "Sources" not in result.stdout.splitlines()


def test_ask_top_k_limits_hits(built_settings):
    result = invoke(["ask", "--json", "-k", "2", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    hits = json.loads(result.stdout)["hits"]
    assert [hit["rank"] for hit in hits] == [1, 2]
    default = json.loads(invoke(["ask", "--json", AUTHORS_QUESTION], built_settings).stdout)
    assert len(default["hits"]) == built_settings.retrieval.top_k != 2


def test_ask_show_hits_lists_ranked_passages(built_settings):
    result = invoke(["ask", "--show-hits", "-k", "3", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    ranks = [line.split(".")[0] for line in result.stdout.splitlines() if ". fused " in line]
    assert ranks == ["1", "2", "3"]


# ---------------------------------------------------------------- retrieve


def test_retrieve_json_returns_k_scored_hits(built_settings):
    result = invoke(["retrieve", "--json", "-k", "3", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    for hit in hits:
        assert {"rank", "score", "dense_score", "bm25_score"} <= set(hit)
        assert set(hit) == set(Hit.model_fields)
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    texts = corpus_texts(built_settings)
    for hit in hits:
        assert hit["text"] == texts[hit["doc_id"]][hit["start"] : hit["end"]]


def test_retrieve_human_output_lists_ranks(built_settings):
    result = invoke(["retrieve", "-k", "3", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    rank_lines = [line for line in result.stdout.splitlines() if " | dense " in line]
    assert [line.split(".")[0] for line in rank_lines] == ["1", "2", "3"]
    for line in rank_lines:
        assert "fused " in line and " | bm25 " in line
    assert "Lisa Wilson" in result.stdout


# ---------------------------------------------------------------- index


def test_index_status_json_on_fresh_index(built_settings):
    result = invoke(["index", "status", "--json"], built_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["built"] is True
    assert data["stale"] is False
    assert data["reasons"] == []
    assert Path(data["path"]) == built_settings.index_dir
    assert data["generation"] == generation(built_settings).name
    assert data["generation"].startswith("gen-")
    assert data["manifest"]["chunk_count"] == manifest_of(built_settings)["chunk_count"]


def test_a_scratch_copy_of_the_index_is_fresh_over_its_copied_corpus(scratch_settings):
    result = invoke(["index", "status", "--json"], scratch_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert (data["built"], data["stale"], data["reasons"]) == (True, False, [])


def test_index_status_human_on_fresh_index(built_settings):
    result = invoke(["index", "status"], built_settings)
    assert_ok(result)
    chunks = manifest_of(built_settings)["chunk_count"]
    assert result.stdout.startswith(f"Index at {built_settings.index_dir}: up to date")
    assert f"({chunks} chunks," in result.stdout


def test_index_status_reports_changed_corpus_file(scratch_settings):
    edit_corpus(scratch_settings, "\n\nOne more sentence.\n")
    result = invoke(["index", "status", "--json"], scratch_settings)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    data = json.loads(result.stdout)
    assert data["built"] is True
    assert data["stale"] is True
    assert any(CORPUS_NAME in reason for reason in data["reasons"]), data["reasons"]

    human = invoke(["index", "status"], scratch_settings)
    assert human.exit_code == 1
    assert human.stdout.startswith(f"Index at {scratch_settings.index_dir}: stale: ")
    assert f"corpus file changed: {CORPUS_NAME}" in human.stdout
    assert "Traceback" not in human.output


def test_index_build_on_fresh_index_says_up_to_date(built_settings):
    before, live = manifest_of(built_settings), generation(built_settings)
    result = invoke(["index", "build"], built_settings)
    assert_ok(result)
    assert result.stdout == (
        f"Index at {built_settings.index_dir} is up to date (use --force to rebuild).\n"
    )
    assert manifest_of(built_settings) == before, "a fresh index must not be rebuilt"
    assert generation(built_settings) == live


@pytest.mark.slow
def test_index_build_rebuilds_stale_index(scratch_settings):
    edit_corpus(scratch_settings, "\n\nOne more sentence.\n")
    old = generation(scratch_settings)
    result = invoke(["index", "build"], scratch_settings)
    assert_ok(result)
    assert generation(scratch_settings) != old
    assert not old.exists(), "the old generation, open in no process, is removed"
    manifest = manifest_of(scratch_settings)
    assert result.stdout.splitlines()[-1].startswith(
        f"Built index at {scratch_settings.index_dir}: {manifest['chunk_count']} chunks"
    )
    assert invoke(["index", "status"], scratch_settings).exit_code == 0


@pytest.mark.slow
def test_ask_on_stale_index_rebuilds_and_answers(scratch_settings):
    path = edit_corpus(
        scratch_settings, "\n\nThe pilots' mascot was a zebra called Quentin Marbleford.\n"
    )
    result = invoke(["ask", "--json", "What was the pilots' mascot called?"], scratch_settings)
    assert_ok(result)
    assert (
        f"Index is stale (corpus file changed: {CORPUS_NAME}); building it now." in result.stderr
    )
    data = json.loads(result.stdout)
    # The new sentence can only be found in a rebuilt index.
    assert data["abstained"] is False
    assert "Quentin Marbleford" in data["answer"]
    text = path.read_bytes().decode("utf-8")
    for citation in data["citations"]:
        assert citation["quote"] == text[citation["start"] : citation["end"]]
    assert invoke(["index", "status"], scratch_settings).exit_code == 0


# ---------------------------------------------------------------- settings


def test_settings_prints_the_generated_table():
    result = invoke(["settings"])
    assert_ok(result)
    assert result.stdout == settings_table()
    assert result.stderr == ""
    assert "| `PDQA_RETRIEVAL__TOP_K` | `5` |" in result.stdout


def test_settings_json_prints_the_effective_values(built_settings):
    result = invoke(["settings", "--json"], built_settings, PDQA_RETRIEVAL__TOP_K="7", PDQA_LLM__MODEL="tiny")
    assert_ok(result)
    data = json.loads(result.stdout)
    assert list(data) == ["corpus", "index", "retrieval", "answer", "verify", "llm"]
    assert data["retrieval"]["top_k"] == 7
    assert data["llm"]["model"] == "tiny"
    assert Path(data["corpus"]["dir"]) == built_settings.corpus_dir
    assert Path(data["index"]["dir"]) == built_settings.index_dir


def test_settings_json_with_corpus_option_names_that_folder_and_its_index(user_cache, tmp_path):
    result = invoke(["--corpus", str(tmp_path / "docs"), "settings", "--json"])
    assert_ok(result)
    data = json.loads(result.stdout)
    assert Path(data["corpus"]["dir"]) == tmp_path / "docs"
    assert Path(data["index"]["dir"]).parent == user_cache


# ---------------------------------------------------------------- an LLM through the backend factory


@pytest.fixture
def authors_reply(qa):
    """A reply citing the passage that names the authors, with one sentence the passage does not back."""
    hits = qa.retrieve(AUTHORS_QUESTION)
    n = next(i for i, hit in enumerate(hits, start=1) if "Lisa Wilson" in hit.text)
    return f"The report was written by Dr Lisa Wilson and Dr Rex Haigh [{n}]. It cost 5 pounds [{n}]."


def test_llm_option_answers_through_a_registered_backend(built_settings, scripted, authors_reply):
    llm = scripted(authors_reply)
    result = invoke(["ask", "--json", "--llm", "scripted", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["mode"] == "llm"
    assert data["llm"] == {"backend": "scripted", "model": "scripted-fake"}
    assert data["raw_answer"] == authors_reply
    assert data["answer"] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    assert data["removed"] == [{"sentence": "It cost 5 pounds.", "reason": "number '5' is not in the cited passage(s)"}]
    texts = corpus_texts(built_settings)
    for citation in data["citations"]:
        assert citation["quote"] == texts[citation["doc_id"]][citation["start"] : citation["end"]]
    [prompt] = llm.prompts
    assert AUTHORS_QUESTION in prompt
    assert result.stderr == ""


def test_llm_variable_selects_the_backend_and_the_option_wins(built_settings, scripted, authors_reply):
    llm = scripted(authors_reply)
    chosen = invoke(["ask", "--json", AUTHORS_QUESTION], built_settings, PDQA_LLM__BACKEND="scripted")
    assert_ok(chosen)
    assert json.loads(chosen.stdout)["mode"] == "llm"
    overridden = invoke(["ask", "--json", "--llm", "none", AUTHORS_QUESTION], built_settings, PDQA_LLM__BACKEND="scripted")
    assert_ok(overridden)
    assert json.loads(overridden.stdout)["mode"] == "extractive"
    assert len(llm.prompts) == 1


def test_without_llm_the_backend_is_never_asked(built_settings, scripted):
    llm = scripted("never read")
    result = invoke(["ask", "--json", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    assert json.loads(result.stdout)["mode"] == "extractive"
    assert llm.prompts == []


def test_show_removed_lists_the_dropped_sentence_with_its_reason(built_settings, scripted, authors_reply):
    scripted(authors_reply)
    result = invoke(["ask", "--llm", "scripted", "--show-removed", AUTHORS_QUESTION], built_settings)
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    at = lines.index("Removed by verification")
    assert lines[at + 1 : at + 3] == ["- It cost 5 pounds.", "    number '5' is not in the cited passage(s)"]
    hidden = invoke(["ask", "--llm", "scripted", AUTHORS_QUESTION], built_settings)
    assert "It cost 5 pounds" not in hidden.stdout


def test_unknown_llm_backend_is_one_line_error_naming_the_known_ones(built_settings, scripted):
    scripted("unused")
    result = invoke(["ask", "--llm", "olama", AUTHORS_QUESTION], built_settings)
    line = assert_one_line_error(result, "no LLM backend named 'olama'")
    assert "Use one of: none, openai-like, ollama, llama-cpp, scripted" in line


def test_failing_llm_falls_back_to_the_extractive_answer_with_one_warning(built_settings, scripted):
    llm = scripted(ConnectionError("connection refused"))
    result = invoke(["ask", "--json", "--llm", "scripted", CONTRACT_QUESTION], built_settings)
    assert_ok(result)
    data = json.loads(result.stdout)
    assert data["mode"] == "extractive-fallback"
    assert "12 months" in data["answer"]
    assert result.stderr.splitlines() == [
        "Warning: LLM scripted scripted-fake did not answer: connection refused; answering without the LLM"
    ]
    assert len(llm.prompts) == 2, "a request that failed before any reply is tried once more (max_retries 1)"


def test_failing_llm_with_strict_is_one_line_error(built_settings, scripted):
    scripted(ConnectionError("connection refused"))
    result = invoke(["ask", "--llm", "scripted", "--strict", AUTHORS_QUESTION], built_settings,
                    PDQA_LLM__MAX_RETRIES="0")
    assert_one_line_error(result, "LLM scripted scripted-fake did not answer: connection refused", "hint:")


# ---------------------------------------------------------------- corpus


def test_corpus_list_json_has_one_row_per_document(built_settings):
    result = invoke(["corpus", "list", "--json"], built_settings)
    assert_ok(result)
    rows = json.loads(result.stdout)
    meta = json.loads(
        (built_settings.corpus_dir / "innovation-in-action.meta.json").read_text(encoding="utf-8")
    )
    assert len(rows) == 2
    assert [row["doc_id"] for row in rows] == [doc["doc_id"] for doc in meta["documents"]]
    assert [row["title"] for row in rows] == [doc["title"] for doc in meta["documents"]]
    corpus_file = built_settings.corpus_dir / CORPUS_NAME
    digest = hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    for row in rows:
        assert set(row) == {"doc_id", "title", "path", "format", "pages", "sha256", "chunks"}
        assert (row["format"], row["pages"]) == ("text", None)
        assert row["chunks"] > 0
        assert row["sha256"] == digest
        assert row["path"] == CORPUS_NAME  # relative to the corpus folder
        assert built_settings.corpus_dir / row["path"] == corpus_file
    assert sum(row["chunks"] for row in rows) == manifest_of(built_settings)["chunk_count"]


def test_corpus_list_human_names_each_document(built_settings):
    rows = json.loads(invoke(["corpus", "list", "--json"], built_settings).stdout)
    result = invoke(["corpus", "list"], built_settings)
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * len(rows)
    for row, (first, second) in zip(rows, zip(lines[::2], lines[1::2])):
        assert first.startswith(f"{row['doc_id']}  (text, {row['chunks']} chunks, ")
        assert row["sha256"][:12] in first
        assert second.strip() == row["title"]


# ---------------------------------------------------------------- errors


def test_empty_question_is_one_line_error(built_settings):
    result = invoke(["ask", "  "], built_settings)
    assert_one_line_error(result, "the question is empty", "hint:")


def test_overlong_question_is_one_line_error(built_settings):
    result = invoke(["ask", "why " * 600], built_settings)
    assert_one_line_error(result, "longer than 2000 characters")


def test_missing_question_is_one_line_usage_error(built_settings):
    result = invoke(["ask"], built_settings)
    assert_one_line_error(result, "Missing argument", "pdqa ask --help")
    assert result.exit_code == 2


def test_unknown_option_is_one_line_usage_error(built_settings):
    result = invoke(["ask", "--bogus", "x"], built_settings)
    assert_one_line_error(result, "--bogus")
    assert result.exit_code == 2


def test_out_of_range_top_k_is_one_line_usage_error(built_settings):
    result = invoke(["retrieve", "-k", "0", "x"], built_settings)
    assert_one_line_error(result, "--top-k")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["ask", AUTHORS_QUESTION],
        ["retrieve", AUTHORS_QUESTION],
        ["index", "status"],
        ["corpus", "list"],
    ],
    ids=" ".join,
)
def test_missing_corpus_is_one_line_error(built_settings, tmp_path, args):
    missing = tmp_path / "no-such-corpus"
    before, live = manifest_of(built_settings), generation(built_settings)
    settings = built_settings.changed(corpus={"dir": missing}, index={"dir": built_settings.index_dir})
    result = invoke(args, settings)
    assert_one_line_error(result, "corpus folder not found", str(missing), "PDQA_CORPUS__DIR")
    assert generation(built_settings) == live and manifest_of(built_settings) == before


def test_index_build_of_a_missing_corpus_fails_naming_it(built_settings, tmp_path):
    missing = tmp_path / "no-such-corpus"
    before, live = manifest_of(built_settings), generation(built_settings)
    settings = built_settings.changed(corpus={"dir": missing}, index={"dir": built_settings.index_dir})
    result = invoke(["index", "build"], settings)
    # Found by the build's first step: the bar (never "done"), then the one error line.
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert "Traceback" not in result.output and result.stdout == ""
    *progress, last = result.stderr.splitlines()
    assert last.startswith("Error: corpus folder not found: ") and str(missing) in last and "PDQA_CORPUS__DIR" in last
    assert all(line.startswith("building index: ") and " done " not in line for line in progress), progress
    assert generation(built_settings) == live and manifest_of(built_settings) == before
    assert not list(built_settings.index_dir.glob(".building-*"))


@pytest.mark.parametrize("value", ["abc", "0"])
@pytest.mark.parametrize(
    "args", [["ask", AUTHORS_QUESTION], ["index", "status"], ["corpus", "list"]], ids=" ".join
)
def test_bad_setting_value_is_one_line_error(built_settings, args, value):
    result = invoke(args, built_settings, PDQA_RETRIEVAL__TOP_K=value)
    assert_one_line_error(result, "invalid setting PDQA_RETRIEVAL__TOP_K", repr(value))


def test_bad_value_under_a_previous_name_is_an_error_after_the_renaming_warning(built_settings):
    result = invoke(["index", "status"], built_settings, PDQA_TOP_K="0")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Warning: PDQA_TOP_K is now PDQA_RETRIEVAL__TOP_K; the old name works until the next release",
        "Error: invalid setting PDQA_RETRIEVAL__TOP_K: Input should be greater than or equal to 1, got '0' "
        "(hint: See docs/configuration.md (or `pdqa settings`) for every PDQA_* name and its range.)",
    ]


def test_previous_setting_names_still_work_with_one_warning_line(built_settings):
    env = {"PDQA_CORPUS_DIR": str(built_settings.corpus_dir), "PDQA_INDEX_DIR": str(built_settings.index_dir)}
    result = invoke(["retrieve", "--json", "-k", "2", AUTHORS_QUESTION], None, **env, PDQA_TOP_K="3")
    assert_ok(result)
    assert len(json.loads(result.stdout)) == 2
    assert sorted(result.stderr.splitlines()) == [
        "Warning: PDQA_CORPUS_DIR is now PDQA_CORPUS__DIR; the old name works until the next release",
        "Warning: PDQA_INDEX_DIR is now PDQA_INDEX__DIR; the old name works until the next release",
        "Warning: PDQA_TOP_K is now PDQA_RETRIEVAL__TOP_K; the old name works until the next release",
    ]
    default_k = invoke(["retrieve", "--json", AUTHORS_QUESTION], None, **env, PDQA_TOP_K="3")
    assert len(json.loads(default_k.stdout)) == 3


def test_overlapping_corpus_and_index_folders_are_one_line_error(built_settings):
    result = invoke(["index", "status"], None, PDQA_CORPUS__DIR=str(built_settings.corpus_dir),
                    PDQA_INDEX__DIR=str(built_settings.corpus_dir / "index"))
    assert_one_line_error(result, "overlap", "hint: Point PDQA_INDEX__DIR at a folder of its own")
    assert not (built_settings.corpus_dir / "index").exists()


def test_status_of_index_with_garbage_manifest(scratch_settings):
    (generation(scratch_settings) / "manifest.json").write_text("garbage", encoding="utf-8")
    result = invoke(["index", "status", "--json"], scratch_settings)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    data = json.loads(result.stdout)
    assert data["built"] is False
    assert data["stale"] is True
    assert data["manifest"] is None
    assert any("unreadable index manifest" in reason for reason in data["reasons"])

    human = invoke(["index", "status"], scratch_settings)
    assert human.exit_code == 1
    assert "not usable (unreadable index manifest" in human.stdout
    assert "Traceback" not in human.output


@pytest.mark.slow
def test_retrieve_rebuilds_index_with_garbage_manifest(scratch_settings):
    (generation(scratch_settings) / "manifest.json").write_text("garbage", encoding="utf-8")
    result = invoke(["retrieve", "--json", "-k", "2", AUTHORS_QUESTION], scratch_settings)
    assert_ok(result)
    assert "unreadable index manifest" in result.stderr
    assert "building it now" in result.stderr
    assert len(json.loads(result.stdout)) == 2
    assert invoke(["index", "status"], scratch_settings).exit_code == 0


def test_unreadable_vectors_of_the_right_size_are_one_line_error(scratch_settings):
    # Sizes and the chunk stores' hashes match, so the index looks intact; reading FAISS then fails.
    path = generation(scratch_settings) / "chunks.faiss"
    path.write_bytes(b"\0" * path.stat().st_size)
    result = invoke(["ask", AUTHORS_QUESTION], scratch_settings)
    assert_one_line_error(result, "cannot read index", "index build --force")


# ---------------------------------------------------------------- questions from standard input


def test_ask_dash_reads_questions_from_stdin_as_json_lines(built_settings):
    env = {"PDQA_CORPUS__DIR": str(built_settings.corpus_dir), "PDQA_INDEX__DIR": str(built_settings.index_dir)}
    stdin = f"{CONTRACT_QUESTION}\n\nHow many pilot sites were there?\n"
    result = CliRunner().invoke(cli, ["ask", "--json", "-"], input=stdin, env=env)
    assert_ok(result)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == [
        CONTRACT_QUESTION,
        "How many pilot sites were there?",
    ]
    assert "12 months" in answers[0]["answer"] and answers[1]["abstained"] is True


def test_ask_dash_with_empty_stdin_is_one_line_error(built_settings):
    env = {"PDQA_CORPUS__DIR": str(built_settings.corpus_dir), "PDQA_INDEX__DIR": str(built_settings.index_dir)}
    result = CliRunner().invoke(cli, ["ask", "-"], input="\n  \n", env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no questions on standard input (one per line)"


# ---------------------------------------------------------------- --corpus: a user's own folder


@pytest.fixture
def user_cache(monkeypatch, tmp_path):
    """Where indexes go by default (in a checkout too): the per-user cache folder, under a temporary HOME."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path / "home" / ".cache" / "pdqa" / "indexes"


def _write_corpus(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.slow
def test_corpus_option_answers_over_that_folder_with_its_own_index(user_cache, tmp_path):
    garden = _write_corpus(tmp_path / "a" / "docs", "Garden notes\n\nThe greenhouse was built by Ada Moss in 1921.\n")
    other = _write_corpus(tmp_path / "b" / "docs", "Other notes\n\nThe boat was painted blue in 1950.\n")
    assert_ok(invoke(["--corpus", str(garden), "index", "build"]))
    # Its own index: the folder's passage comes back (retrieve, so the answer model's confidence
    # on a one-sentence corpus does not decide the test).
    hits = json.loads(invoke(["--corpus", str(garden), "retrieve", "--json", "Who built the greenhouse?"]).stdout)
    assert len(hits) == 1 and "The greenhouse was built by Ada Moss in 1921." in hits[0]["text"]
    other_status = json.loads(invoke(["--corpus", str(other), "index", "status", "--json"]).stdout)
    garden_status = json.loads(invoke(["--corpus", str(garden), "index", "status", "--json"]).stdout)
    assert Path(garden_status["path"]).parent == Path(other_status["path"]).parent == user_cache
    assert garden_status["path"] != other_status["path"]
    assert garden_status["built"] and not garden_status["stale"]
    assert not other_status["built"]
    # A corpus whose metadata gives no name for itself: "the documents".
    unanswered = json.loads(invoke(["--corpus", str(garden), "ask", "--json", "Who painted the boat?"]).stdout)
    assert unanswered["abstained"] is True
    assert unanswered["answer"] == "The documents do not say."


def test_corpus_add_list_and_remove(user_cache, tmp_path):
    source = tmp_path / "paper.md"
    source.write_text("# A paper on gardens\n\nThe greenhouse was built in 1921.\n", encoding="utf-8")
    corpus_dir = tmp_path / "corpus"
    added = invoke(["--corpus", str(corpus_dir), "corpus", "add", str(source)])
    assert_ok(added)
    assert added.stdout.startswith("Added paper: A paper on gardens (")
    listed = json.loads(invoke(["--corpus", str(corpus_dir), "corpus", "list", "--json"]).stdout)
    assert [(row["doc_id"], row["format"], row["chunks"]) for row in listed] == [("paper", "markdown", 1)]
    removed = invoke(["--corpus", str(corpus_dir), "corpus", "remove", "paper"])
    assert_ok(removed)
    assert sorted(removed.stdout.splitlines()) == [f"Removed {corpus_dir / 'paper.md'}", f"Removed {corpus_dir / 'paper.meta.json'}"]
    assert list(corpus_dir.iterdir()) == []


def test_corpus_add_of_an_unsupported_file_is_one_line_error(user_cache, tmp_path):
    source = tmp_path / "sheet.xlsx"
    source.write_bytes(b"x")
    result = invoke(["--corpus", str(tmp_path / "corpus"), "corpus", "add", str(source)])
    assert_one_line_error(result, "unsupported document format: sheet.xlsx")


def test_corpus_remove_of_an_unknown_document_is_one_line_error(built_settings):
    result = invoke(["corpus", "remove", "nope"], built_settings)
    assert_one_line_error(result, "no document 'nope'", "innovation-in-action")


@pytest.mark.parametrize("named", [True, False], ids=["--corpus bundled", "default corpus"])
def test_corpus_add_refuses_to_write_into_the_installed_package(user_cache, tmp_path, monkeypatch, named):
    from pdqa import settings as settings_module

    package = tmp_path.resolve() / "site-packages" / "pdqa"
    bundled = package / "bundled_corpus"
    bundled.mkdir(parents=True)
    monkeypatch.setattr(settings_module, "PACKAGE_DIR", package)
    assert settings_module.bundled_corpus_dir() == bundled
    source = tmp_path / "paper.md"
    source.write_text("# Paper\n\nText.\n", encoding="utf-8")
    result = invoke((["--corpus", str(bundled)] if named else []) + ["corpus", "add", str(source)])
    assert_one_line_error(result, "the bundled corpus is part of the installed package", "--corpus DIR")
    assert list(bundled.iterdir()) == []


def test_ctrl_c_while_the_build_bar_draws_its_first_line_is_an_interrupt(monkeypatch):
    """Seen in CI: Ctrl-C landed inside the bar's first refresh (slow in a fresh environment), and
    closing the bar then failed on the task it had not made yet: exit 1 with a traceback, not 130."""
    from rich.progress import Progress

    from pdqa.cli import _progress

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "add_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with _progress() as report:
            report("read corpus", 1, 5)
