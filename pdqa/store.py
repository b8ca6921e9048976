"""The chunk store: chunks and units as offsets into the stored texts, saved in columns.

A chunk or unit is never saved with its text: it is ``stored_text[start:end]`` of its corpus
file, cut when the record is first asked for. So a quote can only ever be the stored text at its
offsets, and loading 100,000 chunks reads a few integer arrays and one table of strings instead
of validating 200,000 JSON records (1.2–1.6 s at that size, bench/scale.py, 2026-11-26).

Files (inside an index generation)::

    store.npz     integer columns: chunk start/end/file/document/section/kind/page/first unit,
                  unit start/end/chunk/kind/page
    store.json    the strings the columns point into: files, documents, sections, chunk ids
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from .models import Chunk, Unit

STORE_ARRAYS = "store.npz"
STORE_STRINGS = "store.json"
CHUNK_KINDS = ("paragraph", "list", "heading", "table", "footnote", "front")
UNIT_KINDS = ("sentence", "list", "heading", "item", "row", "footnote")
NO_PAGE = -1


class StoreError(ValueError):
    """The store's files do not fit together (a count, an offset or an index out of range)."""


def save_store(folder: Path, chunks: Sequence[Chunk], units: Sequence[Unit]) -> None:
    """Write chunks and units (units grouped by chunk, in chunk order) into ``folder``."""
    files = list(dict.fromkeys(chunk.path for chunk in chunks))
    documents = list(dict.fromkeys((chunk.doc_id, chunk.title) for chunk in chunks))
    sections = list(dict.fromkeys(chunk.section for chunk in chunks))
    file_of, document_of = {p: i for i, p in enumerate(files)}, {d: i for i, d in enumerate(documents)}
    section_of = {s: i for i, s in enumerate(sections)}
    position = {chunk.chunk_id: i for i, chunk in enumerate(chunks)}
    unit_chunk = np.array([position[unit.chunk_id] for unit in units], dtype=np.int64)
    if len(unit_chunk) and np.any(np.diff(unit_chunk) < 0):
        raise StoreError("units must be grouped by chunk, in chunk order")
    first_unit = np.searchsorted(unit_chunk, np.arange(len(chunks) + 1))
    arrays = {
        "chunk_start": [c.start for c in chunks],
        "chunk_end": [c.end for c in chunks],
        "chunk_file": [file_of[c.path] for c in chunks],
        "chunk_document": [document_of[(c.doc_id, c.title)] for c in chunks],
        "chunk_section": [section_of[c.section] for c in chunks],
        "chunk_kind": [CHUNK_KINDS.index(c.kind) for c in chunks],
        "chunk_page": [NO_PAGE if c.page is None else c.page for c in chunks],
        "chunk_first_unit": first_unit,
        "unit_start": [u.start for u in units],
        "unit_end": [u.end for u in units],
        "unit_chunk": unit_chunk,
        "unit_kind": [UNIT_KINDS.index(u.kind) for u in units],
        "unit_page": [NO_PAGE if u.page is None else u.page for u in units],
    }
    np.savez(folder / STORE_ARRAYS, **{name: np.asarray(values, dtype=np.int64) for name, values in arrays.items()})
    strings = {
        "files": files,
        "documents": [{"doc_id": doc_id, "title": title} for doc_id, title in documents],
        "sections": sections,
        "chunk_ids": [c.chunk_id for c in chunks],
    }
    (folder / STORE_STRINGS).write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")


