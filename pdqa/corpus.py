"""Corpus stage: read the document files and their metadata into documents with character ranges.

Convention: every ``.txt``, ``.md``, ``.pdf``, ``.html``/``.htm`` or ``.docx`` file in the corpus
folder is one corpus file; readers.py turns it into text (``.txt``/``.md`` byte-for-byte as UTF-8).
Offsets index that text, which the index stores beside itself. A PDF without a text layer is
skipped with a warning. An optional ``<stem>.meta.json`` beside a file describes it; it may split
the file into several documents, each starting at the first occurrence of its ``starts_with`` text::

    {"source": "...", "documents": [
        {"doc_id": "report", "title": "...", "authors": ["..."], "starts_with": "Title line"},
        {"doc_id": "notice", "title": "...", "starts_with": "Second heading"}]}

Without metadata a file is one document whose id is the file stem (the file name, when two
files share a stem) and whose title is the document's own (PDF, HTML, DOCX metadata) or its first
non-empty line. A file's metadata may also say what the corpus calls itself when it does not
answer (``"calls_itself": "the report"`` gives "The report does not say."); without that, pdqa
says "The documents do not say."
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import CorpusError, CorpusWarning
from .models import CorpusFileInfo, DocumentInfo
from .readers import FORMATS, Extracted, NoText, format_of, read_document
from .settings import CorpusSettings

TEXTS_DIR = "texts"
NOT_FOUND = "The documents do not say."


class _PartMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_id: str
    title: str
    authors: list[str] = []
    starts_with: str | None = None


class _FileMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = ""
    calls_itself: str = ""
    documents: list[_PartMeta] = []


@dataclass(frozen=True)
class CorpusFile:
    """One corpus file: its path relative to the corpus folder, the source file's hash and what
    its reader extracted (the text pdqa quotes, format, title, page starts)."""

    path: str
    sha256: str
    extracted: Extracted
    size: int
    mtime_ns: int

    @property
    def text(self) -> str:
        """The text offsets index and quotes are taken from."""
        return self.extracted.text

    @property
    def text_sha256(self) -> str:
        """Hash of the extracted text, as stored beside the index."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Corpus:
    """All corpus files, the documents they hold, the files skipped (no text to read), and what
    pdqa answers when the corpus does not say."""

    files: list[CorpusFile]
    documents: list[DocumentInfo]
    skipped: tuple[CorpusFileInfo, ...] = ()
    not_found: str = NOT_FOUND

    @cached_property
    def _file_by_path(self) -> dict[str, CorpusFile]:
        # Looked up once per chunk and unit: a scan of the file list would be quadratic.
        return {corpus_file.path: corpus_file for corpus_file in self.files}

    def file(self, path: str) -> CorpusFile:
        """The corpus file at ``path`` (relative to the corpus root)."""
        if path not in self._file_by_path:
            raise CorpusError(f"no corpus file {path!r}")
        return self._file_by_path[path]

    def text_of(self, path: str) -> str:
        """Return the full text of the corpus file at ``path`` (relative to the corpus root)."""
        if path not in self._file_by_path:
            raise CorpusError(f"no corpus file {path!r}")
        return self._file_by_path[path].text

    def file_infos(self) -> list[CorpusFileInfo]:
        """What the index manifest records of every corpus file, skipped ones included."""
        read = [
            CorpusFileInfo(path=f.path, sha256=f.sha256, text_sha256=f.text_sha256, format=f.extracted.format,
                           title=f.extracted.title, pages=f.extracted.pages,
                           page_map=list(f.extracted.page_map) or None,
                           page_labels=list(f.extracted.page_labels) or None,
                           regions=list(f.extracted.regions) or None, size=f.size, mtime_ns=f.mtime_ns)
            for f in self.files
        ]
        return sorted(read + list(self.skipped), key=lambda info: info.path)


