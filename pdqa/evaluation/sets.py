"""Which questions an evaluation asks, over which corpus: the bundled report's gold set, a report
question set over a folder of real documents, or a SQuAD 2.0 file.

A report set's documents are gathered into a corpus folder of their own (linked, or copied) in the
per-user cache, one per set of documents, so its index is built once and reused by later runs;
every document is checked against the sha256 its questions were written from.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..calibration import CALIBRATION_FILE
from ..corpus import file_sha256
from ..errors import PdqaError
from ..settings import PACKAGE_DIR, Settings, bundled_corpus_dir, default_index_dir
from .gold import GoldError, GoldQuestion, is_bundled_gold, load_gold, squad_articles, squad_to_corpus
from .reportgold import SPLITS, ReportQuestion, is_report_gold, load_report_gold, load_split

SAMPLE_SEED = 0
DEFAULT_REPORT_SPLIT = "validation"


class EvalSetError(PdqaError):
    """The questions, their split or their documents do not fit together."""

    hint = "See `pdqa eval --help`: --gold FILE, --split, --corpus DIR for a report set."


@dataclass
class EvalCorpus:
    """One corpus and the questions asked over it."""

    settings: Settings
    questions: list[GoldQuestion]


@dataclass
class EvalPlan:
    """What an evaluation run asks: its name, split and corpora with their questions."""

    gold: str
    split: str
    corpora: list[EvalCorpus]

    @property
    def size(self) -> int:
        return sum(len(c.questions) for c in self.corpora)


def bundled_file(name: str) -> Path:
    """An evaluation file shipped with pdqa: inside an installed package, else the checkout's eval/."""
    packaged = PACKAGE_DIR / "bundled_eval" / name
    return packaged if packaged.is_file() else PACKAGE_DIR.parent / "eval" / name


def prepare_questions(
    settings: Settings,
    *,
    gold_path: Path | None = None,
    squad_path: Path | None = None,
    split: str | None = None,
    split_file: Path | None = None,
    documents_dir: Path | None = None,
    per_document: bool = False,
    sample: int | None = None,
    scratch: Path,
) -> EvalPlan:
    """The corpora and questions of one evaluation.

    Raises:
        EvalSetError, GoldError: The options do not fit the question set, or a document is
            missing or differs from the one the questions were written from.
    """
    if squad_path is not None:
        return _squad_plan(settings, squad_path, split or "all", split_file, sample, scratch)
    if gold_path is not None and is_report_gold(gold_path):
        return _report_plan(settings, gold_path, split or DEFAULT_REPORT_SPLIT, split_file, documents_dir,
                            per_document, sample)
    return _bundled_plan(settings, gold_path, split or "all", sample)


def _sampled(questions: list, size: int | None) -> list:
    if size is None or size >= len(questions):
        return questions
    # A fixed seed: the same file and size always give the same questions, so runs compare.
    chosen = sorted(random.Random(SAMPLE_SEED).sample(range(len(questions)), size))
    return [questions[i] for i in chosen]


def _bundled_plan(settings: Settings, gold_path: Path | None, split: str, sample: int | None) -> EvalPlan:
    if split not in ("dev", "test", "all"):
        raise EvalSetError(f"--split {split} is not a split of the bundled report's gold set (dev, test or all)")
    if gold_path is None:
        if not _holds_the_bundled_report(Path(settings.corpus_dir)):
            raise EvalSetError("the bundled gold set is about the bundled report, not this corpus: pass --gold FILE")
        gold_path = bundled_file("gold.jsonl")
    elif not is_bundled_gold(gold_path):
        raise GoldError(f"{gold_path} holds neither bundled-report questions nor report-set questions")
    questions = load_gold(gold_path, split)
    if not questions:
        raise EvalSetError(f"no {split} questions in {gold_path}")
    return EvalPlan(gold_path.name, split, [EvalCorpus(settings, _sampled(questions, sample))])


