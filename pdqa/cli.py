"""The ``pdqa`` command: a thin layer over the library. Heavy modules load inside commands."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import click

from . import __version__
from .errors import CorpusError, PdqaError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
    """Warnings (a skipped corpus file, …) as one 'Warning: ...' line, without the source line."""
    click.echo(f"Warning: {message}", err=True)


def _fail(message: str, code: int):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pdqa")
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Answer over this folder of documents (default: PDQA_CORPUS_DIR, else the bundled "
              "report); each folder gets its own index.")
def cli(corpus_dir):
    """pdqa: cited answers about the Innovation in Action review, offline.

    Every answer sentence carries [n] markers that resolve to an exact quote of the corpus.
    Settings come from PDQA_* environment variables (see the README).
    """


def _settings():
    from .settings import Settings

    corpus_dir = click.get_current_context().find_root().params.get("corpus_dir")
    # A bad PDQA_* variable raises InvalidSetting, a one-line PdqaError.
    return Settings(**({"corpus_dir": corpus_dir} if corpus_dir is not None else {}))


def _open_qa(settings, llm=None):
    """QA over the index, building it first (with a progress bar) if it is missing or stale."""
    from .index import index_status
    from .qa import QA

    status = index_status(settings)
    if not status.stale:
        # Compared with the corpus just now: comparing again hashes every corpus file twice.
        return QA(settings, llm=llm, allow_stale=True)
    why = "; ".join(status.reasons)
    state = "is stale" if status.built else "cannot be used"
    click.echo(f"Index {state} ({why}); building it now.", err=True)
    try:
        with _progress() as report:
            return QA(settings, rebuild=True, progress=report, llm=llm)
    except CorpusError as exc:
        if not status.built:
            raise
        # One bad corpus file must not block every question: the previous index is intact.
        click.echo(f"Warning: {exc}; answering from the index built {status.manifest.built_at}.", err=True)
        return QA(settings, llm=llm, allow_stale=True)


def _llm_options(command):
    """--llm, --base-url, --model and --strict: override the PDQA_LLM__* settings."""
    options = [
        click.option("--llm", "backend", type=click.Choice(["none", "openai-like", "ollama", "llama-cpp"]),
                     help="LLM that writes the answer (default: PDQA_LLM__BACKEND, else none: extractive)."),
        click.option("--base-url", help="LLM server root, e.g. http://127.0.0.1:8080/v1."),
        click.option("--model", help="Model name the LLM server knows."),
        click.option("--strict", is_flag=True, default=None,
                     help="Fail when the LLM cannot be reached instead of answering extractively."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _with_llm(settings, backend, base_url, model, strict):
    """Settings with the LLM flags that were given laid over PDQA_LLM__*."""
    flags = {"backend": backend, "base_url": base_url, "model": model, "strict": strict}
    given = {name: value for name, value in flags.items() if value is not None}
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=given)})


def _llm_of(settings):
    """The LLM a test injected through ``cli(obj={"llm_factory": ...})``; None lets QA build it."""
    factory = (click.get_current_context().find_root().obj or {}).get("llm_factory")
    if factory is None or settings.llm.backend == "none":
        return None
    return factory(settings.llm)


class _fallback_warnings:
    """Turns the LLM fallback warning into one 'Warning: ...' line on stderr."""

    def __enter__(self):
        import warnings

        from .errors import LLMFallbackWarning

        self.catcher = warnings.catch_warnings(record=True)
        self.caught = self.catcher.__enter__()
        warnings.simplefilter("always", LLMFallbackWarning)

    def __exit__(self, *exc_info):
        self.catcher.__exit__(*exc_info)
        for warning in self.caught:
            click.echo(f"Warning: {warning.message}", err=True)


class _progress:
    """A rich progress bar on stderr for index builds."""

    def __enter__(self):
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
        return self.report

    def report(self, step: str, number: int, total: int) -> None:
        self.bar.update(self.task, description=step, completed=number - 1, total=total)

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.bar.update(self.task, description="done", completed=self.bar.tasks[0].total)
        else:  # the bar must not say "done" right before the error that stopped the build
            self.bar.update(self.task, description="interrupted" if exc_type is KeyboardInterrupt else "failed")
        self.bar.stop()


def _question(words: tuple[str, ...]) -> str:
    return " ".join(words)


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the Answer model as JSON.")
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Passages to retrieve (default 5).")
@click.option("--show-hits", is_flag=True, help="Also print the retrieved passages with scores.")
@click.option("--show-removed", is_flag=True, help="Also print the LLM sentences verification removed, and why.")
@click.option("--min-confidence", type=click.FloatRange(0, 1),
              help="Abstain below this calibrated confidence (default: PDQA_MIN_CONFIDENCE, else the model's).")
@click.option("--stream", is_flag=True,
              help="With --llm: print each sentence as soon as it is verified, then the sources.")
@_llm_options
def ask(question, as_json, top_k, show_hits, show_removed, min_confidence, stream, backend, base_url, model, strict):
    """Answer QUESTION with cited quotes, or say the report does not say.

    With --llm, a language model writes the answer and every sentence is checked against the
    passage it cites; unsupported sentences are removed. QUESTION "-" reads one question per
    line from standard input (with --json: one Answer per output line, JSON Lines). With
    --stream, each verified sentence is printed as soon as the model has written it.
    """
    from .render import make_console, print_answer, print_sentence

    settings = _with_llm(_settings(), backend, base_url, model, strict)
    if min_confidence is not None:
        settings = settings.model_copy(update={"min_confidence": min_confidence})
    questions = _stdin_questions() if question == ("-",) else [_question(question)]
    qa = _open_qa(settings, _llm_of(settings))
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
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Hits to return (default 5).")
def retrieve(question, as_json, top_k):
    """Show the passages ranked for QUESTION, with fused, dense and BM25 scores."""
    from .render import make_console, print_hits

    hits = _open_qa(_settings()).retrieve(_question(question), k=top_k)
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
    from .index import build_index, index_status

    settings = _settings()
    status = index_status(settings)
    if not status.stale and not force:
        click.echo(f"Index at {status.path} is up to date (use --force to rebuild).")
        return
    with _progress() as report:
        manifest = build_index(settings, report, reuse_vectors=not force)
    click.echo(
        f"Built index at {settings.index_dir}: {manifest.chunk_count} chunks, "
        f"{manifest.unit_count} sentences/lists from {len(manifest.corpus_files)} file(s)."
    )


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--verify", is_flag=True, help="Hash every index file, the 90 MB encoder too (slower).")
def index_status_command(as_json, verify):
    """Say whether the index is built, intact and fresh, and if not, why. Exits 1 when it is not.

    Every load checks the size of each index file and the hash of the chunk stores; --verify
    also hashes the vectors and the encoder.
    """
    from .index import describe, index_status

    status = index_status(_settings(), verify=verify)
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
    sys.exit(1 if status.stale else 0)


@cli.group()
def corpus():
    """List, add and remove the corpus documents."""


@corpus.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the documents as a JSON list.")
def corpus_list(as_json):
    """List the documents with their title, file, format, pages, sha256 and number of chunks."""
    from .corpus import list_documents
    from .settings import PROJECT_ROOT

    settings = _settings()
    rows = list_documents(settings.corpus_dir, settings.chunk_max_chars, PROJECT_ROOT)
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
    from .settings import BUNDLED_CORPUS_DIR

    settings = _settings()
    if settings.corpus_dir.resolve() == BUNDLED_CORPUS_DIR.resolve():
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


@cli.command("eval")
@click.option("--gold", "gold_path", type=click.Path(path_type=Path), help="Gold JSONL file (default eval/gold.jsonl).")
@click.option("--squad", "squad_path", type=click.Path(path_type=Path), help="Evaluate on a SQuAD 2.0 JSON file instead, in a temporary index.")
@click.option("--split", type=click.Choice(["dev", "test", "validation", "train", "all"]), default="all", show_default=True,
              help="Which questions to ask: gold dev/test, or with --squad the validation/train articles of eval/squad_split.json.")
@click.option("--sample", type=click.IntRange(1), help="Ask a fixed random sample of this many questions (seeded).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("eval/out"), show_default="eval/out under the current folder", help="Folder for report.json, report.md and the plots.")
@click.option("--compare", "baseline", type=click.Path(path_type=Path), help="Fail (exit 1) if a headline metric fell against this baseline.")
@click.option("--save-baseline", type=click.Path(path_type=Path), help="Write this run's headline figures as a new baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary metrics as JSON.")
@_llm_options
def eval_command(gold_path, squad_path, split, sample, out_dir, baseline, save_baseline, as_json, backend, base_url, model, strict):
    """Measure retrieval, answers, citations and abstention on a gold question set.

    With --llm, also how many LLM sentences verification removed and how many it kept unbacked.
    """
    from .evaluation.report import baseline_of, compare, summary_rows, write_report
    from .evaluation.summary import build_report

    settings = _with_llm(_settings(), backend, base_url, model, strict)
    if baseline is not None and not baseline.is_file():
        raise click.ClickException(f"baseline file not found: {baseline}")
    # Fail before the evaluation runs, not after: a long run whose report cannot be written is lost.
    _check_writable_folder(out_dir, "--out")
    if save_baseline is not None:
        _check_writable_folder(save_baseline.parent, "--save-baseline")
    with tempfile.TemporaryDirectory(prefix="pdqa-eval-") as scratch:
        qa, questions, name = _eval_inputs(settings, gold_path, squad_path, split, Path(scratch))
        if sample is not None and sample < len(questions):
            questions = _sample(questions, sample)
        run = _run_with_progress(qa, questions, name, split)
    report = build_report(run)
    written = write_report(report, out_dir)
    if as_json:
        click.echo(json.dumps({k: v.model_dump() for k, v in report.summary.items()}, indent=2))
    else:
        _print_summary(summary_rows(report), run)
        click.echo(f"Wrote {', '.join(p.name for p in written)} to {out_dir.resolve()}")
    if save_baseline:
        save_baseline.write_text(json.dumps(baseline_of(report), indent=2) + "\n", encoding="utf-8")
        click.echo(f"Saved baseline to {save_baseline}", err=True)
    if baseline is not None:
        _gate(compare(report, baseline), baseline)


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


def _sample(questions, size: int):
    import random

    # A fixed seed: the same file and size always give the same questions, so runs compare.
    chosen = sorted(random.Random(0).sample(range(len(questions)), size))
    return [questions[i] for i in chosen]


def _eval_inputs(settings, gold_path, squad_path, split, scratch: Path):
    from .evaluation.gold import load_gold, squad_articles, squad_to_corpus
    from .settings import PROJECT_ROOT

    if squad_path is not None:
        if split in ("dev", "test"):
            raise click.ClickException("with --squad, --split is validation, train or all")
        articles = squad_articles(squad_path, split)
        questions = squad_to_corpus(squad_path, scratch / "corpus", articles)
        temporary = settings.model_copy(update={"corpus_dir": scratch / "corpus", "index_dir": scratch / "index"})
        return _open_qa(temporary, _llm_of(temporary)), questions, squad_path.name
    if split in ("validation", "train"):
        raise click.ClickException("--split validation/train selects SQuAD articles: use it with --squad FILE")
    gold = gold_path or PROJECT_ROOT / "eval" / "gold.jsonl"
    questions = load_gold(gold, split)
    if not questions:
        raise click.ClickException(f"no {split} questions in {gold}")
    return _open_qa(settings, _llm_of(settings)), questions, gold.name


def _run_with_progress(qa, questions, name, split):
    from rich.progress import Progress

    from .evaluation.runner import run_eval
    from .render import make_console

    with Progress(console=make_console(stderr=True), transient=True) as bar, _fallback_warnings():
        task = bar.add_task(f"evaluating {len(questions)} questions", total=len(questions))
        return run_eval(qa, questions, name, split, progress=lambda done, _: bar.update(task, completed=done))


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
@click.option("--shared", "shared_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder holding data/squad2 (default: ../shared beside the pdqa checkout).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to write model.json and MODEL_CARD.md (default: the package's answerer/ folder).")
@click.option("--work", "work_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Scratch folder for the SQuAD indexes; kept and reused when given (default: a temporary one).")
def train_answerer_command(shared_dir, out_dir, work_dir):
    """Train the answer selector and abstention model on the SQuAD 2.0 slices (seeded)."""
    from .answer_model import MODEL_PATH
    from .settings import PROJECT_ROOT

    _require_training_extra()
    from .training import train_answerer

    shared = shared_dir or PROJECT_ROOT.parent / "shared"
    if not (shared / "data" / "squad2").is_dir():
        raise click.ClickException(f"no data/squad2 folder in {shared} (pass --shared DIR)")
    out = out_dir or MODEL_PATH.parent
    with tempfile.TemporaryDirectory(prefix="pdqa-train-") as scratch:
        model = train_answerer(shared / "data" / "squad2", out, work_dir or Path(scratch),
                               progress=lambda line: click.echo(line, err=True))
    figures = model.trained.get("figures", {})
    click.echo(f"Wrote {out / 'model.json'} and {out / 'MODEL_CARD.md'}; validation: "
               + ", ".join(f"{k} {v}" for k, v in figures.items() if k in ("overall_accuracy", "answer_correctness", "noans_accuracy")))


def _require_training_extra() -> None:
    from importlib.util import find_spec

    if find_spec("sklearn") is None:
        raise click.ClickException("training needs scikit-learn: pip install 'pdqa[train]'")


def main():
    """Entry point of the ``pdqa`` script."""
    cli(prog_name="pdqa")
