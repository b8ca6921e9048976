"""Index stage: one lifecycle for the built index: open, check, rebuild, swap, in one place.

An index folder belongs to pdqa. It holds generations, each a complete index, and names the
live one in ``CURRENT``::

    pdqa-index.json        marks the folder as pdqa's (a build refuses a folder holding other files)
    CURRENT                the live generation's name; replaced by an atomic rename
    gen-<time>/            one generation (its manifest.json is written last):
        manifest.json      what it was built from, every file's size and sha256
        store.npz, store.json   chunks and units as offsets into texts/ (store.py)
        texts/<file>.txt   the extracted text of each corpus file: every quote is cut from it
        chunks.faiss       chunk vectors          unit_vectors.npy   unit vectors (memory-mapped)
        bm25/              BM25 of the chunks (bm25s's files, memory-mapped)
        encoder/           model.onnx + tokenizer.json, the one network for build and query vectors
    .building-*/           a build in progress (removed when a build was killed)

A build writes a new generation beside the live one and then points ``CURRENT`` at it, so a
failed build leaves the live index as it was. A load holds a shared lock on its generation's
manifest while it reads (and for as long as the index is open); a build removes an old
generation only when it can lock it exclusively, so no load ever sees half of two generations.
Nothing outside pdqa's own generation folders is ever removed.

Builds are incremental: a text whose sha256 the live generation holds (made by the same model)
keeps its stored vector, and a corpus file whose sha256 and reader are unchanged keeps its
extracted text, so changing one document re-reads and re-embeds only that document.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ValidationError

from .version import __version__
from .bm25 import BM25_DIR, BM25_FILES, UNIT_BM25_DIR, UNIT_BM25_FILES, BM25Ranker, keyword_text
from .chunking import chunk_corpus, chunker_params
from .corpus import TEXTS_DIR, Corpus, corpus_file_paths, file_sha256, load_corpus, metadata_hash, write_texts
from .embeddings import ONNX_FILE, TOKENIZER_FILE, OnnxEmbedder, default_model_dir, export_onnx, model_name, weights_path
from .errors import CorpusError, IndexCorrupt, IndexFallbackWarning, IndexNotBuilt, IndexStale, IndexUnwritable, PdqaError
from .models import Chunk, ChunkSearch, CorpusFileInfo, IndexFileInfo, Manifest, Unit
from .readers import READERS_SHA256, Extracted
from .settings import Settings
from .store import STORE_ARRAYS, STORE_STRINGS, ChunkStore, StoreError, save_store

# 6: generations under CURRENT, the chunk store as offsets (store.npz), the corpus folder recorded.
# 7: BM25 over the units too (bm25_units/), for the answer stage's candidates.
INDEX_FORMAT = 7
MARKER_FILE = "pdqa-index.json"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".build.lock"
GENERATION_PREFIX = "gen-"
GENERATION_NAME = re.compile(r"gen-\d+")  # what a build names a generation: gen-<time in ns>
POINTER_NAME = re.compile(r"\.CURRENT\.\d+")  # the new CURRENT a build writes (.CURRENT.<pid>), then renames
BUILDING_PREFIX = ".building-"
MANIFEST_FILE = "manifest.json"
ENCODER_DIR = "encoder"
UNIT_VECTORS_FILE = "unit_vectors.npy"
CHUNK_VECTORS_FILE = "chunks.faiss"
STORE_FILES = (STORE_ARRAYS, STORE_STRINGS)
VECTOR_FILES = (CHUNK_VECTORS_FILE, UNIT_VECTORS_FILE)
ENCODER_FILES = (f"{ENCODER_DIR}/{ONNX_FILE}", f"{ENCODER_DIR}/{TOKENIZER_FILE}")
INDEX_FILES = (*STORE_FILES, *VECTOR_FILES, *BM25_FILES, *UNIT_BM25_FILES, *ENCODER_FILES)
# Sizes of every file are checked on every load (a stat each). The chunk store and the stored
# texts are hashed on every load too, since quotes are cut from them: about 40 ms for 20 MB of
# text. The vectors, BM25 and the 90 MB encoder are hashed only by `pdqa index status --verify`
# and before a build reuses them: damage that keeps their size changes rankings, never a quote.
EMBED_SLICE = 512  # most texts embedded between two progress reports
BUILD_STEPS = ("read corpus", "chunk", "prepare encoder", "embed", "write index")
OPEN_ATTEMPTS = 20  # a load retries when a build swapped generations under it
OnStale = Literal["raise", "rebuild", "use"]

Progress = Callable[[str, int, int], None]
Notice = Callable[[str], None]


class IndexFolderError(IndexUnwritable):
    """The index folder is not one pdqa may build in (a file, or a folder of someone else's files)."""

    hint = "Point PDQA_INDEX__DIR at a new or empty folder; pdqa only ever writes in a folder of its own."


@dataclass
class IndexStatus:
    """What ``pdqa index status`` reports: built? intact? fresh? and why not."""

    path: Path
    built: bool
    stale: bool
    reasons: list[str]
    manifest: Manifest | None
    generation: Path | None = None

    @property
    def usable(self) -> bool:
        """Built, intact and fresh."""
        return self.built and not self.stale


@dataclass
class Index:
    """A loaded index generation: the chunk store, vectors, BM25 and where the encoder lies.

    Open one with :meth:`Index.open`; it stays valid (its files locked against removal) until
    :meth:`close`.
    """

    path: Path
    manifest: Manifest
    store: ChunkStore
    chunk_index: object  # faiss.Index
    unit_vectors: np.ndarray
    bm25: BM25Ranker | None
    unit_bm25: BM25Ranker | None = None
    rebuilt: bool = False
    stale_reasons: list[str] = field(default_factory=list)
    _lock: object = None

    def __post_init__(self):
        # An index dropped without close() still releases its lock when it is collected (quietly:
        # closing the file first means no ResourceWarning).
        if self._lock is not None:
            self._finalizer = weakref.finalize(self, self._lock.close)

    @classmethod
    def open(
        cls,
        settings: Settings,
        on_stale: OnStale = "raise",
        *,
        progress: Progress | None = None,
        notice: Notice | None = None,
    ) -> Index:
        """Open the configured index, checked once against the corpus, model and settings.

        Args:
            settings: Where the corpus, model and index are.
            on_stale: What to do when the index is missing, stale or damaged: "raise" the error,
                "rebuild" it (a build that fails for a corpus file or the disk answers from the
                previous index of the same corpus, with a warning), or "use" a stale but intact
                index as it is (never one of another corpus or format).
            progress: Told each build step as (step, number, steps).
            notice: Told, in one line, why a build is starting.

        Raises:
            IndexNotBuilt, IndexStale, IndexCorrupt: As ``on_stale`` says.
            IndexUnwritable: A build was needed and cannot write its folder.
            CorpusError: A build was needed, a corpus file cannot be read, and there is no
                previous index of this corpus to answer from.
        """
        if not Path(settings.corpus_dir).is_dir():
            raise CorpusError(f"corpus folder not found: {settings.corpus_dir}")
        # Every way of opening checks and reads one generation under one lock: a build that swaps
        # generations between the check and the read never makes a load fail.
        status, loaded = _open_checked(settings, use_stale=on_stale == "use")
        if loaded is not None:
            return loaded
        if on_stale != "rebuild":
            raise _error_for(status)
        if notice is not None:
            state = "is stale" if status.built else "cannot be used"
            notice(f"Index {state} ({'; '.join(status.reasons)}); building it now.")
        try:
            # Several processes that found the index stale take turns; the first builds, the
            # others find its generation fresh once they hold the build lock and build nothing.
            built = _build(settings, progress, reuse=True, unless_usable=True) is not None
        except (CorpusError, IndexUnwritable) as exc:
            if not _may_use(status) or isinstance(exc, IndexFolderError):
                raise
            # One bad corpus file, or a full disk, must not block every question: the previous
            # index of this very corpus is intact.
            _, previous = _open_checked(settings, use_stale=True)
            if previous is None:
                raise
            warnings.warn(f"{exc}; answering from the index built {previous.manifest.built_at}",
                          IndexFallbackWarning, stacklevel=2)
            return previous
        status, index = _open_checked(settings, use_stale=True)
        if index is None:
            raise _error_for(status)
        index.rebuilt = built
        return index

    # ------------------------------------------------------------ records

    @property
    def encoder_dir(self) -> Path:
        return self.path / ENCODER_DIR

    @property
    def chunk_count(self) -> int:
        return self.store.chunk_count

    @property
    def unit_count(self) -> int:
        return self.store.unit_count

    def chunk(self, position: int) -> Chunk:
        """The chunk at ``position`` (its row in the FAISS and BM25 indexes)."""
        return self.store.chunk(position)

    def chunk_by_id(self, chunk_id: str) -> Chunk:
        return self.store.chunk_by_id(chunk_id)

    def unit(self, unit_id: int) -> Unit:
        return self.store.unit(unit_id)

    def units_of(self, chunk_id: str) -> list[Unit]:
        """The units of a chunk, in text order."""
        return self.store.units_of(chunk_id)

    def text_of(self, path: str) -> str:
        """The stored text of a corpus file (what quotes are cut from)."""
        return self.store.texts[path]

    def close(self) -> None:
        """Release the generation's lock: a later build may then remove it."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# ---------------------------------------------------------------- status


def index_status(settings: Settings, verify: bool = False) -> IndexStatus:
    """Whether the configured index is built, intact and fresh, and if not, why.

    Args:
        settings: Where the index, corpus and model are.
        verify: Hash every index file (the 90 MB encoder too) and every corpus file, not only
            the chunk store, the texts and the corpus files whose size or time changed.
    """
    folder = settings.index_dir
    no_corpus = [] if Path(settings.corpus_dir).is_dir() else [f"corpus folder not found: {settings.corpus_dir}"]
    for _ in range(OPEN_ATTEMPTS):
        generation = _current_generation(folder)
        if generation is None:
            return IndexStatus(folder, False, True, ["not built", *no_corpus], None)
        try:
            with _shared_lock(generation):
                return _status_of(generation, settings, verify)
        except _GenerationGone:
            missing = _without_manifest(folder, generation)
            if missing is not None:
                return missing
            continue
    raise IndexCorrupt(f"index at {folder} changed {OPEN_ATTEMPTS} times while it was read")


def _status_of(generation: Path, settings: Settings, verify: bool, kept: dict[str, bytes] | None = None) -> IndexStatus:
    """The status of one generation; ``kept`` receives the bytes of the stored texts it hashed."""
    folder = settings.index_dir
    try:
        manifest = read_manifest(generation)
    except IndexCorrupt as exc:
        return IndexStatus(folder, False, True, [str(exc)], None, generation)
    format_reasons = _format_change(manifest)
    if format_reasons:
        return IndexStatus(folder, True, True, format_reasons, manifest, generation)
    hashed = manifest.files.keys() if verify else _hashed_on_load(manifest)
    damage = file_problems(generation, manifest, hashed, kept=kept)
    reasons = damage + stale_reasons(manifest, settings, verify_corpus=verify)
    return IndexStatus(folder, not damage, bool(reasons), reasons, manifest, generation)


def stale_reasons(manifest: Manifest, settings: Settings, verify_corpus: bool = False) -> list[str]:
    """Every way the index differs from the present corpus, model and settings (empty: fresh)."""
    reasons = _format_change(manifest)
    corpus_dir = str(Path(settings.corpus_dir).expanduser().resolve())
    if manifest.corpus_dir != corpus_dir:
        return reasons + [f"built for another corpus folder, {manifest.corpus_dir}"]
    present = chunker_params(settings.index.chunk_max_chars)
    if manifest.readers_sha256 != READERS_SHA256:
        reasons.append("reader changed")
    if manifest.chunker != present:
        same_code = manifest.chunker.get("code_sha256") == present["code_sha256"]
        reasons.append("chunk size changed" if same_code else "chunker changed")
    reasons.extend(_corpus_changes(manifest, settings.corpus_dir, verify_corpus))
    if _model_changed(manifest, settings):
        reasons.append("embedding model changed")
    return reasons


def _format_change(manifest: Manifest) -> list[str]:
    if manifest.index_format == INDEX_FORMAT:
        return []
    return [f"index format {manifest.index_format} is not the current {INDEX_FORMAT} (built by another pdqa version)"]


def _corpus_changes(manifest: Manifest, corpus_dir: Path, verify: bool) -> list[str]:
    indexed = {f.path: f for f in manifest.corpus_files}
    try:
        present = {p.relative_to(corpus_dir).as_posix(): p for p in corpus_file_paths(corpus_dir)}
    except CorpusError as exc:
        return [str(exc)]
    reasons = [f"corpus file removed: {path}" for path in sorted(indexed.keys() - present.keys())]
    reasons += [f"new corpus file: {path}" for path in sorted(present.keys() - indexed.keys())]
    for path in sorted(indexed.keys() & present.keys()):
        try:
            changed = _file_changed(present[path], indexed[path], verify)
        except OSError as exc:  # the build will fail on it and name it; the old index still loads
            reasons.append(f"corpus file unreadable: {path} ({exc.strerror})")
            continue
        if changed:
            reasons.append(f"corpus file changed: {path}")
    if manifest.metadata_sha256 != metadata_hash(corpus_dir):
        # Metadata decides titles and document splits, so it is part of what the index depends on.
        reasons.append("corpus metadata changed")
    return reasons


def _file_changed(path: Path, recorded: CorpusFileInfo, verify: bool) -> bool:
    # Hashing 10,000 documents took 1.2 s on every load (bench/scale.py's 100,000 chunks); the
    # same size and time say "unchanged" for a stat. --verify hashes anyway: an edit can keep both.
    stat = path.stat()
    if not verify and (stat.st_size, stat.st_mtime_ns) == (recorded.size, recorded.mtime_ns):
        return False
    return file_sha256(path) != recorded.sha256


def _model_changed(manifest: Manifest, settings: Settings) -> bool:
    weights = weights_path(model_dir_of(settings))
    stat = weights.stat()
    # Hashing 90 MB on every question would cost a third of a second; size and mtime say
    # "unchanged" cheaply, and only a difference there makes us hash.
    if (stat.st_size, stat.st_mtime_ns) == (manifest.model_size, manifest.model_mtime_ns):
        return False
    return file_sha256(weights) != manifest.model_sha256


def model_dir_of(settings: Settings) -> Path:
    """The configured model folder, or the bundled one."""
    return settings.index.model_dir or default_model_dir()


def _hashed_on_load(manifest: Manifest) -> list[str]:
    return [*STORE_FILES, *(name for name in manifest.files if name.startswith(f"{TEXTS_DIR}/"))]


def file_problems(folder: Path, manifest: Manifest, hashed: Collection[str], names: Collection[str] | None = None,
                  kept: dict[str, bytes] | None = None) -> list[str]:
    """Index files that are missing or differ from the manifest: sizes always, sha256 of ``hashed``.

    ``kept`` receives the bytes of each stored text hashed and found intact, so that a load reads
    them once (10,000 texts read twice cost 0.3 s of a cold start).
    """
    hashed = frozenset(hashed)  # a list made each name's test linear: 0.45 s for 10,000 stored texts
    problems = []
    for name in names or sorted(set(INDEX_FILES) | manifest.files.keys()):
        path, recorded = folder / name, manifest.files.get(name)
        if not path.is_file():
            problems.append(f"missing index file {name}")
        elif recorded is None:
            problems.append(f"index file {name} is not in the manifest")
        elif path.stat().st_size != recorded.size:
            problems.append(f"index file {name} has {path.stat().st_size} bytes, not the {recorded.size} it was built with")
        elif name in hashed and _sha256_kept(path, name, kept) != recorded.sha256:
            problems.append(f"index file {name} was changed after the build (sha256 differs)")
            if kept is not None:
                kept.pop(name, None)
    return problems


def _sha256_kept(path: Path, name: str, kept: dict[str, bytes] | None) -> str:
    if kept is None or not name.startswith(f"{TEXTS_DIR}/"):
        return file_sha256(path)
    data = kept[name] = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def describe(status: IndexStatus) -> dict:
    """A JSON-ready view of an index status."""
    return {
        "path": str(status.path),
        "built": status.built,
        "stale": status.stale,
        "reasons": status.reasons,
        "generation": status.generation.name if status.generation else None,
        "manifest": json.loads(status.manifest.model_dump_json()) if status.manifest else None,
    }


def _may_use(status: IndexStatus) -> bool:
    """An intact index of this corpus folder, in this format: usable as it is, even if stale."""
    if not status.built or status.manifest is None or _format_change(status.manifest):
        return False
    return not any(reason.startswith("built for another corpus folder") for reason in status.reasons)


def _error_for(status: IndexStatus) -> Exception:
    why = "; ".join(status.reasons)
    if status.manifest is None and status.reasons == ["not built"]:
        return IndexNotBuilt(f"no index at {status.path}")
    if not status.built:
        return IndexCorrupt(f"index at {status.path}: {why}")
    return IndexStale(f"index at {status.path} is stale: {why}")


# ---------------------------------------------------------------- loading


class _GenerationGone(Exception):
    """The generation named by CURRENT was replaced and removed while it was being opened."""


def _without_manifest(folder: Path, generation: Path) -> IndexStatus | None:
    """The status of a generation CURRENT still names though its manifest is gone (damage, not a
    build swapping generations: a build points CURRENT elsewhere before it removes one); None
    when CURRENT has moved on, and the open should be tried again."""
    if _current_generation(folder) != generation:
        return None
    return IndexStatus(folder, False, True, [f"the live generation {generation.name} has no {MANIFEST_FILE}"], None, generation)


def _current_generation(folder: Path) -> Path | None:
    try:
        name = (folder / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexCorrupt(f"cannot read {folder / CURRENT_FILE}: {exc.strerror}") from exc
    if not name.startswith(GENERATION_PREFIX) or "/" in name:
        raise IndexCorrupt(f"{folder / CURRENT_FILE} names no generation ({name[:40]!r})")
    return folder / name


class _shared_lock:
    """A shared lock on a generation's manifest, held while it is read (or for the index's life)."""

    def __init__(self, generation: Path):
        self.generation = generation
        self.handle = None

    def __enter__(self):
        try:
            self.handle = open(self.generation / MANIFEST_FILE, "rb")
        except FileNotFoundError as exc:
            raise _GenerationGone() from exc
        fcntl.flock(self.handle, fcntl.LOCK_SH)
        # A build may have removed the generation between reading CURRENT and taking the lock.
        try:
            same = os.stat(self.generation / MANIFEST_FILE).st_ino == os.fstat(self.handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            self.handle.close()
            raise _GenerationGone()
        return self.handle

    def __exit__(self, *exc_info):
        if self.handle is not None:
            self.handle.close()

    def keep(self):
        """Hand the open, locked handle to the caller (the lock lasts until it is closed)."""
        handle, self.handle = self.handle, None
        return handle


def _open_checked(settings: Settings, use_stale: bool = False) -> tuple[IndexStatus, Index | None]:
    """The index's status, and the loaded index when it is usable as it is (or, with
    ``use_stale``, stale but intact and of this corpus): one check and one read, under one lock."""
    folder = settings.index_dir
    for _ in range(OPEN_ATTEMPTS):
        generation = _current_generation(folder)
        if generation is None:
            return IndexStatus(folder, False, True, ["not built"], None), None
        lock = _shared_lock(generation)
        try:
            with lock:
                kept: dict[str, bytes] = {}
                status = _status_of(generation, settings, verify=False, kept=kept)
                if not (status.usable or (use_stale and _may_use(status))):
                    return status, None
                index = _read_generation(generation, status.manifest, lock.keep(), kept=kept)
                index.stale_reasons = list(status.reasons)
                return status, index
        except _GenerationGone:
            missing = _without_manifest(folder, generation)
            if missing is not None:
                return missing, None
            continue
    raise IndexCorrupt(f"index at {folder} changed {OPEN_ATTEMPTS} times while it was read")


def read_manifest(generation: Path) -> Manifest:
    """Read a generation's manifest, or raise IndexCorrupt."""
    path = generation / MANIFEST_FILE
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as exc:
        raise IndexCorrupt(f"unreadable index manifest {path}") from exc


