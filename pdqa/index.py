"""Index stage: embed chunks and units, store them in FAISS with a JSONL chunk store and a manifest.

Layout of an index folder::

    manifest.json    what the index was built from (written last: no manifest, no index)
    chunks.jsonl     one Chunk per line        chunks.faiss  their vectors (inner product)
    units.jsonl      one Unit per line         units.npy     their vectors (memory-mapped)
    bm25/            the BM25 index of the chunks, as bm25s saves it (memory-mapped)
    terms.json       in how many units each term occurs, for the answerer's term weights
    texts/<file>.txt the extracted text of each corpus file: quotes are cut from it
    encoder/         model.onnx + tokenizer.json, the one network for build and query vectors

A build writes into a temporary sibling folder and swaps it in by renaming, so an interrupted or
failed build leaves the previous index as it was, and a half-written folder is never loaded.

Builds are incremental: a text whose sha256 the previous index holds (built by the same model
and index format) keeps its stored vector, so changing one document re-embeds only its chunks
and units. Vectors depend on the text alone, so the result equals a full rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter, ValidationError

from . import __version__
from .answer_model import model_sha256
from .chunking import chunk_corpus, chunker_params
from .corpus import TEXTS_DIR, corpus_file_paths, file_sha256, load_corpus, write_texts
from .embeddings import (
    MODEL_NAME,
    ONNX_FILE,
    TOKENIZER_FILE,
    OnnxEmbedder,
    default_model_dir,
    export_onnx,
    weights_path,
)
from .errors import IndexCorrupt, IndexNotBuilt, IndexStale, IndexUnwritable
from .ann import build_chunk_search
from .bm25 import BM25_DIR, BM25_FILES, BM25Ranker, keyword_text
from .features import TermWeights, unit_terms_of
from .models import Chunk, ChunkSearch, CorpusFileInfo, IndexFileInfo, Manifest, Unit
from .settings import Settings

# 3: vectors from the ONNX export, unit vectors in units.npy, approximate chunk search when large.
# 4: size and sha256 of every index file in the manifest.
# 5: the BM25 index saved in bm25/ at build time.
INDEX_FORMAT = 5
# Formats whose chunk stores and vectors a build may reuse: 5 only added bm25/.
REUSABLE_FORMATS = (4, 5)
MANIFEST_FILE = "manifest.json"
ENCODER_DIR = "encoder"
UNIT_VECTORS_FILE = "units.npy"
# Not required of an index (one without is answered, counting the terms at load), but checked
# like any file when the manifest lists it.
TERMS_FILE = "terms.json"
# Every file of an index has its size and sha256 in the manifest. Sizes are checked on every
# load (a stat each). The chunk stores are hashed on every load too: quotes come from them, and
# hashing them costs little next to parsing them (0.08 ms for the bundled corpus, sizes included).
# The vectors and the 90 MB encoder are hashed only by `pdqa index status --verify` and before a
# build reuses them: that took 80 ms from a warm page cache (more from disk), a tenth of a cold
# `pdqa ask`, for damage that keeps the size, which a failed load shows otherwise. BM25 is
# treated like the vectors: it ranks passages and is never quoted.
STORE_FILES = ("chunks.jsonl", "units.jsonl")
VECTOR_FILES = ("chunks.faiss", UNIT_VECTORS_FILE)
ENCODER_FILES = (f"{ENCODER_DIR}/{ONNX_FILE}", f"{ENCODER_DIR}/{TOKENIZER_FILE}")
INDEX_FILES = (*STORE_FILES, *VECTOR_FILES, *BM25_FILES, *ENCODER_FILES)
# Most texts embedded between two progress reports.
EMBED_SLICE = 512
BUILD_STEPS = ("read corpus", "chunk", "prepare encoder", "embed", "write index")

Progress = Callable[[str, int, int], None]


@dataclass
class IndexData:
    """A loaded index: chunk store, units, FAISS index of chunks, unit vectors and BM25."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    units: list[Unit]
    chunk_index: object  # faiss.Index
    unit_vectors: np.ndarray
    bm25: BM25Ranker | None  # None where only the vectors were read, for a build to reuse
    term_weights: TermWeights | None  # None when the saved counts are missing or other code took them

    @property
    def encoder_dir(self) -> Path:
        return self.path / ENCODER_DIR

    @cached_property
    def chunk_by_id(self) -> dict[str, Chunk]:
        """Chunks by their chunk_id."""
        return {chunk.chunk_id: chunk for chunk in self.chunks}

    @cached_property
    def units_by_chunk(self) -> dict[str, list[Unit]]:
        """The units of each chunk, in text order, by chunk_id."""
        grouped: dict[str, list[Unit]] = {}
        for unit in self.units:
            grouped.setdefault(unit.chunk_id, []).append(unit)
        return grouped


