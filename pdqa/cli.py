"""The ``pdqa`` command: a thin layer over the library. Heavy modules load inside commands."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import click

from .version import __version__
from .errors import PdqaError
from .settings import RetrievalSettings

DEFAULT_TOP_K = RetrievalSettings.model_fields["top_k"].default
LLM_HELP = "LLM that writes the answer: none (extractive), openai-like, ollama or llama-cpp (default: PDQA_LLM__BACKEND, else none)."


class _OneLineErrors(click.Group):
    """Expected failures end with one line on stderr and a non-zero exit, never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            self._main(args, prog_name, complete_var, **extra)

    def _main(self, args, prog_name, complete_var, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # a closed pipe shows here, while it can still be handled
        except BrokenPipeError:
            _silence_stdout()
            code = 0
        except KeyboardInterrupt:
            _interrupted()
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(0)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "pdqa"
            _fail(f"{exc.format_message()} (try '{where} --help')", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):
                _interrupted()
            _fail("aborted", 1)
        except PdqaError as exc:
            _fail(f"{exc} (hint: {exc.hint})" if exc.hint else str(exc), 1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        # Output piped into `head` or a pager that quit is not a failure: stop quietly.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _interrupted():
    """Ctrl-C: stop with the shell's exit code for SIGINT (128 + 2), without a traceback."""
    click.echo("Interrupted.", err=True)
    sys.exit(130)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """Warnings (a skipped corpus file, a fallback, ...) as one 'Warning: ...' line."""
    click.echo(f"Warning: {message}", err=True)


def _fail(message: str, code: int):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pdqa")
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Answer over this folder of documents (default: PDQA_CORPUS__DIR, else the bundled "
              "report); each folder gets its own index.")
def cli(corpus_dir):
    """pdqa: answers from your documents in which every statement is an exact, cited quote, offline.

    Point it at a folder of reports (PDF, HTML, DOCX, Markdown, text) with --corpus; without one
    it answers over the bundled report, the Innovation in Action review. When the documents do
    not answer a question, pdqa says so. Settings come from PDQA_* environment variables
    (`pdqa settings` lists them).
    """


def _settings(corpus_dir: Path | None = None):
    """Settings from the environment (an unknown PDQA_* variable is an error), and --corpus."""
    from .settings import Settings

    corpus_dir = corpus_dir or click.get_current_context().find_root().params.get("corpus_dir")
    return Settings.from_environment(**({"corpus": {"dir": corpus_dir}} if corpus_dir is not None else {}))


def _open_qa(settings):
    """QA over the index, building it first (with a progress bar) if it is missing or stale."""
    from .qa import QA

    progress = _progress()
    with progress as report:
        qa = QA(settings, on_stale="rebuild", progress=report, notice=lambda line: click.echo(line, err=True))
        # A build that failed and fell back to the previous index (with a warning) is not "done".
        progress.failed = not qa.rebuilt
    return qa


def _llm_options(command):
    """--llm, --base-url, --model and --strict: override the PDQA_LLM__* settings."""
    options = [
        click.option("--llm", "backend", metavar="BACKEND", help=LLM_HELP),
        click.option("--base-url", help="LLM server root, e.g. http://127.0.0.1:8080/v1."),
        click.option("--model", help="Model name the LLM server knows."),
        click.option("--strict", is_flag=True, default=None,
                     help="Fail when the LLM cannot be used instead of answering extractively."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _with_llm(settings, backend, base_url, model, strict):
    """Settings with the LLM flags that were given laid over PDQA_LLM__*."""
    flags = {"backend": backend, "base_url": base_url, "model": model, "strict": strict}
    given = {name: value for name, value in flags.items() if value is not None}
    return settings.changed(llm=given) if given else settings


class _fallback_warnings:
    """Turns the LLM fallback warning into one 'Warning: ...' line on stderr."""

    def __enter__(self):
        from .errors import LLMFallbackWarning

        self.catcher = warnings.catch_warnings(record=True)
        self.caught = self.catcher.__enter__()
        warnings.simplefilter("always", LLMFallbackWarning)

    def __exit__(self, *exc_info):
        self.catcher.__exit__(*exc_info)
        for warning in self.caught:
            click.echo(f"Warning: {warning.message}", err=True)


class _progress:
    """A rich progress bar on stderr for index builds, shown only once a build reports a step."""

    def __enter__(self):
        self.bar = self.task = None
        self.failed = False
        return self.report

    def _start(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from .render import make_console

        self.bar = Progress(
            TextColumn("building index: {task.description:<16}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=make_console(stderr=True),
            transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task("starting", total=1)

    def report(self, step: str, number: int, total: int) -> None:
        if self.bar is None:
            self._start()
        self.bar.update(self.task, description=step, completed=number - 1, total=total)

    def __exit__(self, exc_type, *_):
        if self.bar is None:
            return
        if self.task is None:  # Ctrl-C while the bar was drawing its first line: no task to update
            self.bar.stop()
            return
        if exc_type is None and not self.failed:
            self.bar.update(self.task, description="done", completed=self.bar.tasks[0].total)
        else:  # the bar must not say "done" right before the error that stopped the build
            self.bar.update(self.task, description="interrupted" if exc_type is KeyboardInterrupt else "failed")
        self.bar.stop()


def _question(words: tuple[str, ...]) -> str:
    return " ".join(words)


def _check_question(text: str) -> None:
    """Refuse a question that cannot be asked before the index is opened (or rebuilt, for minutes)."""
    from .qa import checked_question

    checked_question(text)


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the Answer model as JSON.")
@click.option("-k", "--top-k", type=click.IntRange(1, 50),
              help=f"Passages to answer from (default: PDQA_RETRIEVAL__TOP_K, else {DEFAULT_TOP_K}).")
@click.option("--show-hits", is_flag=True, help="Also print the retrieved passages with scores.")
@click.option("--show-removed", is_flag=True, help="Also print the LLM sentences verification removed, and why.")
@click.option("--min-confidence", type=click.FloatRange(0, 1),
              help="Abstain below this calibrated confidence (default: PDQA_ANSWER__MIN_CONFIDENCE, else the model's).")
@click.option("--stream", is_flag=True,
              help="With --llm: print each sentence as soon as it is verified, then the sources.")
@_llm_options
def ask(question, as_json, top_k, show_hits, show_removed, min_confidence, stream, backend, base_url, model, strict):
    """Answer QUESTION with cited quotes, or say the documents do not say.

    With --llm, a language model writes the answer and every sentence is checked against the
    passage it cites; unsupported sentences are removed. QUESTION "-" reads one question per
    line from standard input (with --json: one Answer per output line, JSON Lines). With
    --stream, each verified sentence is printed as soon as the model has written it.
    """
    from .render import make_console, print_answer, print_sentence

    settings = _with_llm(_settings(), backend, base_url, model, strict)
    if min_confidence is not None:
        settings = settings.changed(answer={"min_confidence": min_confidence})
    questions = _stdin_questions() if question == ("-",) else [_question(question)]
    if len(questions) == 1:
        _check_question(questions[0])
    qa = _open_qa(settings)
    console = make_console()
    failed = 0
    for number, text in enumerate(questions):
        show = (lambda sentence: print_sentence(console, sentence)) if stream and not as_json else None
        batch_header = len(questions) > 1 and not as_json
        if batch_header and show is not None:  # streamed sentences come under their question
            _print_question(console, number, text)
        try:
            with _fallback_warnings():
                answer = _answer(qa, text, top_k, show)
        except PdqaError as exc:
            if len(questions) == 1:
                raise
            # One bad line of a batch gets its own error; the other questions are still answered.
            failed += 1
            _report_failed_question(number + 1, text, exc, as_json)
            continue
        if as_json:
            click.echo(answer.model_dump_json(indent=None if len(questions) > 1 else 2))
            continue
        if batch_header and show is None:
            _print_question(console, number, text)
        print_answer(console, answer, show_hits=show_hits, show_removed=show_removed, streamed=show is not None)
    if failed:
        raise click.ClickException(f"{failed} of {len(questions)} questions failed")


def _print_question(console, number: int, text: str) -> None:
    console.print(("\n" if number else "") + f"Q: {text}", style="bold magenta", markup=False)


def _report_failed_question(number: int, text: str, exc: PdqaError, as_json: bool) -> None:
    message = f"{exc} (hint: {exc.hint})" if exc.hint else str(exc)
    if as_json:  # ensure_ascii: a line of invalid UTF-8 still gives valid JSON
        click.echo(json.dumps({"question": text, "error": message}))
    else:
        click.echo(f"Error: question {number}: {message}", err=True)


def _answer(qa, text, top_k, show_sentence):
    """Ask, telling on a terminal what an LLM wait is for; ``show_sentence`` gets streamed sentences."""
    from .qa import Done, Sentence, Waiting

    notice = _WaitNotice()
    try:
        for event in qa.ask_stream(text, k=top_k):
            if isinstance(event, Waiting):
                notice.start(event.llm)
                continue
            notice.stop()
            if isinstance(event, Sentence) and show_sentence is not None:
                show_sentence(event.text)
            if isinstance(event, Done):
                return event.answer
    finally:
        notice.stop()


class _WaitNotice:
    """On a terminal, a transient line on stderr: which LLM pdqa waits for, where, for how long."""

    def __init__(self):
        self.bar = None

    def start(self, llm: str) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from .render import make_console

        console = make_console(stderr=True)
        if not console.is_terminal:
            return
        self.bar = Progress(SpinnerColumn(), TextColumn(f"waiting for LLM {llm}"), TimeElapsedColumn(),
                            console=console, transient=True)
        self.bar.add_task("wait", total=None)
        self.bar.start()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _stdin_questions() -> list[str]:
    # Bytes that are not UTF-8 become lone surrogates, which that line's question then refuses.
    lines = (raw.decode("utf-8", "surrogateescape") for raw in sys.stdin.buffer)
    questions = [line.strip() for line in lines if line.strip()]
    if not questions:
        raise click.ClickException("no questions on standard input (one per line)")
    return questions


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON list.")
@click.option("-k", "--top-k", type=click.IntRange(1, 50),
              help=f"Hits to return (default: PDQA_RETRIEVAL__TOP_K, else {DEFAULT_TOP_K}).")
def retrieve(question, as_json, top_k):
    """Show the passages ranked for QUESTION, with fused, dense and BM25 scores."""
    from .render import make_console, print_hits

    settings = _settings()
    _check_question(_question(question))
    hits = _open_qa(settings).retrieve(_question(question), k=top_k)
    if as_json:
        click.echo(json.dumps([hit.model_dump() for hit in hits], indent=2, ensure_ascii=False))
    else:
        print_hits(make_console(), hits)


@cli.group()
def index():
    """Build the index or check whether it is up to date."""


@index.command("build")
@click.option("--force", is_flag=True, help="Rebuild everything, the ONNX encoder too, even when the index is up to date.")
def index_build(force):
    """Build the index for the corpus (atomically: a failed build keeps the old one)."""
    from .index import index_status
    from .qa import build

    settings = _settings()
    status = index_status(settings)
    if status.usable and not force:
        click.echo(f"Index at {status.path} is up to date (use --force to rebuild).")
        return
    with _progress() as report:
        manifest = build(settings, report, reuse=not force)
    click.echo(
        f"Built index at {settings.index_dir}: {manifest.chunk_count} chunks, "
        f"{manifest.unit_count} sentences/lists from {len(manifest.corpus_files)} file(s)."
    )


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--verify", is_flag=True, help="Hash every index file (the 90 MB encoder too) and every corpus file (slower).")
def index_status_command(as_json, verify):
    """Say whether the index is built, intact and fresh, and if not, why. Exits 1 when it is not.

    Every load checks the size of each index file and hashes the chunk store and the stored
    texts; --verify also hashes the vectors, the encoder and every corpus file.
    """
    from .errors import CorpusError
    from .index import describe, index_status

    settings = _settings()
    if not Path(settings.corpus_dir).is_dir():  # before "built for another corpus folder": say why
        raise CorpusError(f"corpus folder not found: {settings.corpus_dir}")
    status = index_status(settings, verify=verify)
    if as_json:
        click.echo(json.dumps(describe(status), indent=2))
    elif not status.built:
        state = "not built" if status.reasons == ["not built"] else "not usable"
        click.echo(f"Index at {status.path}: {state} ({'; '.join(status.reasons)}).")
    elif status.stale:
        click.echo(f"Index at {status.path}: stale: {'; '.join(status.reasons)}.")
    else:
        manifest = status.manifest
        click.echo(
            f"Index at {status.path}: up to date ({manifest.chunk_count} chunks, "
            f"model {manifest.embedding_model}, built {manifest.built_at})."
        )
    sys.exit(0 if status.usable else 1)


@cli.group()
def corpus():
    """List, add and remove the corpus documents."""


@corpus.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the documents as a JSON list.")
def corpus_list(as_json):
    """List the documents with their title, file, format, pages, sha256 and number of chunks."""
    from .chunking import list_documents

    settings = _settings()
    rows = list_documents(settings.corpus_dir, settings.index.chunk_max_chars, settings.corpus)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        pages = f", {row['pages']} pages" if row["pages"] else ""
        click.echo(
            f"{row['doc_id']}  ({row['format']}{pages}, {row['chunks']} chunks, {row['path']}, "
            f"sha256 {row['sha256'][:12]}…)"
        )
        click.echo(f"    {row['title']}")


@corpus.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--link", is_flag=True, help="Link to the files instead of copying them.")
def corpus_add(files, link):
    """Copy FILES (PDF, HTML, DOCX, Markdown, text) into the corpus folder, titled from each document.

    The index is rebuilt by the next `pdqa index build` or question.
    """
    from .corpus import add_files
    from .settings import PACKAGE_DIR

    settings = _settings()
    if settings.corpus_dir.resolve().is_relative_to(PACKAGE_DIR):
        raise click.ClickException("the bundled corpus is part of the installed package; "
                                   "add files to your own folder with `pdqa --corpus DIR corpus add`")
    for document in add_files(settings.corpus_dir, list(files), link=link):
        click.echo(f"Added {document.doc_id}: {document.title} ({settings.corpus_dir / document.path})")


@corpus.command("remove")
@click.argument("doc_id")
def corpus_remove(doc_id):
    """Remove the document DOC_ID (its file and .meta.json) from the corpus folder."""
    from .corpus import remove_document

    for path in remove_document(_settings().corpus_dir, doc_id):
        click.echo(f"Removed {path}")


@cli.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print the effective settings as JSON.")
def settings_command(as_json):
    """List every PDQA_* setting with its default and meaning, or the effective values (--json)."""
    from .settings import settings_table

    if as_json:
        click.echo(_settings().model_dump_json(indent=2))
    else:
        click.echo(settings_table(), nl=False)


# A report set's documents are read where they are (never copied into the repository).
_documents_option = click.option("--corpus", "documents_dir", type=click.Path(path_type=Path, file_okay=False),
                                 help="With a report set: the folder holding its documents.")


@cli.command("eval")
@click.option("--gold", "gold_path", type=click.Path(path_type=Path),
              help="Gold JSONL file: the bundled report's questions (default, over the bundled report) or a "
              "report question set (rows with a `doc`).")
@click.option("--squad", "squad_path", type=click.Path(path_type=Path), help="Evaluate on a SQuAD 2.0 JSON file instead, in a temporary index.")
@click.option("--split", help="Which questions: dev/test/all (bundled report), train/validation/test/all (report set, "
              "default validation; all is train and validation), or with --squad the articles of the split file.")
@click.option("--split-file", type=click.Path(path_type=Path, dir_okay=False),
              help="The split of a report set or SQuAD file (default: split.json beside the gold file; the bundled squad_split.json).")
@_documents_option
@click.option("--per-document", is_flag=True, help="With a report set: one corpus per document instead of one for all.")
@click.option("--sample", type=click.IntRange(1), help="Ask a fixed random sample of this many questions (seeded).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("eval/out"), show_default="eval/out under the current folder", help="Folder for report.json, report.md and the plots.")
@click.option("--compare", "baseline", type=click.Path(path_type=Path), help="Fail (exit 1) if a headline metric fell against this baseline.")
@click.option("--save-baseline", type=click.Path(path_type=Path), help="Write this run's headline figures as a new baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary metrics as JSON.")
@_llm_options
def eval_command(gold_path, squad_path, split, split_file, documents_dir, per_document, sample, out_dir, baseline,
                 save_baseline, as_json, backend, base_url, model, strict):
    """Measure retrieval, answers, citations, abstention and calibration on a gold question set.

    With --llm, also how many LLM sentences verification removed and how many it kept unbacked.
    """
    from .evaluation.report import compare, load_baseline, save_baseline_file, summary_rows, write_report
    from .evaluation.sets import prepare_questions
    from .evaluation.summary import build_report

    settings = _with_llm(_settings(), backend, base_url, model, strict)
    # Fail before the evaluation runs, not after: a long run whose report cannot be written is lost.
    checked_baseline = load_baseline(baseline) if baseline is not None else None
    _check_writable_folder(out_dir, "--out")
    if save_baseline is not None:
        _check_writable_folder(save_baseline.parent, "--save-baseline")
    with tempfile.TemporaryDirectory(prefix="pdqa-eval-") as scratch:
        plan = prepare_questions(settings, gold_path=gold_path, squad_path=squad_path, split=split,
                                 split_file=split_file, documents_dir=documents_dir, per_document=per_document,
                                 sample=sample, scratch=Path(scratch))
        run = _run_with_progress(plan)
    report = build_report(run)
    written = write_report(report, out_dir)
    if as_json:
        click.echo(json.dumps({k: v.model_dump() for k, v in report.summary.items()}, indent=2))
    else:
        _print_summary(summary_rows(report), run)
        click.echo(f"Wrote {', '.join(p.name for p in written)} to {out_dir.resolve()}")
    if save_baseline:
        save_baseline_file(report, save_baseline)
        click.echo(f"Saved baseline to {save_baseline}", err=True)
    if checked_baseline is not None:
        _gate(compare(report, checked_baseline), baseline)


@cli.command("calibrate")
@click.option("--gold", "gold_path", type=click.Path(path_type=Path),
              help="Gold JSONL file of questions about the corpus: the bundled report's (default) or a report "
              "question set (rows with a `doc`).")
@click.option("--split", help="Which questions to fit on: default dev (bundled report) or validation (report set). "
              "Keep the test questions out, to measure the calibration on afterwards.")
@click.option("--split-file", type=click.Path(path_type=Path, dir_okay=False),
              help="The split of a report set (default: split.json beside the gold file).")
@_documents_option
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the calibration (default: pdqa-calibration.json in the corpus folder, where pdqa finds it).")
def calibrate_command(gold_path, split, split_file, documents_dir, out_path):
    """Fit the corpus's own confidence scaling and abstention threshold on questions labelled for it.

    Runs the questions with the answer model's own confidence, fits a Platt scaling of it and the
    threshold that answers them best, and writes both where pdqa reads them for this corpus.
    """
    from .answer_model import load_answer_model, model_sha256
    from .calibration import CALIBRATION_FILE, write_calibration
    from .evaluation.calibrate import fit_calibration
    from .evaluation.reportgold import is_report_gold
    from .evaluation.sets import prepare_questions

    settings = _settings()
    report_set = gold_path is not None and is_report_gold(gold_path)
    split = split or (None if report_set else "dev")
    if out_path is None:
        out_path = Path(documents_dir if report_set and documents_dir is not None else settings.corpus.dir) / CALIBRATION_FILE
    _check_writable_folder(out_path.parent, "--out")
    # The answer model's own confidence is what is rescaled, whatever calibration is set.
    raw = settings.changed(answer={"calibration": "none"})
    with tempfile.TemporaryDirectory(prefix="pdqa-calibrate-") as scratch:
        plan = prepare_questions(raw, gold_path=gold_path, split=split, split_file=split_file,
                                 documents_dir=documents_dir, scratch=Path(scratch))
        run = _run_with_progress(plan)
    results = run.questions
    calibration = fit_calibration([r.sweep_confidence for r in results], [r.sweep_correct for r in results],
                                  [r.answerable for r in results], model_sha256(), load_answer_model().min_confidence,
                                  run.gold, run.split)
    write_calibration(calibration, out_path)
    before, after = calibration.before, calibration.after
    click.echo(f"Fitted on {calibration.questions} questions ({run.gold}, split {run.split}; {calibration.answerable} "
               f"answerable), figures on those same questions: overall accuracy {before.overall_accuracy:.3f} at the "
               f"model's threshold {before.threshold:.3f}, {after.overall_accuracy:.3f} at the fitted one "
               f"{after.threshold:.3f}; ECE {before.ece:.3f} -> {after.ece:.3f}.")
    click.echo(f"Wrote {out_path}; measure it on questions it was not fitted on (pdqa eval --split test).")


def _check_writable_folder(folder: Path, option: str) -> None:
    """Create ``folder`` if needed and make sure a file can be written in it."""
    if folder.exists() and not folder.is_dir():
        raise click.ClickException(f"{option} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot write to {option} folder {folder}: {exc.strerror}") from exc


def _run_with_progress(plan):
    from rich.progress import Progress

    from .evaluation.runner import run_plan
    from .render import make_console

    with Progress(console=make_console(stderr=True), transient=True) as bar, _fallback_warnings(), _progress() as build:
        task = bar.add_task(f"evaluating {plan.size} questions", total=plan.size)
        return run_plan(plan, progress=lambda done, _: bar.update(task, completed=done), build_progress=build,
                        notice=lambda line: click.echo(line, err=True))


def _print_summary(rows, run) -> None:
    from rich.table import Table

    from .render import make_console

    table = Table(title=f"pdqa eval: {run.gold}, split {run.split}, {len(run.questions)} questions, {run.elapsed_s:.1f} s")
    table.add_column("metric")
    table.add_column("value (successes/n) [Wilson 95%]")
    for name, value in rows:
        table.add_row(name, value)
    make_console().print(table)


def _gate(problems: list[str], baseline: Path) -> None:
    if problems:
        for problem in problems:
            click.echo(f"REGRESSION: {problem}", err=True)
        raise click.ClickException(f"evaluation fell below {baseline}")
    click.echo(f"No regression against {baseline}.", err=True)


@cli.group()
def train():
    """Train pdqa's models (needs the train extra: pip install 'pdqa[train]')."""


@train.command("answerer")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="Folder holding squad2/ and reports/ (the validation documents the answer stage is fitted on).")
@click.option("--report-set", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="Folder holding the report question set: gold.jsonl and split.json.")
@click.option("--injection", "injection_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="Folder holding train.jsonl and test.jsonl: sentences that give orders to a model, and ones that do not.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to write model.json and MODEL_CARD.md (default: the package's answerer/ folder).")
def train_answerer_command(data_dir, report_set, injection_dir, out_dir):
    """Fit the answer stage on the reader's scores: answerability, calibration, composition, injection check (seeded)."""
    from .answer_model import MODEL_PATH

    _require_training_extra()
    from .answer_training import train_answer_stage

    out = out_dir or MODEL_PATH.parent
    model = train_answer_stage(data_dir, report_set, injection_dir, out, _settings(),
                               progress=lambda line: click.echo(line, err=True))
    click.echo(f"Wrote {out / 'model.json'} and {out / 'MODEL_CARD.md'}; threshold {model.min_confidence}; "
               + "; ".join(f"{d}: overall {f['overall_accuracy']}" for d, f in model.trained["figures"].items()))


@train.command("reader")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="Folder holding squad2/, boolq/, pubmedqa/, snli/, fever/ and reports/ (the training data).")
@click.option("--report-set", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="Folder holding the report question set: gold.jsonl, split.json and llm_replies/.")
@click.option("--steps", type=click.IntRange(1), default=2400, show_default=True,
              help="Training steps of 32 pairs (about 1.5 CPU-seconds each at 96 tokens, measured on a 2-core machine; "
                   "the default reads every pair about twice).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to write model.onnx, tokenizer.json and config.json (default: the package's reader_model/).")
@click.option("--work", "work_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Scratch folder for the training indexes; kept and reused when given (default: a temporary one).")
@click.option("--limit", type=click.IntRange(1), help="At most this many questions per data set (a quick trial run).")
@click.option("--listwise", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Weight of a listwise term in the answer head's loss (softmax over each question's candidates); "
                   "0 trains the shipped pointwise objective.")
def train_reader_command(data_dir, report_set, steps, out_dir, work_dir, limit, listwise):
    """Train the reader (answer and support heads) on SQuAD, the report set, BoolQ, PubMedQA, SNLI and FEVER (seeded)."""
    from .reader import READER_DIR

    _require_training_extra("torch")
    from .reader_training import Sources, train_reader

    sources = Sources(
        squad_dir=data_dir / "squad2", boolq=data_dir / "boolq" / "dev.jsonl", pubmedqa=data_dir / "pubmedqa" / "ori_pqal.json",
        snli=data_dir / "snli", fever=data_dir / "fever", reports_dir=data_dir / "reports",
        report_gold=report_set / "gold.jsonl", report_split=report_set / "split.json",
        replies_train=sorted((report_set / "llm_replies").glob("train-*.jsonl")),
        replies_validation=report_set / "llm_replies" / "validation.jsonl",
        squad_split=_bundled("squad_split.json"),
    )
    missing = [str(path) for path in (sources.squad_dir, sources.boolq, sources.pubmedqa, sources.snli, sources.fever,
                                      sources.reports_dir, sources.report_gold, sources.replies_validation) if not path.exists()]
    if missing:
        raise click.ClickException(f"missing training data: {missing[0]}")
    out = out_dir or READER_DIR
    with tempfile.TemporaryDirectory(prefix="pdqa-train-") as scratch:
        record = train_reader(sources, out, work_dir or Path(scratch), steps, limit=limit, listwise=listwise,
                              progress=lambda line: click.echo(line, err=True))
    last = record["trained"]["learning_curve"][-1]
    click.echo(f"Wrote {out / 'model.onnx'}; validation: " + ", ".join(f"{k} {v}" for k, v in last.items()))


@train.command("support")
@click.option("--report-set", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="Folder holding the report question set's llm_replies/ (the support model is fitted on validation.jsonl).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to write support.json (default: the package's verifier_model/ folder).")
def train_support_command(report_set, out_dir):
    """Fit the support check on the hand-written validation replies: the reader's support head and word measures (deterministic)."""
    from .support import MODEL_PATH

    _require_training_extra()
    from .support_training import train_support

    validation = report_set / "llm_replies" / "validation.jsonl"
    if not validation.exists():
        raise click.ClickException(f"missing replies: {validation}")
    out = out_dir or MODEL_PATH.parent
    model = train_support(validation, out, progress=lambda line: click.echo(line, err=True))
    click.echo(f"Wrote {out / 'support.json'}; features {model.model.features}; cross-fitted validation AUC "
               f"{model.trained['cross_fitted_auc']} (support head alone {model.trained['cross_fitted_auc_head_only']})")


def _bundled(name: str) -> Path:
    from .evaluation.sets import bundled_file

    return bundled_file(name)


def _require_training_extra(module: str = "sklearn") -> None:
    from importlib.util import find_spec

    if find_spec(module) is None:
        raise click.ClickException(f"training needs {module}: pip install 'pdqa[train]' (after torch==2.13.0)")


# ---------------------------------------------------------------- serve and mcp (the server extra)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --token-env.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--corpus", "serve_corpus", type=click.Path(path_type=Path), metavar="DIR",
              help="Serve this folder of documents (as pdqa --corpus DIR).")
@click.option("--token-env", metavar="NAME",
              help="Require 'Authorization: Bearer <token>', the token read from the environment variable NAME.")
@click.option("--mcp", "with_mcp", is_flag=True, help="Also serve MCP (streamable HTTP) at /mcp.")
@click.option("--stale", type=click.Choice(["use", "refuse"]), default="use", show_default=True,
              help="A stale index: answer from it as it is, or refuse with 409 until `pdqa index build`.")
@click.option("--rate-limit", type=click.IntRange(1), metavar="N", help="At most N requests a minute per client address.")
@click.option("--max-body", type=click.IntRange(1024), metavar="BYTES", help="Largest request body (default 65536).")
def serve(host, port, serve_corpus, token_env, with_mcp, stale, rate_limit, max_body):
    """Answer over HTTP: the JSON API at /v1, a web page at /, API reference at /docs.

    Never builds the index: run `pdqa index build` (in any shell, at any time); a new build is
    picked up at the next request. Needs the server extra: pip install 'pdqa[server]'.
    """
    from .server.launch import serve as run_server

    run_server(_settings(serve_corpus), host=host, port=port, token_env=token_env, mcp=with_mcp,
               on_stale="raise" if stale == "refuse" else "use", rate_limit=rate_limit, max_body=max_body,
               echo=lambda line: click.echo(line, err=True))


@cli.command("mcp")
@click.option("--stale", type=click.Choice(["use", "refuse"]), default="use", show_default=True,
              help="A stale index: answer from it as it is, or refuse until `pdqa index build`.")
def mcp_command(stale):
    """Serve pdqa's tools (ask, retrieve, list_documents, get_passage) to an MCP client over stdio.

    Needs the server extra: pip install 'pdqa[server]'.
    """
    from .server.launch import run_mcp_stdio

    run_mcp_stdio(_settings(), on_stale="raise" if stale == "refuse" else "use")


def main():
    """Entry point of the ``pdqa`` script."""
    cli(prog_name="pdqa")