def _read_generation(generation: Path, manifest: Manifest, lock, whole: bool = True,
                     kept: dict[str, bytes] | None = None) -> Index:
    """Read a checked generation's files into an Index (``whole`` False: only what a build reuses);
    ``kept`` holds stored texts the check already read."""
    import faiss

    kept = kept or {}
    try:
        texts = {f.path: _stored_text(generation, f.path, kept) for f in manifest.corpus_files if f.text_sha256}
        labels = {f.path: f.page_labels for f in manifest.corpus_files if f.page_labels}
        store = ChunkStore(generation, texts, labels)
        chunk_index = faiss.read_index(str(generation / CHUNK_VECTORS_FILE))
        # Memory-mapped: only the rows of units a question looks at are read from disk.
        unit_vectors = np.load(generation / UNIT_VECTORS_FILE, mmap_mode="r", allow_pickle=False)
        if chunk_index.ntotal != store.chunk_count or unit_vectors.shape != (store.unit_count, manifest.dimension):
            raise StoreError("vector counts do not match the chunk store")
        bm25 = BM25Ranker.load(generation / BM25_DIR) if whole else None
        unit_bm25 = BM25Ranker.load(generation / UNIT_BM25_DIR) if whole else None
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        if lock is not None:
            lock.close()
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndexCorrupt(f"cannot read index at {generation.parent}: {first_line}") from exc
    return Index(generation, manifest, store, chunk_index, unit_vectors, bm25, unit_bm25, _lock=lock)