@dataclass
class IndexStatus:
    """What ``pdqa index status`` reports."""

    path: Path
    built: bool
    stale: bool
    reasons: list[str]
    manifest: Manifest | None


def model_dir_of(settings: Settings) -> Path:
    """The configured model folder, or the bundled one."""
    return settings.model_dir or default_model_dir()


def build_index(settings: Settings, progress: Progress | None = None, reuse_vectors: bool = True) -> Manifest:
    """Build the index for the configured corpus and swap it in atomically.

    Args:
        settings: Where the corpus, model and index are, and the chunker parameters.
        progress: Called with (step name, step number, number of steps) as the build goes.
        reuse_vectors: Keep the previous index's encoder and the vectors of unchanged texts (an
            incremental build), where their files still match their hashes; False exports the
            encoder and embeds every text again.

    Returns:
        The manifest of the new index.

    Raises:
        IndexUnwritable: The folder that holds the index cannot be written.
    """
    report = progress or (lambda *_: None)
    target = settings.index_dir
    with _build_lock(target):
        _remove_dead_builds(target)
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        building.chmod(0o755)  # mkdtemp makes it private; an index is meant to be shared
        try:
            manifest = _build_into(building, settings, report, reuse_vectors)
            _swap_in(building, target)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return manifest


@contextmanager
def _build_lock(target: Path):
    """One build at a time per index: two shells rebuilding a stale index take turns."""
    import fcntl

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = (target.parent / f".{target.name}.lock").open("a")
    except OSError as exc:
        raise IndexUnwritable(f"cannot build the index in {target.parent}: {exc.strerror}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_dead_builds(target: Path) -> None:
    """Remove build folders a killed build left behind: under the lock, no build is running."""
    for leftover in target.parent.glob(f".{target.name}.building-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _build_into(folder: Path, settings: Settings, report: Progress, reuse_vectors: bool) -> Manifest:
    total = len(BUILD_STEPS)
    report(BUILD_STEPS[0], 1, total)
    corpus = load_corpus(settings.corpus_dir)
    report(BUILD_STEPS[1], 2, total)
    chunks, units = chunk_corpus(corpus, settings.chunk_max_chars)
    report(BUILD_STEPS[2], 3, total)
    model_dir = model_dir_of(settings)
    model_sha = file_sha256(weights_path(model_dir))
    _provide_encoder(settings.index_dir, folder / ENCODER_DIR, model_dir, model_sha, reuse_vectors)
    embedder = OnnxEmbedder(folder / ENCODER_DIR)
    report(BUILD_STEPS[3], 4, total)
    known = _previous_vectors(settings.index_dir, model_sha) if reuse_vectors else {}
    groups = [[chunk.text for chunk in chunks], [unit.text for unit in units]]
    embedding = _EmbedProgress(groups, known, lambda detail: report(f"{BUILD_STEPS[3]} {detail}", 4, total))
    chunk_vectors = _embed_new(embedder, groups[0], known, embedding)
    unit_vectors = _embed_new(embedder, groups[1], known, embedding)
    report(BUILD_STEPS[4], 5, total)
    search = _write_chunk_index(folder / "chunks.faiss", chunk_vectors, unit_vectors)
    np.save(folder / UNIT_VECTORS_FILE, unit_vectors, allow_pickle=False)
    _write_jsonl(folder / "chunks.jsonl", chunks)
    _write_jsonl(folder / "units.jsonl", units)
    BM25Ranker.build([keyword_text(chunk) for chunk in chunks]).save(folder / BM25_DIR)
    chunk_by_id = {chunk.chunk_id: chunk for chunk in chunks}
    TermWeights.of(unit_terms_of(unit, chunk_by_id[unit.chunk_id]) for unit in units).save(folder / TERMS_FILE)
    write_texts(corpus, folder / TEXTS_DIR)
    manifest = _manifest(settings, corpus, model_dir, model_sha, chunks, units, embedder.dimension, search)
    manifest.files = {path.relative_to(folder).as_posix(): _file_info(path) for path in _files_below(folder)}
    # The manifest goes last: its presence is what marks the folder as a complete index.
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _previous_vectors(index_dir: Path, model_sha: str) -> dict[bytes, np.ndarray]:
    """The previous index's vectors by text hash, when the same network in this format made them."""
    manifest = _read_manifest_or_none(index_dir)
    if manifest is None or manifest.index_format not in REUSABLE_FORMATS or manifest.model_sha256 != model_sha:
        return {}
    if file_problems(index_dir, manifest, hashed=(*STORE_FILES, *VECTOR_FILES)):
        return {}  # damaged vectors must not live on in the new index
    try:
        previous = _read_index_files(index_dir, manifest, whole=False)
    except (OSError, ValueError, ValidationError, RuntimeError):
        return {}  # an unreadable index has nothing to offer; the build embeds everything
    chunk_vectors = previous.chunk_index.reconstruct_n(0, previous.chunk_index.ntotal)
    known = {_text_key(c.text): vector for c, vector in zip(previous.chunks, chunk_vectors)}
    known.update((_text_key(u.text), vector) for u, vector in zip(previous.units, previous.unit_vectors))
    return known


class _EmbedProgress:
    """Reports texts embedded of those the build must embed, with rate and time left.

    A large corpus spends minutes in this step; one report at its start said nothing for that long.
    """

    def __init__(self, groups: list[list[str]], known: dict[bytes, np.ndarray], report: Callable[[str], None]):
        self.total = len({_text_key(text) for texts in groups for text in texts} - known.keys())
        self.done, self.started, self.report = 0, time.perf_counter(), report

    def add(self, count: int) -> None:
        self.done += count
        rate = self.done / max(time.perf_counter() - self.started, 1e-9)
        self.report(f"{self.done}/{self.total} texts, {rate:.0f}/s, {(self.total - self.done) / rate:.0f} s left")


def _embed_new(embedder: OnnxEmbedder, texts: list[str], known: dict[bytes, np.ndarray], progress) -> np.ndarray:
    """Vectors for ``texts``: known ones reused, each new distinct text embedded once (and learnt)."""
    keys = [_text_key(text) for text in texts]
    new = {key: text for key, text in zip(keys, texts) if key not in known}
    new_keys, new_texts = list(new), list(new.values())
    for start in range(0, len(new_texts), EMBED_SLICE):
        batch = new_texts[start : start + EMBED_SLICE]
        known.update(zip(new_keys[start : start + EMBED_SLICE], embedder.embed(batch)))
        progress.add(len(batch))
    if not keys:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([known[key] for key in keys]).astype(np.float32, copy=False)


def _manifest(settings, corpus, model_dir: Path, model_sha: str, chunks, units, dimension: int, search) -> Manifest:
    stat = weights_path(model_dir).stat()
    return Manifest(
        pdqa_version=__version__,
        index_format=INDEX_FORMAT,
        embedding_model=MODEL_NAME,
        model_sha256=model_sha,
        model_size=stat.st_size,
        model_mtime_ns=stat.st_mtime_ns,
        dimension=dimension,
        chunker=chunker_params(settings.chunk_max_chars),
        corpus_files=corpus.file_infos(),
        metadata_sha256=_metadata_hash(settings.corpus_dir),
        chunk_count=len(chunks),
        unit_count=len(units),
        chunk_search=search,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        answer_model_sha256=model_sha256(),
    )


def _files_below(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _file_info(path: Path) -> IndexFileInfo:
    return IndexFileInfo(sha256=file_sha256(path), size=path.stat().st_size)


def _provide_encoder(old_index: Path, encoder_dir: Path, model_dir: Path, model_sha: str, reuse: bool) -> None:
    """Reuse the previous index's ONNX export when the model is unchanged and its files are intact."""
    old_manifest = _read_manifest_or_none(old_index) if reuse else None
    old_encoder = old_index / ENCODER_DIR
    if (
        old_manifest
        and old_manifest.model_sha256 == model_sha
        and all(name in old_manifest.files for name in ENCODER_FILES)
        and not file_problems(old_index, old_manifest, hashed=ENCODER_FILES, names=ENCODER_FILES)
    ):
        encoder_dir.mkdir()
        for name in (ONNX_FILE, TOKENIZER_FILE):
            _link_or_copy(old_encoder / name, encoder_dir / name)
        return
    export_onnx(model_dir, encoder_dir)


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def _write_chunk_index(path: Path, chunk_vectors: np.ndarray, unit_vectors: np.ndarray) -> ChunkSearch:
    import faiss

    index, search = build_chunk_search(chunk_vectors, unit_vectors)
    faiss.write_index(index, str(path))
    return search


def _write_jsonl(path: Path, records) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.model_dump_json() + "\n")


def _swap_in(building: Path, target: Path) -> None:
    """Replace ``target`` by ``building`` with renames; the old index is removed only after."""
    retired = None
    if target.exists():
        retired = target.with_name(f".{target.name}.retired-{os.getpid()}")
        target.rename(retired)
    try:
        building.rename(target)
    except BaseException:
        if retired is not None:
            retired.rename(target)  # put the previous index back before reporting the failure
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def _read_manifest_or_none(index_dir: Path) -> Manifest | None:
    try:
        return read_manifest(index_dir)
    except (IndexNotBuilt, IndexCorrupt):
        return None


def read_manifest(index_dir: Path) -> Manifest:
    """Read an index's manifest, or raise IndexNotBuilt / IndexCorrupt."""
    path = index_dir / MANIFEST_FILE
    if not path.is_file():
        raise IndexNotBuilt(f"no index at {index_dir}")
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as exc:
        raise IndexCorrupt(f"unreadable index manifest {path}") from exc


def stale_reasons(manifest: Manifest, settings: Settings) -> list[str]:
    """Every way the index differs from the present corpus, model and settings (empty: fresh)."""
    reasons = _format_change(manifest)
    if manifest.chunker != chunker_params(settings.chunk_max_chars):
        reasons.append("chunker settings changed")
    reasons.extend(_corpus_changes(manifest, settings.corpus_dir))
    if _model_changed(manifest, settings):
        reasons.append("embedding model changed")
    if manifest.answer_model_sha256 != model_sha256():
        # Answers depend on it; an index built beside another model would give other answers.
        reasons.append("answer model changed")
    return reasons


def _format_change(manifest: Manifest) -> list[str]:
    if manifest.index_format == INDEX_FORMAT:
        return []
    return [f"index format {manifest.index_format} is not the current {INDEX_FORMAT} (built by another pdqa version)"]


def _corpus_changes(manifest: Manifest, corpus_dir: Path) -> list[str]:
    indexed = {f.path: f for f in manifest.corpus_files}
    present = {p.relative_to(corpus_dir).as_posix(): p for p in corpus_file_paths(corpus_dir)}
    reasons = [f"corpus file removed: {path}" for path in sorted(indexed.keys() - present.keys())]
    reasons += [f"new corpus file: {path}" for path in sorted(present.keys() - indexed.keys())]
    for path in sorted(indexed.keys() & present.keys()):
        try:
            changed = _file_changed(present[path], indexed[path])
        except OSError as exc:  # the build will fail on it and name it; the old index still loads
            reasons.append(f"corpus file unreadable: {path} ({exc.strerror})")
            continue
        if changed:
            reasons.append(f"corpus file changed: {path}")
    reasons += _metadata_changes(manifest, corpus_dir)
    return reasons


def _file_changed(path: Path, recorded: CorpusFileInfo) -> bool:
    # As for the model: hashing 10,000 documents took 1.2 s on every load (bench/scale.py's
    # 100,000 chunks, loaded machine); the same size and time say "unchanged" for a stat.
    stat = path.stat()
    if (stat.st_size, stat.st_mtime_ns) == (recorded.size, recorded.mtime_ns):
        return False
    return file_sha256(path) != recorded.sha256


def _metadata_changes(manifest: Manifest, corpus_dir: Path) -> list[str]:
    # Metadata decides titles and document splits, so it is part of what the index depends on.
    changed = manifest.metadata_sha256 != _metadata_hash(corpus_dir)
    return ["corpus metadata changed"] if changed else []


def _metadata_hash(corpus_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(corpus_dir.glob("*.meta.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _model_changed(manifest: Manifest, settings: Settings) -> bool:
    weights = weights_path(model_dir_of(settings))
    stat = weights.stat()
    # Hashing 90 MB on every question would cost a third of a second; size and mtime say
    # "unchanged" cheaply, and only a difference there makes us hash.
    if (stat.st_size, stat.st_mtime_ns) == (manifest.model_size, manifest.model_mtime_ns):
        return False
    return file_sha256(weights) != manifest.model_sha256


def file_problems(
    folder: Path, manifest: Manifest, hashed: Collection[str] = STORE_FILES, names: Collection[str] | None = None
) -> list[str]:
    """Index files that are missing or differ from the manifest: sizes always, sha256 of ``hashed``.

    ``names`` defaults to every file the manifest records and, for an index of the current
    format, every file such an index must have (an older index is stale, not damaged).
    """
    required = INDEX_FILES if manifest.index_format == INDEX_FORMAT else ()
    problems = []
    for name in names or sorted(set(required) | manifest.files.keys()):
        path, recorded = folder / name, manifest.files.get(name)
        if not path.is_file():
            problems.append(f"missing index file {name}")
        elif recorded is None:
            continue  # an index of an older format, which is stale for that reason already
        elif path.stat().st_size != recorded.size:
            size = path.stat().st_size
            problems.append(f"index file {name} has {size} bytes, not the {recorded.size} it was built with")
        elif name in hashed and file_sha256(path) != recorded.sha256:
            problems.append(f"index file {name} was changed after the build (sha256 differs)")
    return problems


def index_status(settings: Settings, verify: bool = False) -> IndexStatus:
    """Whether the configured index is built, intact and fresh, and if not, why.

    Args:
        settings: Where the index, corpus and model are.
        verify: Hash every index file (the 90 MB encoder too), not only the chunk stores.
    """
    try:
        manifest = read_manifest(settings.index_dir)
    except IndexNotBuilt:
        return IndexStatus(settings.index_dir, False, True, ["not built"], None)
    except IndexCorrupt as exc:
        return IndexStatus(settings.index_dir, False, True, [str(exc)], None)
    damage = file_problems(settings.index_dir, manifest, manifest.files.keys() if verify else STORE_FILES)
    reasons = damage + stale_reasons(manifest, settings)
    return IndexStatus(settings.index_dir, not damage, bool(reasons), reasons, manifest)


def load_index(settings: Settings, check: bool = True) -> IndexData:
    """Load the configured index.

    Args:
        settings: Where the index, corpus and model are.
        check: Compare the manifest with the present corpus and model first.

    Raises:
        IndexNotBuilt: There is no complete index.
        IndexStale: The index does not match the corpus, the model or the chunker settings.
        IndexCorrupt: An index file is missing, cannot be read, or differs from the manifest.
    """
    folder = settings.index_dir
    manifest = read_manifest(folder)
    # An index of another format is not read even unchecked: its files are not this format's.
    reasons = stale_reasons(manifest, settings) if check else _format_change(manifest)
    if reasons:
        raise IndexStale(f"index at {folder} is stale: {'; '.join(reasons)}")
    damage = file_problems(folder, manifest)
    if damage:
        raise IndexCorrupt(f"index at {folder}: {'; '.join(damage)}")
    try:
        return _read_index_files(folder, manifest)
    except (OSError, ValueError, ValidationError, RuntimeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndexCorrupt(f"cannot read index at {folder}: {first_line}") from exc


def _read_index_files(folder: Path, manifest: Manifest, whole: bool = True) -> IndexData:
    """The index's files; with ``whole`` False only what a build reuses: stores and vectors."""
    import faiss

    chunks = _read_store(folder / "chunks.jsonl", Chunk)
    units = _read_store(folder / "units.jsonl", Unit)
    chunk_index = faiss.read_index(str(folder / "chunks.faiss"))
    # Memory-mapped: only the rows of sentences an answer looks at are read from disk.
    unit_vectors = np.load(folder / UNIT_VECTORS_FILE, mmap_mode="r", allow_pickle=False)
    if chunk_index.ntotal != len(chunks) or unit_vectors.shape != (len(units), manifest.dimension):
        raise ValueError("vector counts do not match the chunk store")
    bm25 = BM25Ranker.load(folder / BM25_DIR) if whole else None
    weights = TermWeights.load(folder / TERMS_FILE) if whole else None
    return IndexData(folder, manifest, chunks, units, chunk_index, unit_vectors, bm25, weights)


def _read_store(path: Path, record: type) -> list:
    """The records of a JSON Lines store, validated in one call.

    One call over the whole store took 1.2–1.6 s against 1.8–2.0 s for one call per line, for
    bench/scale.py's 100,000 chunks and 100,000 units (this 2-core machine, 2026-11-26).
    """
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return TypeAdapter(list[record]).validate_json(b"[" + b",".join(lines) + b"]")


def describe(status: IndexStatus) -> dict:
    """A JSON-ready view of an index status."""
    manifest = json.loads(status.manifest.model_dump_json()) if status.manifest else None
    return {
        "path": str(status.path),
        "built": status.built,
        "stale": status.stale,
        "reasons": status.reasons,
        "manifest": manifest,
    }
