"""Corpus stage: read the text files and their metadata into documents with character ranges.

Convention: every ``.txt`` or ``.md`` file in the corpus folder is read byte-for-byte as UTF-8.
An optional ``<stem>.meta.json`` beside it describes the file; it may split the file into
several documents, each starting at the first occurrence of its ``starts_with`` text::

    {"source": "...", "documents": [
        {"doc_id": "report", "title": "...", "authors": ["..."], "starts_with": "Title line"},
        {"doc_id": "notice", "title": "...", "starts_with": "Second heading"}]}

Without metadata a file is one document whose id is the file stem and whose title is its
first non-empty line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import CorpusError
from .models import DocumentInfo

TEXT_SUFFIXES = (".txt", ".md")


class _PartMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_id: str
    title: str
    authors: list[str] = []
    starts_with: str | None = None


class _FileMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = ""
    documents: list[_PartMeta] = []


@dataclass(frozen=True)
class CorpusFile:
    """One stored corpus file: its path relative to the corpus folder, text and hash."""

    path: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Corpus:
    """All corpus files and the documents they hold."""

    root: Path
    files: list[CorpusFile]
    documents: list[DocumentInfo]

    def text_of(self, path: str) -> str:
        """Return the full text of the corpus file at ``path`` (relative to the corpus root)."""
        for corpus_file in self.files:
            if corpus_file.path == path:
                return corpus_file.text
        raise CorpusError(f"no corpus file {path!r}")


def corpus_file_paths(corpus_dir: Path) -> list[Path]:
    """List the corpus text files in a stable order, or raise CorpusError when there are none."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    paths = sorted(p for p in corpus_dir.iterdir() if p.is_file() and p.suffix in TEXT_SUFFIXES)
    if not paths:
        raise CorpusError(f"no .txt or .md files in corpus folder {corpus_dir}")
    return paths


def file_sha256(path: Path) -> str:
    """Hash a file in blocks, so large model files do not have to fit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read every corpus file and split it into documents as its metadata says."""
    files, documents = [], []
    for path in corpus_file_paths(corpus_dir):
        corpus_file = _read_file(path, corpus_dir)
        files.append(corpus_file)
        documents.extend(_documents_of(corpus_file, _read_meta(path)))
    _check_unique_ids(documents)
    return Corpus(root=corpus_dir, files=files, documents=documents)


def _read_file(path: Path, corpus_dir: Path) -> CorpusFile:
    try:
        raw = path.read_bytes()
        # newline="" semantics: keep the text exactly as stored so offsets stay valid.
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read corpus file {path}: {exc}") from exc
    if not text.strip():
        raise CorpusError(f"corpus file {path} is empty")
    return CorpusFile(
        path=path.relative_to(corpus_dir).as_posix(),
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _read_meta(path: Path) -> _FileMeta | None:
    meta_path = path.with_name(path.stem + ".meta.json")
    if not meta_path.exists():
        return None
    try:
        return _FileMeta.model_validate(json.loads(meta_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        first_line = str(exc).splitlines()[0]
        raise CorpusError(f"bad metadata file {meta_path.name}: {first_line}") from exc


def _documents_of(corpus_file: CorpusFile, meta: _FileMeta | None) -> list[DocumentInfo]:
    if meta is None or not meta.documents:
        title = next(line.strip("# \t") for line in corpus_file.text.splitlines() if line.strip())
        part = _PartMeta(doc_id=Path(corpus_file.path).stem, title=title)
        return [_document(corpus_file, part, 0, len(corpus_file.text), meta)]
    starts = [_part_start(corpus_file, part) for part in meta.documents]
    if starts != sorted(starts) or starts[0] != _first_text_offset(corpus_file.text):
        raise CorpusError(
            f"metadata of {corpus_file.path}: documents must be listed in file order, "
            "the first starting at the beginning of the file"
        )
    ends = starts[1:] + [len(corpus_file.text)]
    return [
        _document(corpus_file, part, start, end, meta)
        for part, start, end in zip(meta.documents, starts, ends)
    ]


def _document(corpus_file, part: _PartMeta, start: int, end: int, meta) -> DocumentInfo:
    return DocumentInfo(
        doc_id=part.doc_id,
        title=part.title,
        authors=part.authors,
        source=meta.source if meta else "",
        path=corpus_file.path,
        start=start,
        end=end,
    )


def _part_start(corpus_file: CorpusFile, part: _PartMeta) -> int:
    if part.starts_with is None:
        return _first_text_offset(corpus_file.text)
    start = corpus_file.text.find(part.starts_with)
    if start < 0:
        raise CorpusError(
            f"metadata of {corpus_file.path}: starts_with text of {part.doc_id!r} is not in the file"
        )
    return start


def _first_text_offset(text: str) -> int:
    return len(text) - len(text.lstrip())


def _check_unique_ids(documents: list[DocumentInfo]) -> None:
    seen: set[str] = set()
    for document in documents:
        if document.doc_id in seen:
            raise CorpusError(f"duplicate doc_id {document.doc_id!r} in corpus metadata")
        seen.add(document.doc_id)


def list_documents(corpus_dir: Path, max_chars: int, project_root: Path) -> list[dict]:
    """One row per document: doc_id, title, path (relative to the project), sha256, chunks."""
    from .chunking import chunk_corpus

    corpus = load_corpus(corpus_dir)
    chunks, _ = chunk_corpus(corpus, max_chars)
    hashes = {f.path: f.sha256 for f in corpus.files}
    return [
        {
            "doc_id": document.doc_id,
            "title": document.title,
            "path": _display_path(corpus_dir / document.path, project_root),
            "sha256": hashes[document.path],
            "chunks": sum(1 for chunk in chunks if chunk.doc_id == document.doc_id),
        }
        for document in corpus.documents
    ]


def _display_path(path: Path, project_root: Path) -> str:
    try:
        return path.resolve().relative_to(project_root).as_posix()
    except ValueError:
        return str(path.resolve())