def _stored_text(generation: Path, path: str, kept: dict[str, bytes]) -> str:
    """A stored text exactly as the build wrote it: bytes decoded, with no newline translation
    (reading it as text turned "\r\n" into "\n" and moved every offset after it)."""
    name = f"{TEXTS_DIR}/{path}.txt"
    data = kept.get(name)
    return (data if data is not None else (generation / name).read_bytes()).decode("utf-8")


# ---------------------------------------------------------------- building


def build_index(settings: Settings, progress: Progress | None = None, reuse: bool = True) -> Manifest:
    """Build a new generation of the configured index and make it the live one.

    Args:
        settings: Where the corpus, model and index are, and the chunker parameters.
        progress: Called with (step name, step number, number of steps) as the build goes.
        reuse: Keep the live generation's encoder, vectors and extracted texts where they still
            match their hashes (an incremental build); False reads, exports and embeds everything.

    Returns:
        The manifest of the new generation.

    Raises:
        IndexFolderError: The index folder is a file, or holds files pdqa did not write.
        IndexUnwritable: The index folder cannot be written, or the disk is full.
        CorpusError: A corpus file cannot be read.
    """
    return _build(settings, progress, reuse)


def _build(settings: Settings, progress: Progress | None, reuse: bool, unless_usable: bool = False) -> Manifest | None:
    """build_index; with ``unless_usable``, None without building when the live generation is
    usable once the build lock is held (another process built it while this one waited)."""
    report = progress or (lambda *_: None)
    folder = settings.index_dir
    _adopt_folder(folder)
    with _build_lock(folder):
        if unless_usable and index_status(settings).usable:
            return None
        _remove_dead_builds(folder)
        previous = _previous(folder) if reuse else None
        try:
            building = Path(tempfile.mkdtemp(prefix=BUILDING_PREFIX, dir=folder))
            building.chmod(0o755)  # mkdtemp makes it private; an index is meant to be shared
        except OSError as exc:
            raise _unwritable(folder, exc) from exc
        generation = None
        try:
            manifest = _build_into(building, settings, report, previous)
            generation = folder / f"{GENERATION_PREFIX}{time.time_ns()}"
            building.rename(generation)
            _point_current_at(folder, generation)
        except OSError as exc:
            needed = _space_needed(building, previous, settings)
            _discard(folder, building, generation)
            raise _unwritable(folder, exc, needed) from exc
        except Exception as exc:
            if isinstance(exc, PdqaError) or not _disk_full(folder):
                _discard(folder, building, generation)
                raise
            # A library that reports a full disk in its own words (a RuntimeError, a
            # serialisation error) still means a full disk.
            needed = _space_needed(building, previous, settings)
            _discard(folder, building, generation)
            raise _unwritable(folder, OSError(errno.ENOSPC, str(exc)), needed) from exc
        except BaseException:
            _discard(folder, building, generation)
            raise
        finally:
            if previous is not None:
                previous.close()
        _remove_old_generations(folder, keep=generation)
    return manifest


