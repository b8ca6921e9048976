"""The fault battery of the ``pdqa`` command: bad input and interruptions end in one line, never a traceback.

Each test is one case of the battery (signals, pipes and file modes need a real subprocess).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_cli import AUTHORS_QUESTION, CONTRACT_QUESTION, assert_one_line_error, generation, invoke, scratch_settings  # noqa: F401

from pdqa.cli import cli

PDQA = Path(sys.executable).with_name("pdqa")


def _pdqa_env(settings) -> dict[str, str]:
    """This environment without its PDQA_* variables, pointed at the corpus and index of ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PDQA_")}
    env.update(PDQA_CORPUS__DIR=str(settings.corpus_dir), PDQA_INDEX__DIR=str(settings.index_dir))
    return env


def run_pdqa(args, settings, **popen):
    """Start the real ``pdqa`` script on the corpus and index of ``settings``."""
    return subprocess.Popen(
        [str(PDQA), *args], env=_pdqa_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **popen,
    )


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored and Python keeps it ignored; a user's
    # Ctrl-C reaches pdqa with the default disposition, so the test gives it that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_error_after_progress(result, *fragments):
    """A failed build: the progress bar (which must not say "done"), then one 'Error: ...' line."""
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    *progress, last = result.stderr.splitlines()
    assert last.startswith("Error: ")
    for fragment in fragments:
        assert fragment in last
    assert all(line.startswith("building index: ") and " done " not in line for line in progress), progress


# ---------------------------------------------------------------- settings (case 16)


def test_unknown_setting_name_is_one_line_error_naming_the_closest(built_settings):
    result = invoke(["index", "status"], built_settings, PDQA_TOPK="3")
    assert_one_line_error(result, "unknown setting PDQA_TOPK", "did you mean PDQA_RETRIEVAL__TOP_K?")


def test_unknown_setting_inside_a_group_is_one_line_error_naming_the_closest(built_settings):
    result = invoke(["index", "status"], built_settings, PDQA_RETRIEVAL__TOPK="3")
    assert_one_line_error(result, "unknown setting PDQA_RETRIEVAL__TOPK", "did you mean PDQA_RETRIEVAL__TOP_K?")


def test_non_finite_threshold_is_one_line_error(built_settings):
    result = invoke(["ask", AUTHORS_QUESTION], built_settings, PDQA_ANSWER__MIN_CONFIDENCE="nan")
    assert_one_line_error(result, "invalid setting PDQA_ANSWER__MIN_CONFIDENCE", "finite")


def test_bad_json_setting_names_the_variable_with_an_example(built_settings):
    result = invoke(["ask", AUTHORS_QUESTION], built_settings, PDQA_LLM__STOP="notjson")
    assert_one_line_error(result, "PDQA_LLM__STOP is not valid JSON", """PDQA_LLM__STOP='["\\n\\n"]'""")


# ---------------------------------------------------------------- Ctrl-C (case 4) and pipes (case 9)


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc to see a blocked read")
def test_ctrl_c_exits_130_without_a_traceback(built_settings):
    process = run_pdqa(["ask", "-"], built_settings, stdin=subprocess.PIPE, preexec_fn=_default_sigint)
    wchan = Path(f"/proc/{process.pid}/wchan")
    # Waiting for questions on standard input: the command runs, past Python's start-up.
    wait_until(lambda: "pipe" in wchan.read_text(), "pdqa to read standard input")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip() == "Interrupted."


@pytest.mark.slow
def test_ctrl_c_during_a_build_exits_130_and_keeps_the_previous_index(scratch_settings):
    live = generation(scratch_settings)
    manifest = (live / "manifest.json").read_text(encoding="utf-8")
    process = run_pdqa(["index", "build", "--force"], scratch_settings, preexec_fn=_default_sigint)
    folder = scratch_settings.index_dir
    wait_until(lambda: list(folder.glob(".building-*")), "the build to start")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "Interrupted."
    assert not list(folder.glob(".building-*"))
    assert generation(scratch_settings) == live
    assert sorted(p.name for p in folder.glob("gen-*")) == [live.name]
    assert (live / "manifest.json").read_text(encoding="utf-8") == manifest