def corpus_file_paths(corpus_dir: Path) -> list[Path]:
    """List the corpus document files in a stable order, or raise CorpusError when there are none."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    # Sorted by name, not by Path (whose comparisons cost 0.1 s per 10,000 files on every load);
    # scandir's entries know whether they are links without another stat.
    with os.scandir(corpus_dir) as entries:
        named = sorted((entry.name, entry.is_symlink()) for entry in entries
                       if entry.is_file() and format_of(Path(entry.name)) is not None)
    found = [(corpus_dir / name, is_link) for name, is_link in named]
    if not found:
        raise CorpusError(f"no documents ({', '.join(sorted(FORMATS))}) in corpus folder {corpus_dir}")
    root = corpus_dir.resolve()
    for path, is_link in found:
        # A file listed in the folder is inside it unless it is a link; resolving every file
        # cost 0.1 s per 1,000 files on each load (bench/scale.py's corpus).
        if is_link:
            _check_inside(path, corpus_dir, root)
    return [path for path, _ in found]


def _check_inside(path: Path, corpus_dir: Path, root: Path) -> None:
    """Refuse a file that links outside the corpus folder (``root`` resolved), unless it was added as a link.

    `pdqa corpus add --link` records the link's target as the ``source`` of its metadata; any
    other link out of the folder (``passwd.txt -> /etc/passwd``) is an error rather than a
    skipped file: skipping would silently drop a document from the answers, and indexing it
    would quote a file nobody put in the corpus.
    """
    resolved = path.resolve()
    if resolved.is_relative_to(root) or _linked_on_purpose(path, resolved):
        return
    raise CorpusError(
        f"corpus file {path.name} links to {resolved}, outside the corpus folder {corpus_dir}",
        hint="Copy the file into the corpus folder, or add it with `pdqa corpus add --link FILE`.",
    )


def _linked_on_purpose(path: Path, resolved: Path) -> bool:
    meta = _meta_path(path)
    try:
        source = json.loads(meta.read_text(encoding="utf-8")).get("source", "")
    except (OSError, ValueError, AttributeError):
        return False
    return bool(source) and Path(source).resolve() == resolved


def file_sha256(path: Path) -> str:
    """Hash a file in blocks, so large model files do not have to fit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_corpus(
    corpus_dir: Path,
    limits: CorpusSettings | None = None,
    known: Callable[[str, str], Extracted | None] | None = None,
) -> Corpus:
    """Read every corpus file and split it into documents as its metadata says.

    Args:
        corpus_dir: The corpus folder.
        limits: Bounds a reader keeps to (the ``corpus`` settings); default: their defaults.
        known: Given a file's relative path and sha256, what was extracted from those bytes
            before (an incremental build), or None to read the file.

    A file with no text (an empty file, a scan, a PDF without pages) is skipped with one warning
    naming it; the rest of the corpus is indexed.

    Raises:
        CorpusError: The folder is missing or empty, a file cannot be read, or metadata is wrong.
    """
    files, documents, skipped, metas = [], [], [], []
    paths = corpus_file_paths(corpus_dir)
    stems = Counter(path.stem for path in paths)
    for path in paths:
        relative = path.relative_to(corpus_dir).as_posix()
        try:
            corpus_file = _read_file(path, relative, limits, known)
        except NoText as exc:
            warnings.warn(f"skipped {exc}", CorpusWarning, stacklevel=2)
            stat = path.stat()
            skipped.append(CorpusFileInfo(path=relative, sha256=file_sha256(path), format=format_of(path),
                                          size=stat.st_size, mtime_ns=stat.st_mtime_ns))
            continue
        meta = _read_meta(path)
        files.append(corpus_file)
        metas.append(meta)
        # Two files of one stem (report.txt, report.md) are told apart by their whole names.
        own_id = path.stem if stems[path.stem] == 1 else path.name
        documents.extend(_documents_of(corpus_file, meta, own_id))
    if not files:
        raise CorpusError(f"no document with text in corpus folder {corpus_dir}")
    _check_unique_ids(documents)
    return Corpus(files=files, documents=documents, skipped=tuple(skipped), not_found=_not_found(metas))


def _not_found(metas: list[_FileMeta | None]) -> str:
    """'The report does not say.' when every file's metadata calls the corpus 'the report'."""
    names = {meta.calls_itself.strip() if meta else "" for meta in metas}
    if len(names) == 1 and (name := names.pop()):
        return f"{name[0].upper()}{name[1:]} does not say."
    return NOT_FOUND


def metadata_hash(corpus_dir: Path) -> str:
    """Hash of every ``.meta.json`` of the corpus: titles and document splits depend on them."""
    digest = hashlib.sha256()
    for path in sorted(corpus_dir.glob("*.meta.json")):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # removed since it was listed: hashed as absent, as the next look will see it
        digest.update(path.name.encode() + b"\0" + data)
    return digest.hexdigest()