def _discard(folder: Path, building: Path, generation: Path | None) -> None:
    """Remove what a failed build wrote: its build folder, or the generation it became if CURRENT
    does not name it (the build failed between the rename and the pointer)."""
    shutil.rmtree(building, ignore_errors=True)
    if generation is None or not generation.is_dir():
        return
    try:
        live = _current_generation(folder)
    except IndexCorrupt:
        return  # cannot tell which generation is live: leave it
    if live != generation:
        shutil.rmtree(generation, ignore_errors=True)


def _unwritable(folder: Path, exc: OSError, needed: int | None = None) -> IndexUnwritable:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        # Whole megabytes, rounded up: a generation of 120 kB is "about 1 MB", never "about 0 MB".
        space = f" (about {-(-needed // 1_000_000)} MB needed)" if needed else ""
        return IndexUnwritable(f"no space left to build the index in {folder}{space}",
                               "Free some disk space, or point PDQA_INDEX__DIR at a disk with room.")
    return IndexUnwritable(f"cannot build the index in {folder}: {exc.strerror or exc}")


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _space_needed(building: Path, previous: Index | None, settings: Settings) -> int | None:
    """A rough size of the new generation, at least what the failed build wrote: the live
    generation's own files (not the encoder a new one links), else, on a first build, the model
    (the encoder is exported from it) and a few times the corpus (texts, store, BM25, vectors)."""
    try:
        if previous is not None:
            estimate = _own_bytes(previous.path)
        else:
            corpus = sum(path.stat().st_size for path in corpus_file_paths(settings.corpus_dir))
            estimate = weights_path(model_dir_of(settings)).stat().st_size + 4 * corpus
        return max(estimate, _own_bytes(building)) or None
    except (OSError, CorpusError):
        return None