def _holds_the_bundled_report(corpus_dir: Path) -> bool:
    """Whether the corpus folder holds the bundled report's files, byte for byte (the folder or a copy)."""
    # The report and its metadata; the corpus's calibration file is a setting, not the report.
    bundled = [path for path in bundled_corpus_dir().iterdir() if path.is_file() and path.name != CALIBRATION_FILE]
    return all((corpus_dir / path.name).is_file() and (corpus_dir / path.name).read_bytes() == path.read_bytes()
               for path in bundled)


def _squad_plan(settings, squad_path: Path, split: str, split_file: Path | None, sample, scratch: Path) -> EvalPlan:
    if split not in ("validation", "train", "all"):
        raise EvalSetError("with --squad, --split is validation, train or all")
    articles = squad_articles(squad_path, split, split_file or bundled_file("squad_split.json"))
    questions = squad_to_corpus(squad_path, scratch / "corpus", articles, split if split != "all" else "test")
    temporary = settings.changed(corpus={"dir": scratch / "corpus"}, index={"dir": scratch / "index"})
    return EvalPlan(squad_path.name, split, [EvalCorpus(temporary, _sampled(questions, sample))])


def _report_plan(settings, gold_path: Path, split: str, split_file: Path | None, documents_dir: Path | None,
                 per_document: bool, sample: int | None) -> EvalPlan:
    if split not in (*SPLITS, "all"):
        raise EvalSetError(f"--split {split} is not a split of a report set ({', '.join(SPLITS)} or all)")
    if documents_dir is None:
        raise EvalSetError("a report set is read from its documents: pass --corpus DIR (the folder holding them)")
    splits = load_split(split_file or gold_path.parent / "split.json")
    # "all" is what development may look at: train and validation. The test split is asked for by name.
    chosen = set(splits["train"] + splits["validation"]) if split == "all" else set(splits[split])
    rows = [row for row in load_report_gold(gold_path) if row.doc in chosen]
    if not rows:
        raise EvalSetError(f"no {split} questions in {gold_path}")
    split_of = {doc: name for name, docs in splits.items() for doc in docs}
    rows = _sampled(rows, sample)
    files = _checked_documents(documents_dir, rows)
    if per_document:
        corpora = [_report_corpus(settings, gold_path.stem, {doc: files[doc]}, [r for r in rows if r.doc == doc], split_of)
                   for doc in sorted(files)]
    else:
        corpora = [_report_corpus(settings, gold_path.stem, files, rows, split_of)]
    return EvalPlan(gold_path.name, split, corpora)


def _checked_documents(documents_dir: Path, rows: list[ReportQuestion]) -> dict[str, Path]:
    """Each document the rows name, checked against the sha256 its questions were written from."""
    files, expected = {}, {row.doc: row.doc_sha256 for row in rows}
    for doc, sha256 in sorted(expected.items()):
        path = documents_dir / doc
        if not path.is_file():
            raise EvalSetError(f"document {doc} is not in {documents_dir}")
        if file_sha256(path) != sha256:
            raise EvalSetError(f"{path} is not the document the questions were written from (sha256 differs)")
        files[doc] = path
    return files


def _report_corpus(settings: Settings, name: str, files: dict[str, Path], rows, split_of) -> EvalCorpus:
    """The documents in a corpus folder of their own (kept between runs, so is its index)."""
    from platformdirs import user_cache_path

    key = hashlib.sha256("\n".join(f"{doc}:{file_sha256(p)}" for doc, p in sorted(files.items())).encode()).hexdigest()[:12]
    folder = user_cache_path("pdqa", appauthor=False) / "eval-corpora" / f"{name}-{len(files)}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    for doc, source in files.items():
        target = folder / doc
        if not target.exists():
            _link_or_copy(source, target)
    questions = [row.as_gold(split_of.get(row.doc, "")) for row in rows]
    # Its own index, even where PDQA_INDEX__DIR names the index of another corpus.
    return EvalCorpus(settings.changed(corpus={"dir": folder}, index={"dir": default_index_dir(folder)}), questions)


def _link_or_copy(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