def test_output_into_a_closed_pipe_is_not_an_error(built_settings):
    # `pdqa ask … | head -1`: the reader goes away after the first line.
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    questions = "\n".join([AUTHORS_QUESTION] * 200) + "\n"
    writer = subprocess.run(
        [str(PDQA), "ask", "--json", "-"], input=questions.encode(), stdout=reader.stdin,
        stderr=subprocess.PIPE, env=_pdqa_env(built_settings), timeout=300,
    )
    reader.stdin.close()
    first = reader.stdout.read()
    reader.wait()
    assert json.loads(first)["question"] == AUTHORS_QUESTION
    assert writer.returncode == 0, writer.stderr
    assert writer.stderr == b""


# ---------------------------------------------------------------- eval output (cases 7, 19)


def test_eval_out_on_an_existing_file_fails_before_evaluating(built_settings, tmp_path):
    existing = tmp_path / "report"
    existing.write_text("keep me", encoding="utf-8")
    started = time.perf_counter()
    result = invoke(["eval", "--split", "dev", "--out", str(existing)], built_settings)
    assert_one_line_error(result, f"--out {existing} is a file, not a folder")
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert time.perf_counter() - started < 5  # it did not run the evaluation first


def test_eval_out_in_an_unwritable_place_fails_before_evaluating(built_settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = invoke(["eval", "--split", "dev", "--out", str(blocker / "out")], built_settings)
    assert_one_line_error(result, "cannot write to --out folder", "Not a directory")


def test_eval_help_says_where_the_report_goes():
    result = invoke(["eval", "--help"])
    assert "eval/out under the current folder" in " ".join(result.stdout.split())


# ---------------------------------------------------------------- SQuAD shape (case 8)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"data": [{"title": "T"}]}, "data.0.paragraphs: Field required"),
        ({"data": [{"paragraphs": [{"context": "C", "qas": [{"id": "q"}]}]}]}, "data.0.paragraphs.0.qas.0.question"),
        ({"data": {"title": "T"}}, "data: Input should be a valid array"),
        ({"version": "v2.0"}, "data: Field required"),
    ],
)
def test_malformed_squad_file_is_one_line_error_naming_the_problem(built_settings, tmp_path, data, fragment):
    squad = tmp_path / "bad.json"
    squad.write_text(json.dumps(data), encoding="utf-8")
    result = invoke(["eval", "--squad", str(squad), "--out", str(tmp_path / "out")], built_settings)
    assert_one_line_error(result, "is not a SQuAD 2.0 JSON file", fragment, '"paragraphs": [{"context"')


def test_squad_question_marked_answerable_without_answers_is_one_line_error(built_settings, tmp_path):
    squad = tmp_path / "bad.json"
    data = {"data": [{"title": "T", "paragraphs": [{"context": "C", "qas": [{"id": "q1", "question": "Q?"}]}]}]}
    squad.write_text(json.dumps(data), encoding="utf-8")
    result = invoke(["eval", "--squad", str(squad), "--out", str(tmp_path / "out")], built_settings)
    assert_one_line_error(result, "q1: an answerable question needs answers")


# ---------------------------------------------------------------- k (case 20)


@pytest.mark.parametrize("k", [0, -1, 51])
def test_retrieve_with_out_of_range_k_is_refused(qa, k):
    from pdqa.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match="k must be a whole number from 1 to 50"):
        qa.retrieve(AUTHORS_QUESTION, k=k)
    with pytest.raises(InvalidSetting):
        qa.ask(AUTHORS_QUESTION, k=k)


def test_retrieve_with_k_returns_k_hits(qa):
    assert len(qa.retrieve(AUTHORS_QUESTION, k=2)) == 2