def _own_bytes(folder: Path) -> int:
    """Bytes of the files below ``folder`` that no other generation shares by a link."""
    total = 0
    for path in folder.rglob("*"):
        stat = path.lstat()
        if path.is_file() and stat.st_nlink == 1:
            total += stat.st_size
    return total


def _adopt_folder(folder: Path) -> None:
    """Make sure ``folder`` is pdqa's: a new or empty folder is marked; any other is refused."""
    if folder.exists() and not folder.is_dir():
        raise IndexFolderError(f"the index folder {folder} is a file")
    marker = folder / MARKER_FILE
    if marker.is_file():
        return
    try:
        entries = sorted(os.listdir(folder)) if folder.is_dir() else []
    except OSError as exc:
        raise _unwritable(folder, exc) from exc
    if _is_legacy_index(folder, entries):
        _remove_legacy_index(folder, entries)
        entries = []
    foreign = [name for name in entries if name != LOCK_FILE]
    if foreign:
        shown = ", ".join(name + ("/" if (folder / name).is_dir() else "") for name in foreign[:4])
        more = f" and {len(foreign) - 4} more" if len(foreign) > 4 else ""
        raise IndexFolderError(f"{folder} is not a pdqa index folder (it holds {shown}{more}); pdqa will not write there")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"pdqa_index": INDEX_FORMAT}) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _unwritable(folder, exc) from exc