class ChunkStore:
    """Chunks and units of one index, made into records when first asked for.

    Args:
        folder: The index generation holding the store files.
        texts: The stored text of each corpus file, by its path relative to the corpus folder.
        page_labels: The printed label of each page of the files that have them (PDFs).

    Raises:
        StoreError, OSError, ValueError: The files are missing, unreadable or do not fit together.
    """

    def __init__(self, folder: Path, texts: dict[str, str], page_labels: dict[str, list[str]] | None = None):
        with np.load(folder / STORE_ARRAYS, allow_pickle=False) as arrays:
            self._a = {name: arrays[name] for name in arrays.files}
        strings = json.loads((folder / STORE_STRINGS).read_text(encoding="utf-8"))
        self.files: list[str] = strings["files"]
        self._documents: list[dict] = strings["documents"]
        self._sections: list[str] = strings["sections"]
        self.chunk_ids: list[str] = strings["chunk_ids"]
        self.texts = texts
        self.page_labels = page_labels or {}
        self._chunks: dict[int, Chunk] = {}
        self._units: dict[int, Unit] = {}
        self._check()

    def _check(self) -> None:
        a = self._a
        n_chunks, n_units = len(self.chunk_ids), len(a["unit_start"])
        if any(len(a[f"chunk_{name}"]) != n_chunks for name in ("start", "end", "file", "document", "section", "kind", "page")):
            raise StoreError("chunk columns differ in length")
        if len(a["chunk_first_unit"]) != n_chunks + 1 or (n_chunks and a["chunk_first_unit"][-1] != n_units):
            raise StoreError("unit ranges do not cover the units")
        missing = [path for path in self.files if path not in self.texts]
        if missing:
            raise StoreError(f"no stored text for {missing[0]}")
        lengths = np.array([len(self.texts[path]) for path in self.files], dtype=np.int64)
        if n_chunks and (np.any(a["chunk_end"] > lengths[a["chunk_file"]]) or np.any(a["chunk_start"] > a["chunk_end"])):
            raise StoreError("a chunk's offsets lie outside its stored text")
        if n_units and np.any(a["unit_chunk"] >= n_chunks):
            raise StoreError("a unit names no chunk")

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_ids)

    @property
    def unit_count(self) -> int:
        return len(self._a["unit_start"])

    def chunk(self, position: int) -> Chunk:
        """The chunk at ``position`` (its row in the FAISS and BM25 indexes)."""
        found = self._chunks.get(position)
        if found is None:
            a, i = self._a, position
            path = self.files[a["chunk_file"][i]]
            document = self._documents[a["chunk_document"][i]]
            start, end, page = int(a["chunk_start"][i]), int(a["chunk_end"][i]), int(a["chunk_page"][i])
            # model_construct: the store was checked as a whole at load; validating each record
            # again is what made the JSON store slow.
            found = self._chunks[position] = Chunk.model_construct(
                chunk_id=self.chunk_ids[i], doc_id=document["doc_id"], title=document["title"],
                section=self._sections[a["chunk_section"][i]], path=path, start=start, end=end,
                text=self.texts[path][start:end], kind=CHUNK_KINDS[a["chunk_kind"][i]],
                page=None if page == NO_PAGE else page, page_label=self._label(path, page),
            )
        return found

    def _label(self, path: str, page: int) -> str | None:
        labels = self.page_labels.get(path)
        return labels[page - 1] if labels and 0 < page <= len(labels) else None

    def unit(self, unit_id: int) -> Unit:
        """The unit whose ``unit_id`` (its row in the unit vectors) is given."""
        found = self._units.get(unit_id)
        if found is None:
            a = self._a
            chunk = self.chunk(int(a["unit_chunk"][unit_id]))
            start, end, page = int(a["unit_start"][unit_id]), int(a["unit_end"][unit_id]), int(a["unit_page"][unit_id])
            found = self._units[unit_id] = Unit.model_construct(
                unit_id=unit_id, chunk_id=chunk.chunk_id, start=start, end=end,
                text=self.texts[chunk.path][start:end], kind=UNIT_KINDS[a["unit_kind"][unit_id]],
                page=None if page == NO_PAGE else page, page_label=self._label(chunk.path, page),
            )
        return found

    @cached_property
    def _position_of(self) -> dict[str, int]:
        return {chunk_id: i for i, chunk_id in enumerate(self.chunk_ids)}

    def position(self, chunk_id: str) -> int:
        """The row of a chunk by its id; KeyError when there is none."""
        return self._position_of[chunk_id]

    def chunk_by_id(self, chunk_id: str) -> Chunk:
        return self.chunk(self.position(chunk_id))

    def unit_ids_of(self, position: int) -> range:
        """The unit ids of the chunk at ``position``, in text order."""
        first = self._a["chunk_first_unit"]
        return range(int(first[position]), int(first[position + 1]))

    def units_of(self, chunk_id: str) -> list[Unit]:
        """The units of a chunk, in text order ([] for an unknown id)."""
        position = self._position_of.get(chunk_id)
        return [] if position is None else [self.unit(i) for i in self.unit_ids_of(position)]

    def chunk_of_unit(self, unit_id: int) -> Chunk:
        return self.chunk(int(self._a["unit_chunk"][unit_id]))

    def iter_chunks(self) -> Iterator[Chunk]:
        return (self.chunk(i) for i in range(self.chunk_count))

    def iter_units(self) -> Iterator[Unit]:
        return (self.unit(i) for i in range(self.unit_count))

    def unit_positions(self) -> np.ndarray:
        """The chunk position of every unit, by unit id."""
        return self._a["unit_chunk"]