# ---------------------------------------------------------------- index files (cases 6, 10, 11, 12, 17)


def test_status_names_a_missing_index_file(scratch_settings):
    (generation(scratch_settings) / "chunks.faiss").unlink()
    result = invoke(["index", "status"], scratch_settings)
    assert result.exit_code == 1
    assert result.stdout.strip() == f"Index at {scratch_settings.index_dir}: not usable (missing index file chunks.faiss)."


def test_status_verify_names_a_damaged_encoder(scratch_settings):
    path = generation(scratch_settings) / "encoder" / "tokenizer.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"[CLS]"', '"[XYZ]"', 1), encoding="utf-8")  # same size
    assert invoke(["index", "status"], scratch_settings).exit_code == 0
    result = invoke(["index", "status", "--verify"], scratch_settings)
    assert result.exit_code == 1
    assert "encoder/tokenizer.json was changed after the build" in result.stdout


# Quotes are cut from the stored texts; the chunk store's strings name files, documents and sections.
EDITS = [
    ("texts/innovation-in-action.txt.txt", "12 months", "99 months"),
    ("store.json", "Innovation in Action", "Innovation in Actiox"),
]


@pytest.mark.parametrize(("name", "old", "new"), EDITS, ids=[edit[0] for edit in EDITS])
def test_ask_rebuilds_an_edited_chunk_store_and_says_which_file(scratch_settings, corpus_text, name, old, new):
    path = generation(scratch_settings) / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")  # the same size: only its hash tells
    result = invoke(["ask", "--json", CONTRACT_QUESTION], scratch_settings)
    assert result.exit_code == 0, result.output
    assert f"index file {name} was changed after the build" in result.stderr
    answer = json.loads(result.stdout)
    assert new not in result.stdout
    assert answer["citations"]
    for citation in answer["citations"]:
        assert corpus_text[citation["start"] : citation["end"]] == citation["quote"]