# What an index of formats 1-5 (one flat folder, before generations) held; such a folder is
# pdqa's own and is cleared when it is first rebuilt.
LEGACY_ENTRIES = frozenset(
    {"manifest.json", "chunks.jsonl", "units.jsonl", "chunks.faiss", "units.npy", "terms.json", "bm25", "texts", "encoder"}
)


def _is_legacy_index(folder: Path, entries: list[str]) -> bool:
    if "manifest.json" not in entries or not set(entries) <= LEGACY_ENTRIES:
        return False
    try:
        record = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and isinstance(record.get("index_format"), int) and record["index_format"] < 6


def _remove_legacy_index(folder: Path, entries: list[str]) -> None:
    for name in entries:
        path = folder / name
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError as exc:
            raise _unwritable(folder, exc) from exc


class _build_lock:
    """One build at a time per index folder: two shells rebuilding a stale index take turns."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self):
        try:
            self.handle = (self.folder / LOCK_FILE).open("a")
        except OSError as exc:
            raise _unwritable(self.folder, exc) from exc
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc_info):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _remove_dead_builds(folder: Path) -> None:
    """Remove what a killed build left behind, its build folder and its unrenamed CURRENT pointer:
    under the build lock, no build is running."""
    for leftover in folder.glob(f"{BUILDING_PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    for pointer in folder.glob(f".{CURRENT_FILE}.*"):
        if POINTER_NAME.fullmatch(pointer.name) and pointer.is_file():
            pointer.unlink(missing_ok=True)


def _previous(folder: Path) -> Index | None:
    """The live generation, read for what a build may reuse (its vectors and texts), if intact."""
    try:
        generation = _current_generation(folder)
        if generation is None:
            return None
        lock = _shared_lock(generation)
        with lock:
            manifest = read_manifest(generation)
            if _format_change(manifest) or file_problems(generation, manifest, (*_hashed_on_load(manifest), *VECTOR_FILES)):
                return None  # damaged vectors or stored texts must not live on in the new index
            return _read_generation(generation, manifest, lock.keep(), whole=False)
    except (_GenerationGone, IndexCorrupt, IndexNotBuilt):
        return None


def _point_current_at(folder: Path, generation: Path) -> None:
    pointer = folder / f".{CURRENT_FILE}.{os.getpid()}"
    try:
        pointer.write_text(generation.name + "\n", encoding="utf-8")
        os.replace(pointer, folder / CURRENT_FILE)
    except BaseException:
        pointer.unlink(missing_ok=True)  # a half-written pointer is never left behind
        raise


def _remove_old_generations(folder: Path, keep: Path) -> None:
    """Remove every generation but ``keep`` that no process has open (its manifest not locked)."""
    for generation in folder.glob(f"{GENERATION_PREFIX}*"):
        if generation == keep or not generation.is_dir():
            continue
        try:
            handle = open(generation / MANIFEST_FILE, "rb")
        except FileNotFoundError:
            # A removal killed after the manifest went: no load can hold it (a load locks the
            # manifest), so the rest goes too, lest such folders pile up. Only pdqa's own names.
            if GENERATION_NAME.fullmatch(generation.name):
                shutil.rmtree(generation, ignore_errors=True)
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # still open in another process; a later build removes it
            shutil.rmtree(generation, ignore_errors=True)


def _build_into(folder: Path, settings: Settings, report: Progress, previous: Index | None) -> Manifest:
    total = len(BUILD_STEPS)
    report(BUILD_STEPS[0], 1, total)
    corpus = load_corpus(settings.corpus_dir, settings.corpus, known=_known_texts(previous))
    report(BUILD_STEPS[1], 2, total)
    chunks, units = chunk_corpus(corpus, settings.index.chunk_max_chars)
    report(BUILD_STEPS[2], 3, total)
    model_dir = model_dir_of(settings)
    model_sha = file_sha256(weights_path(model_dir))
    _provide_encoder(previous, folder / ENCODER_DIR, model_dir, model_sha)
    embedder = OnnxEmbedder(folder / ENCODER_DIR)
    report(BUILD_STEPS[3], 4, total)
    known = _previous_vectors(previous, model_sha)
    groups = [[chunk.text for chunk in chunks], [unit.text for unit in units]]
    embedding = _EmbedProgress(groups, known, lambda detail: report(f"{BUILD_STEPS[3]} {detail}", 4, total))
    chunk_vectors = _embed_new(embedder, groups[0], known, embedding)
    unit_vectors = _embed_new(embedder, groups[1], known, embedding)
    report(BUILD_STEPS[4], 5, total)
    search = _write_chunk_index(folder / CHUNK_VECTORS_FILE, chunk_vectors, unit_vectors)
    np.save(folder / UNIT_VECTORS_FILE, unit_vectors, allow_pickle=False)
    save_store(folder, chunks, units)
    BM25Ranker.build([keyword_text(chunk) for chunk in chunks]).save(folder / BM25_DIR)
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    BM25Ranker.build([_unit_keywords(unit, by_id[unit.chunk_id]) for unit in units]).save(folder / UNIT_BM25_DIR)
    write_texts(corpus, folder / TEXTS_DIR)
    manifest = _manifest(settings, corpus, model_dir, model_sha, chunks, units, embedder.dimension, search)
    manifest.files = {path.relative_to(folder).as_posix(): _file_info(path) for path in _files_below(folder)}
    # The manifest goes last: its presence is what marks the folder as a complete generation.
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def _known_texts(previous: Index | None) -> Callable[[str, str], Extracted | None]:
    """What the live generation extracted from a file with this sha256, with today's readers."""
    if previous is None or previous.manifest.readers_sha256 != READERS_SHA256:
        return lambda path, sha256: None
    recorded = {f.path: f for f in previous.manifest.corpus_files if f.text_sha256}

    def known(path: str, sha256: str) -> Extracted | None:
        info = recorded.get(path)
        if info is None or info.sha256 != sha256 or path not in previous.store.texts:
            return None
        return Extracted(previous.store.texts[path], info.format, info.title,
                         tuple(tuple(p) for p in info.page_map or ()), tuple(info.page_labels or ()),
                         tuple(tuple(r) for r in info.regions or ()), info.pages)

    return known