def _read_file(path: Path, relative: str, limits: CorpusSettings | None, known) -> CorpusFile:
    try:
        # Taken before the file is read: a change while it is read then shows as a new time.
        stat = path.stat()
        sha256 = file_sha256(path)
        extracted = (known and known(relative, sha256)) or read_document(path, limits)
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read corpus file {path}: {exc}") from exc
    if not extracted.text.strip():
        raise NoText(f"{path.name}: the file holds no text")
    return CorpusFile(path=relative, sha256=sha256, extracted=extracted, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def write_texts(corpus: Corpus, folder: Path) -> None:
    """Store each file's extracted text (what quotes are cut from) as ``folder/<path>.txt``."""
    folder.mkdir(parents=True, exist_ok=True)
    for corpus_file in corpus.files:
        (folder / f"{corpus_file.path}.txt").write_bytes(corpus_file.text.encode("utf-8"))


def _read_meta(path: Path) -> _FileMeta | None:
    meta_path = path.with_name(path.stem + ".meta.json")
    if not meta_path.exists():
        return None
    try:
        return _FileMeta.model_validate(json.loads(meta_path.read_text(encoding="utf-8")))
    except ValidationError as exc:  # name the key: "documents.0.titel: Extra inputs are not permitted"
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "top level"
        raise CorpusError(f"bad metadata file {meta_path.name}: {where}: {error['msg']}") from exc
    except (OSError, ValueError) as exc:
        first_line = str(exc).splitlines()[0]
        raise CorpusError(f"bad metadata file {meta_path.name}: {first_line}") from exc


def _documents_of(corpus_file: CorpusFile, meta: _FileMeta | None, own_id: str) -> list[DocumentInfo]:
    if meta is None or not meta.documents:
        part = _PartMeta(doc_id=own_id, title=_title_of(corpus_file.extracted))
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


def _title_of(extracted: Extracted) -> str:
    """The document's own title, else its first non-empty line without Markdown marks."""
    return extracted.title or next(line.strip("# \t") for line in extracted.text.splitlines() if line.strip())


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
    seen: dict[str, str] = {}
    for document in documents:
        if document.doc_id in seen:
            raise CorpusError(
                f"two documents have the id {document.doc_id!r}: in {seen[document.doc_id]} and {document.path}",
                "Give one of them another doc_id in its .meta.json.",
            )
        seen[document.doc_id] = document.path


def add_files(corpus_dir: Path, sources: list[Path], link: bool = False) -> list[DocumentInfo]:
    """Copy (or symlink) document files into the corpus folder, each with a ``.meta.json``.

    Each file becomes one document: its id is the file stem, its title the document's own
    (or its first line). Everything is checked before anything is written.

    Raises:
        CorpusError: A file is missing, unsupported or without text, or its name or id is taken.
    """
    taken = _taken_ids(corpus_dir)
    plans = [_plan_add(corpus_dir, Path(source), taken) for source in sources]
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for source, target, document in plans:
        if link:
            target.symlink_to(source.resolve())
        else:
            shutil.copyfile(source, target)
        meta = {"source": str(source.resolve()), "documents": [{"doc_id": document.doc_id, "title": document.title}]}
        _meta_path(target).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [document for _, _, document in plans]


def _taken_ids(corpus_dir: Path) -> set[str]:
    if not corpus_dir.is_dir() or not any(format_of(p) for p in corpus_dir.iterdir()):
        return set()
    return {document.doc_id for document in load_corpus(corpus_dir).documents}


def _plan_add(corpus_dir: Path, source: Path, taken: set[str]) -> tuple[Path, Path, DocumentInfo]:
    if not source.is_file():
        raise CorpusError(f"no such file: {source}")
    target = corpus_dir / source.name
    doc_id = source.stem
    if target.exists() or target.is_symlink() or _meta_path(target).exists():
        raise CorpusError(f"{source.name} is already in the corpus folder {corpus_dir}",
                          "Rename the file, or remove the document first with `pdqa corpus remove`.")
    if doc_id in taken:
        raise CorpusError(f"doc_id {doc_id!r} is already in the corpus", "Rename the file.")
    taken.add(doc_id)
    extracted = read_document(source)
    document = DocumentInfo(doc_id=doc_id, title=_title_of(extracted), path=target.name, start=0, end=len(extracted.text))
    return source, target, document


def _meta_path(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.json")


def remove_document(corpus_dir: Path, doc_id: str) -> list[Path]:
    """Remove a document's file (a link, not what it points to) and its metadata from the corpus.

    Returns:
        The paths removed.

    Raises:
        CorpusError: No such document, or its file holds other documents too.
    """
    documents = load_corpus(corpus_dir).documents
    document = next((d for d in documents if d.doc_id == doc_id), None)
    if document is None:
        known = ", ".join(d.doc_id for d in documents)
        raise CorpusError(f"no document {doc_id!r} in the corpus", f"Known documents: {known}.")
    sharing = [d.doc_id for d in documents if d.path == document.path and d.doc_id != doc_id]
    if sharing:
        raise CorpusError(f"{document.path} also holds {', '.join(sharing)}",
                          "Edit its .meta.json, or remove the file and all its documents by hand.")
    removed = [corpus_dir / document.path, _meta_path(corpus_dir / document.path)]
    removed = [path for path in removed if path.exists() or path.is_symlink()]
    for path in removed:
        path.unlink()
    return removed