def _refuse_writes_under(folder: Path, monkeypatch) -> None:
    """Make every write below ``folder`` fail as in a read-only folder (root ignores file modes)."""
    import builtins

    real_open, real_path_open, real_os_open = builtins.open, Path.open, os.open

    def writes(mode) -> bool:
        return any(flag in str(mode) for flag in "wax+")

    def guarded_open(file, mode="r", *args, **kwargs):
        if str(file).startswith(str(folder)) and writes(mode):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    def guarded_path_open(self, mode="r", *args, **kwargs):
        return guarded_open(self, mode, *args, **kwargs) if writes(mode) else real_path_open(self, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if str(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(Path, "open", guarded_path_open)
    monkeypatch.setattr(os, "open", guarded_os_open)


def test_build_in_a_read_only_folder_is_one_line_error_with_a_hint(built_settings, tmp_path, monkeypatch):
    settings = built_settings.changed(index={"dir": tmp_path / "ro" / "index"})
    (tmp_path / "ro").mkdir()
    _refuse_writes_under(tmp_path / "ro", monkeypatch)
    result = invoke(["index", "build"], settings)
    # A build writes inside the index folder (its generations), so that is the folder named.
    assert_error_after_progress(result, f"cannot build the index in {tmp_path / 'ro' / 'index'}: Permission denied",
                                "PDQA_INDEX__DIR")


def test_ask_on_a_usable_index_in_a_read_only_folder_answers(scratch_settings, monkeypatch):
    _refuse_writes_under(scratch_settings.index_dir.parent, monkeypatch)
    result = invoke(["ask", "--json", CONTRACT_QUESTION], scratch_settings)
    assert result.exit_code == 0, result.output
    assert "12 months" in json.loads(result.stdout)["answer"]


# ---------------------------------------------------------------- questions (cases 5, 14)


def test_invalid_utf8_in_argv_is_one_line_error(built_settings):
    process = run_pdqa(["ask", "Who wrote \udcff the report?"], built_settings)  # argv byte 0xFF
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert stdout == ""
    assert stderr.splitlines() == [
        "Error: the question is not valid text: character 11 is not a Unicode character "
        '(hint: Ask a question in plain words, e.g. pdqa ask "Who wrote the report?")'
    ]


def test_batch_answers_every_line_and_reports_each_bad_one(built_settings):
    lines = [CONTRACT_QUESTION.encode(), b"x" * 2001, b"How many pilot sites were there?", b"bad \xff byte"]
    result = subprocess.run(
        [str(PDQA), "ask", "--json", "-"], input=b"\n".join(lines) + b"\n",
        capture_output=True, env=_pdqa_env(built_settings), timeout=300,
    )
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert result.returncode == 1
    assert result.stderr.decode().strip() == "Error: 2 of 4 questions failed"
    assert len(records) == 4
    assert "12 months" in records[0]["answer"]
    assert records[1]["error"].startswith("the question is longer than 2000 characters")
    assert records[2]["abstained"] is True
    assert records[3] == {
        "question": "bad \udcff byte",
        "error": "the question is not valid text: character 5 is not a Unicode character "
        '(hint: Ask a question in plain words, e.g. pdqa ask "Who wrote the report?")',
    }


def test_batch_in_human_mode_names_the_bad_line_on_stderr(built_settings):
    stdin = f"{AUTHORS_QUESTION}\n{'y' * 2001}\n"
    result = CliRunner().invoke(cli, ["ask", "-"], input=stdin, env=_pdqa_env(built_settings))
    assert result.exit_code == 1
    assert "Rex Haigh" in result.stdout
    assert result.stderr.splitlines() == [
        "Error: question 2: the question is longer than 2000 characters "
        '(hint: Ask a question in plain words, e.g. pdqa ask "Who wrote the report?")',
        "Error: 1 of 2 questions failed",
    ]


@pytest.mark.parametrize(
    ("question", "message"),
    [(123, "the question must be text, not int"), ("a \ud800 b", "character 3 is not a Unicode character")],
)
def test_ask_refuses_what_is_not_text(qa, question, message):
    from pdqa.errors import InvalidQuestion

    with pytest.raises(InvalidQuestion, match=message):
        qa.ask(question)
    with pytest.raises(InvalidQuestion, match=message):
        qa.retrieve(question)


# ---------------------------------------------------------------- corpus (cases 13, 15, 18)


def test_unreadable_corpus_file_does_not_block_questions(scratch_settings):
    (scratch_settings.corpus_dir / "broken.txt").write_bytes(b"Broken notes\n\nbad \xff byte\n")
    result = invoke(["ask", "--json", CONTRACT_QUESTION], scratch_settings)
    assert result.exit_code == 0, result.output
    assert "12 months" in json.loads(result.stdout)["answer"]
    warning = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1
    assert "cannot read" in warning[0] and "broken.txt" in warning[0]
    assert "answering from the index built" in warning[0]
    assert " done " not in result.stderr


def test_index_build_with_an_unreadable_corpus_file_fails_naming_it(scratch_settings):
    (scratch_settings.corpus_dir / "broken.txt").write_bytes(b"Broken notes\n\nbad \xff byte\n")
    live = generation(scratch_settings)
    before = (live / "manifest.json").read_text(encoding="utf-8")
    result = invoke(["index", "build"], scratch_settings)
    assert_error_after_progress(result, "cannot read", "broken.txt")
    assert generation(scratch_settings) == live
    assert (live / "manifest.json").read_text(encoding="utf-8") == before
    assert not list(scratch_settings.index_dir.glob(".building-*"))


LINK_REFUSED = ("corpus file passwd.txt links to", "outside the corpus folder", "Copy the file")


def _link_to_a_secret(settings, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\n\nThe password is swordfish.\n", encoding="utf-8")
    (settings.corpus_dir / "passwd.txt").symlink_to(secret)


def _assert_secret_not_indexed(settings) -> None:
    for path in settings.index_dir.rglob("*"):
        if path.is_file() and path.suffix in (".txt", ".json", ".npz", ".npy"):
            assert b"swordfish" not in path.read_bytes(), path


def test_link_to_a_file_outside_the_corpus_is_refused_by_corpus_list(scratch_settings, tmp_path):
    _link_to_a_secret(scratch_settings, tmp_path)
    result = invoke(["corpus", "list"], scratch_settings)
    assert_one_line_error(result, *LINK_REFUSED)
    _assert_secret_not_indexed(scratch_settings)


def test_link_to_a_file_outside_the_corpus_fails_the_build_naming_it(scratch_settings, tmp_path):
    _link_to_a_secret(scratch_settings, tmp_path)
    live = generation(scratch_settings)
    result = invoke(["index", "build"], scratch_settings)
    # Found while the build reads the corpus: the bar (never "done"), then the one error line.
    assert_error_after_progress(result, *LINK_REFUSED)
    assert generation(scratch_settings) == live
    _assert_secret_not_indexed(scratch_settings)


def test_link_to_a_file_outside_the_corpus_is_not_read_and_questions_use_the_previous_index(scratch_settings, tmp_path):
    # A rebuild that fails on a corpus file falls back to the previous index of the same corpus.
    _link_to_a_secret(scratch_settings, tmp_path)
    result = invoke(["ask", "--json", "What is the password?"], scratch_settings)
    assert result.exit_code == 0, result.output
    assert "swordfish" not in result.stdout
    warning = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1, result.stderr
    assert warning[0].startswith("Warning: corpus file passwd.txt links to ")
    assert "outside the corpus folder" in warning[0]
    assert "answering from the index built" in warning[0]
    assert " done " not in result.stderr
    assert "Error" not in result.stderr
    _assert_secret_not_indexed(scratch_settings)


def test_link_inside_the_corpus_folder_is_read(scratch_settings):
    (scratch_settings.corpus_dir / "notes").mkdir()
    (scratch_settings.corpus_dir / "notes" / "canteen.txt").write_text("Canteen\n\nIt opens at eight.\n", encoding="utf-8")
    (scratch_settings.corpus_dir / "canteen.txt").symlink_to(scratch_settings.corpus_dir / "notes" / "canteen.txt")
    result = invoke(["corpus", "list", "--json"], scratch_settings)
    assert result.exit_code == 0, result.output
    assert "canteen" in [row["doc_id"] for row in json.loads(result.stdout)]


def test_metadata_with_an_unknown_key_names_the_key(scratch_settings):
    meta = scratch_settings.corpus_dir / "innovation-in-action.meta.json"
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["documents"][1]["summary"] = "a key the metadata format does not have"
    meta.write_text(json.dumps(data), encoding="utf-8")
    result = invoke(["corpus", "list"], scratch_settings)
    assert_one_line_error(result, "bad metadata file innovation-in-action.meta.json: documents.1.summary: Extra inputs are not permitted")


def test_gold_error_hint_points_at_a_file_that_exists():
    from pdqa.evaluation.gold import GoldError
    from pdqa.settings import PACKAGE_DIR

    named = [word.rstrip(".,()") for word in GoldError.hint.split() if "/" in word]
    assert named == ["pdqa/evaluation/gold.py"]
    assert (PACKAGE_DIR.parent / named[0]).is_file()


def test_link_made_by_corpus_add_link_is_read(scratch_settings, tmp_path):
    outside = tmp_path / "outside" / "canteen.txt"
    outside.parent.mkdir()
    outside.write_text("Canteen\n\nThe canteen opens at eight.\n", encoding="utf-8")
    added = invoke(["corpus", "add", "--link", str(outside)], scratch_settings)
    assert added.exit_code == 0, added.output
    result = invoke(["corpus", "list", "--json"], scratch_settings)
    assert result.exit_code == 0, result.output
    assert "canteen" in [row["doc_id"] for row in json.loads(result.stdout)]