def _unit_keywords(unit: Unit, chunk: Chunk) -> str:
    """What the units' BM25 sees of a unit: its section heading too, as for a chunk."""
    return f"{chunk.section}\n{unit.text}" if chunk.section and unit.kind != "heading" else unit.text


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _previous_vectors(previous: Index | None, model_sha: str) -> dict[bytes, np.ndarray]:
    """The live generation's vectors by text hash, when the same network made them."""
    if previous is None or previous.manifest.model_sha256 != model_sha:
        return {}
    chunk_vectors = previous.chunk_index.reconstruct_n(0, previous.chunk_index.ntotal)
    known = {_text_key(c.text): vector for c, vector in zip(previous.store.iter_chunks(), chunk_vectors)}
    known.update((_text_key(u.text), np.asarray(vector)) for u, vector in zip(previous.store.iter_units(), previous.unit_vectors))
    return known


class _EmbedProgress:
    """Reports texts embedded of those the build must embed, with rate and time left."""

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


def _manifest(settings, corpus: Corpus, model_dir: Path, model_sha: str, chunks, units, dimension: int, search) -> Manifest:
    stat = weights_path(model_dir).stat()
    return Manifest(
        pdqa_version=__version__,
        index_format=INDEX_FORMAT,
        corpus_dir=str(Path(settings.corpus_dir).expanduser().resolve()),
        embedding_model=model_name(model_dir),
        model_sha256=model_sha,
        model_size=stat.st_size,
        model_mtime_ns=stat.st_mtime_ns,
        dimension=dimension,
        chunker=chunker_params(settings.index.chunk_max_chars),
        readers_sha256=READERS_SHA256,
        corpus_files=corpus.file_infos(),
        documents=corpus.documents,
        not_found=corpus.not_found,
        metadata_sha256=metadata_hash(settings.corpus_dir),
        chunk_count=len(chunks),
        unit_count=len(units),
        chunk_search=search,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _files_below(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _file_info(path: Path) -> IndexFileInfo:
    return IndexFileInfo(sha256=file_sha256(path), size=path.stat().st_size)


def _provide_encoder(previous: Index | None, encoder_dir: Path, model_dir: Path, model_sha: str) -> None:
    """Reuse the live generation's ONNX export when the model is unchanged and its files are intact."""
    if (
        previous is not None
        and previous.manifest.model_sha256 == model_sha
        and all(name in previous.manifest.files for name in ENCODER_FILES)
        and not file_problems(previous.path, previous.manifest, hashed=ENCODER_FILES, names=ENCODER_FILES)
    ):
        encoder_dir.mkdir()
        for name in (ONNX_FILE, TOKENIZER_FILE):
            _link_or_copy(previous.encoder_dir / name, encoder_dir / name)
        return
    export_onnx(model_dir, encoder_dir)


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def _write_chunk_index(path: Path, chunk_vectors: np.ndarray, unit_vectors: np.ndarray) -> ChunkSearch:
    import faiss

    from .ann import build_chunk_search

    index, search = build_chunk_search(chunk_vectors, unit_vectors)
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:  # faiss reports a full disk as its own "write error"
        raise OSError(errno.ENOSPC if shutil.disk_usage(path.parent).free < 1 << 20 else errno.EIO,
                      f"faiss could not write {path.name}") from exc
    return search
