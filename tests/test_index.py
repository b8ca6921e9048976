"""Tests for pdqa.index: manifest, staleness, generations, atomic builds and unreadable indexes."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import pdqa.index
from pdqa.bm25 import BM25_FILES
from pdqa.chunking import chunker_params
from pdqa.embeddings import default_model_dir
from pdqa.errors import CorpusError, IndexCorrupt, IndexFallbackWarning, IndexNotBuilt, IndexStale, IndexUnwritable
from pdqa.index import (
    CURRENT_FILE,
    INDEX_FILES,
    INDEX_FORMAT,
    Index,
    IndexFolderError,
    build_index,
    file_problems,
    index_status,
    read_manifest,
)
from pdqa.qa import QA, build
from pdqa.readers import READERS_SHA256

CORPUS_NAME = "innovation-in-action.txt"
META_NAME = "innovation-in-action.meta.json"
TEXT_FILE = f"texts/{CORPUS_NAME}.txt"  # the stored text of the corpus file, inside a generation
APPENDED = "\n\nGarden project\n\nPatients at the Larkspur unit planted a community orchard in spring.\n"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _live(index_dir: Path) -> Path:
    """The live generation: the one CURRENT names."""
    return index_dir / (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()


def _generations(index_dir: Path) -> list[Path]:
    return sorted(index_dir.glob("gen-*"))


def _old_generations(index_dir: Path) -> list[Path]:
    """Generations beside the live one (a build removes those no process has open)."""
    live = _live(index_dir)
    return [generation for generation in _generations(index_dir) if generation != live]


def _building_leftovers(index_dir: Path) -> list[Path]:
    """Build folders left in the index folder (or beside it, where pdqa once built)."""
    return sorted(index_dir.glob(".building-*")) + sorted(index_dir.parent.glob(f".{index_dir.name}.building-*"))


def _chunk_ids(index_dir: Path) -> list[str]:
    return json.loads((_live(index_dir) / "store.json").read_text(encoding="utf-8"))["chunk_ids"]


def _store_arrays(generation: Path) -> dict[str, np.ndarray]:
    with np.load(generation / "store.npz", allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry below ``folder`` with its bytes (None for a folder)."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes() if path.is_file() else None)
        for path in folder.rglob("*")
    }


def _open_use(settings) -> Index:
    """The live generation as it is (stale or not), never rebuilt."""
    return Index.open(settings, on_stale="use")


@pytest.fixture
def scratch_settings(scratch_settings):
    """conftest's private copy of the corpus and index, the index re-pointed at the copied corpus.

    An index serves only the corpus folder it was built from, so a plain copy of the session index
    is "built for another corpus folder" (the session corpus); the copy's manifest is made to name
    the copied corpus instead, as if it had been built there (nothing else in it names the folder).
    """
    generation = _live(scratch_settings.index_dir)
    manifest = read_manifest(generation)
    moved = manifest.model_copy(update={"corpus_dir": str(scratch_settings.corpus_dir.resolve())})
    (generation / "manifest.json").write_text(moved.model_dump_json(indent=2), encoding="utf-8")
    assert index_status(scratch_settings).reasons == []
    return scratch_settings


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A copy of the bundled model folder, free to modify."""
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    return folder


# ---------------------------------------------------------------- manifest


def test_manifest_records_model_corpus_and_chunker(built_settings):
    manifest = read_manifest(_live(built_settings.index_dir))

    assert manifest.embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest.dimension == 384
    assert manifest.model_sha256 == _sha256(default_model_dir() / "model.safetensors")
    corpus_files = sorted(p.name for p in built_settings.corpus_dir.glob("*.txt"))
    assert [f.path for f in manifest.corpus_files] == corpus_files == [CORPUS_NAME]
    for info in manifest.corpus_files:
        assert info.sha256 == _sha256(built_settings.corpus_dir / info.path)
    assert manifest.chunker == chunker_params(built_settings.index.chunk_max_chars)
    assert manifest.chunker["max_chars"] == built_settings.index.chunk_max_chars == 1000
    assert manifest.chunker["name"] == "pdqa-structure-v1"
    assert manifest.corpus_dir == str(built_settings.corpus_dir.resolve())
    assert manifest.readers_sha256 == READERS_SHA256
    assert manifest.index_format == INDEX_FORMAT == 7
    assert manifest.not_found == "The report does not say."  # the bundled report's "calls_itself"


def test_manifest_counts_match_the_stored_chunks_and_units(built_settings):
    manifest = read_manifest(_live(built_settings.index_dir))
    index = Index.open(built_settings)

    assert index.path == _live(built_settings.index_dir)
    assert manifest.chunk_count == index.chunk_count == len(_chunk_ids(built_settings.index_dir))
    assert manifest.chunk_count == len(list(index.store.iter_chunks()))
    assert manifest.unit_count == index.unit_count == len(index.unit_vectors) == len(list(index.store.iter_units()))
    assert index.chunk_index.ntotal == index.chunk_count
    assert index.unit_vectors.shape[1] == manifest.dimension
    assert manifest.chunk_count >= 10
    index.close()


def test_chunks_and_units_are_cut_from_the_stored_text(built_settings, corpus_text):
    index = Index.open(built_settings)
    assert index.text_of(CORPUS_NAME) == corpus_text == index.store.texts[CORPUS_NAME]
    for position, chunk in enumerate(index.store.iter_chunks()):
        assert index.chunk(position) == chunk == index.chunk_by_id(chunk.chunk_id)
        assert corpus_text[chunk.start : chunk.end] == chunk.text
        units = index.units_of(chunk.chunk_id)
        assert units and all(unit.chunk_id == chunk.chunk_id for unit in units)
        for unit in units:
            assert index.unit(unit.unit_id) == unit
            assert corpus_text[unit.start : unit.end] == unit.text
            assert chunk.start <= unit.start <= unit.end <= chunk.end
    assert index.units_of("no-such-chunk") == []
    index.close()


@pytest.mark.parametrize("name", ["notes.txt", "notes.md"])
def test_a_file_with_windows_line_ends_is_stored_and_quoted_exactly(built_settings, tmp_path, name):
    """Plain text keeps its "\r\n" (offsets index the file itself); reading the stored text back
    as text turned them into "\n", and every load then failed: "offsets lie outside its stored text"."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    raw = ("Opening hours\r\n\r\nThe canteen opens at eight in the morning.\r\nIt closes at six.\r\n\r\n"
           "Parking\r\n\r\nStaff may park behind the library on weekdays.\r\n").encode("utf-8")
    (corpus / name).write_bytes(raw)
    shutil.copytree(built_settings.index_dir, tmp_path / "index")  # a build there links the encoder
    settings = built_settings.changed(corpus={"dir": corpus}, index={"dir": tmp_path / "index"})
    build(settings)
    text = raw.decode("utf-8")
    with QA(settings) as qa:
        assert qa.index.text_of(name) == text
        units = list(qa.index.store.iter_units())
        assert any("park behind the library" in unit.text for unit in units)
        assert all(unit.text == text[unit.start : unit.end] for unit in units)
        hits = qa.retrieve("Where may staff park?")
    assert hits and all(hit.text == text[hit.start : hit.end] for hit in hits)


def test_index_folder_holds_the_documented_files(built_settings):
    folder = built_settings.index_dir
    live = _live(folder)
    assert {p.name for p in folder.iterdir()} == {"pdqa-index.json", "CURRENT", ".build.lock", live.name}
    assert live.name.startswith("gen-") and _generations(folder) == [live]
    names = {p.relative_to(live).as_posix() for p in live.rglob("*")}
    expected = {"manifest.json", "store.npz", "store.json", "chunks.faiss", "unit_vectors.npy", TEXT_FILE}
    assert expected | {"encoder/model.onnx", "encoder/tokenizer.json"} | set(BM25_FILES) <= names
    assert not any(name.startswith("derived/") for name in names)  # later stages add nothing
    assert not any(name.endswith((".pkl", ".pickle", ".jsonl")) for name in names)


# ---------------------------------------------------------------- staleness


def test_fresh_index_status(built_settings):
    status = index_status(built_settings)
    assert (status.built, status.stale, status.reasons, status.usable) == (True, False, [], True)
    assert status.generation == _live(built_settings.index_dir)
    assert status.manifest == read_manifest(_live(built_settings.index_dir))


def test_same_size_edit_of_a_corpus_file_makes_index_stale(scratch_settings):
    path = scratch_settings.corpus_dir / CORPUS_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Wilson", "Wulson", 1), encoding="utf-8")

    assert path.stat().st_size == read_manifest(_live(scratch_settings.index_dir)).corpus_files[0].size
    assert index_status(scratch_settings).reasons == [f"corpus file changed: {CORPUS_NAME}"]


def _record_hashing(monkeypatch) -> list[Path]:
    hashed: list[Path] = []
    real = pdqa.index.file_sha256
    monkeypatch.setattr(pdqa.index, "file_sha256", lambda path: hashed.append(Path(path)) or real(path))
    return hashed


def test_unchanged_corpus_files_are_not_hashed_by_a_load(scratch_settings, monkeypatch):
    recorded = read_manifest(_live(scratch_settings.index_dir)).corpus_files[0]
    stat = (scratch_settings.corpus_dir / recorded.path).stat()
    assert (recorded.size, recorded.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    hashed = _record_hashing(monkeypatch)

    Index.open(scratch_settings).close()

    assert hashed and not [p for p in hashed if p.is_relative_to(scratch_settings.corpus_dir)]


def test_a_touched_but_unchanged_corpus_file_is_hashed_and_fresh(scratch_settings, monkeypatch):
    path = scratch_settings.corpus_dir / CORPUS_NAME
    path.touch()
    hashed = _record_hashing(monkeypatch)

    assert index_status(scratch_settings).reasons == []
    assert path in hashed


def test_changed_corpus_file_makes_index_stale(scratch_settings):
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)

    status = index_status(scratch_settings)

    assert status.built and status.stale
    assert status.reasons == [f"corpus file changed: {CORPUS_NAME}"]
    with pytest.raises(IndexStale, match="corpus file changed"):
        Index.open(scratch_settings)


def test_new_corpus_file_makes_index_stale(scratch_settings):
    (scratch_settings.corpus_dir / "garden.md").write_text(APPENDED.strip(), encoding="utf-8")

    status = index_status(scratch_settings)

    assert status.stale
    assert status.reasons == ["new corpus file: garden.md"]
    with pytest.raises(IndexStale, match="garden.md"):
        Index.open(scratch_settings)


@pytest.mark.slow
def test_removed_corpus_file_makes_index_stale(scratch_settings):
    extra = scratch_settings.corpus_dir / "garden.txt"
    extra.write_text(APPENDED.strip(), encoding="utf-8")
    build_index(scratch_settings)
    assert index_status(scratch_settings).stale is False

    extra.unlink()

    status = index_status(scratch_settings)
    assert status.stale
    assert status.reasons == ["corpus file removed: garden.txt"]
    with pytest.raises(IndexStale, match="garden.txt"):
        Index.open(scratch_settings)


def test_changed_metadata_makes_index_stale(scratch_settings):
    meta_path = scratch_settings.corpus_dir / META_NAME
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["documents"][1]["title"] = "Vacancy: Joint Head of the OPD Programme"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")

    status = index_status(scratch_settings)

    assert status.stale
    assert status.reasons == ["corpus metadata changed"]
    with pytest.raises(IndexStale, match="metadata"):
        Index.open(scratch_settings)


def test_changed_chunk_size_makes_index_stale(built_settings):
    settings = built_settings.changed(index={"chunk_max_chars": 500})
    assert index_status(settings).reasons == ["chunk size changed"]
    with pytest.raises(IndexStale, match="chunk size changed"):
        Index.open(settings)


def test_changed_chunker_code_makes_index_stale(built_settings, monkeypatch):
    real = pdqa.index.chunker_params
    monkeypatch.setattr(pdqa.index, "chunker_params", lambda max_chars: real(max_chars) | {"code_sha256": "0" * 64})
    assert index_status(built_settings).reasons == ["chunker changed"]
    with pytest.raises(IndexStale, match="chunker changed"):
        Index.open(built_settings)


def test_changed_reader_makes_index_stale(built_settings, monkeypatch):
    monkeypatch.setattr(pdqa.index, "READERS_SHA256", "0" * 64)
    assert index_status(built_settings).reasons == ["reader changed"]
    with pytest.raises(IndexStale, match="reader changed"):
        Index.open(built_settings)


def test_changed_model_makes_index_stale(built_settings, model_copy):
    with (model_copy / "model.safetensors").open("ab") as handle:
        handle.write(b"\0")
    settings = built_settings.changed(index={"model_dir": model_copy})

    status = index_status(settings)

    assert status.stale
    assert status.reasons == ["embedding model changed"]
    with pytest.raises(IndexStale, match="embedding model"):
        Index.open(settings)
    with pytest.raises(IndexStale, match="embedding model"):
        QA(settings)


def test_model_copy_with_new_timestamp_but_same_bytes_is_not_stale(built_settings, model_copy):
    # Size and mtime only decide when to hash; the same weights under a new mtime are the same model.
    weights = model_copy / "model.safetensors"
    original = default_model_dir() / "model.safetensors"
    weights.unlink()
    shutil.copyfile(original, weights)
    assert weights.stat().st_mtime_ns != original.stat().st_mtime_ns
    settings = built_settings.changed(index={"model_dir": model_copy})

    assert index_status(settings).reasons == []
    index = Index.open(settings)
    assert index.manifest == read_manifest(_live(built_settings.index_dir))
    index.close()


def test_an_answer_model_setting_does_not_make_the_index_stale(built_settings):
    # The answer stage derives its own files beside a generation: no answer setting is part of the index.
    settings = built_settings.changed(answer={"min_confidence": 0.0, "max_units": 1})
    assert index_status(settings).reasons == []


def test_qa_refuses_a_stale_index(scratch_settings):
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)
    with pytest.raises(IndexStale, match="corpus file changed"):
        QA(scratch_settings)


def test_qa_refuses_a_missing_index(built_settings, tmp_path):
    settings = built_settings.changed(index={"dir": tmp_path / "nowhere"})
    with pytest.raises(IndexNotBuilt):
        QA(settings)
    assert not (tmp_path / "nowhere").exists()  # refusing builds nothing


@pytest.mark.slow
def test_qa_auto_rebuilds_a_stale_index_and_finds_the_new_text(scratch_settings):
    before = read_manifest(_live(scratch_settings.index_dir))
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)
    notices: list[str] = []

    qa = QA(scratch_settings, on_stale="rebuild", notice=notices.append)

    assert qa.rebuilt is True
    assert notices == [f"Index is stale (corpus file changed: {CORPUS_NAME}); building it now."]
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (True, False)
    assert status.generation == qa.index.path == _live(scratch_settings.index_dir)
    assert status.manifest.chunk_count == before.chunk_count + 1  # heading opens its paragraph
    new_sha = _sha256(scratch_settings.corpus_dir / CORPUS_NAME)
    assert [f.sha256 for f in status.manifest.corpus_files] == [new_sha] != [
        f.sha256 for f in before.corpus_files
    ]
    hits = qa.retrieve("Which unit planted a community orchard?", k=3)
    assert "Larkspur unit planted a community orchard" in hits[0].text
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert _old_generations(scratch_settings.index_dir) == []
    qa.close()


def test_qa_auto_does_not_rebuild_a_fresh_index(built_settings):
    live = _live(built_settings.index_dir)
    built_at = read_manifest(live).built_at
    qa = QA(built_settings, on_stale="rebuild")
    assert qa.rebuilt is False
    assert _live(built_settings.index_dir) == live == qa.index.path
    assert read_manifest(live).built_at == built_at
    qa.close()


@pytest.mark.slow
def test_chunk_ids_are_identical_across_builds(built_settings, scratch_settings):
    first = _live(scratch_settings.index_dir)
    manifest = build_index(scratch_settings)

    second = _live(scratch_settings.index_dir)
    assert second != first
    assert _chunk_ids(scratch_settings.index_dir) == _chunk_ids(built_settings.index_dir)
    assert manifest.chunk_count == len(_chunk_ids(built_settings.index_dir))
    session = _live(built_settings.index_dir)
    assert (second / "store.json").read_bytes() == (session / "store.json").read_bytes()
    arrays, expected = _store_arrays(second), _store_arrays(session)
    assert arrays.keys() == expected.keys()
    for name in expected:
        assert np.array_equal(arrays[name], expected[name]), name


# ---------------------------------------------------------------- atomic build


class _BuildFailure(RuntimeError):
    pass


def _fail_while_writing_chunks(monkeypatch) -> None:
    """Make the build fail after it has already written part of the new generation."""
    real_save = pdqa.index.save_store

    def save_then_fail(folder, chunks, units):
        real_save(folder, chunks, units)
        raise _BuildFailure(f"disk full after writing the chunk store in {folder.name}")

    monkeypatch.setattr(pdqa.index, "save_store", save_then_fail)


def _fail_while_loading_model(monkeypatch) -> None:
    def refuse(encoder_dir):
        raise _BuildFailure("model cannot be loaded")

    monkeypatch.setattr(pdqa.index, "OnnxEmbedder", refuse)


def _fail_while_swapping_in(monkeypatch) -> None:
    """Make the rename of the finished build folder into a generation fail."""
    real_rename = Path.rename

    def rename(self, target):
        if ".building-" in self.name:
            raise _BuildFailure(f"cannot rename {self.name}")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)


def _fail_while_pointing_current(monkeypatch) -> None:
    """Make the build fail once its generation is complete, before CURRENT names it."""

    def refuse(folder, generation):
        raise _BuildFailure(f"cannot point CURRENT at {generation.name}")

    monkeypatch.setattr(pdqa.index, "_point_current_at", refuse)


@pytest.mark.slow
@pytest.mark.parametrize(
    "sabotage", [_fail_while_writing_chunks, _fail_while_loading_model, _fail_while_swapping_in, _fail_while_pointing_current]
)
def test_failed_build_leaves_previous_index_in_place(scratch_settings, monkeypatch, sabotage):
    folder = scratch_settings.index_dir
    live = _live(folder)
    before = read_manifest(live)
    stored_before = _snapshot(live)
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)
    sabotage(monkeypatch)

    with pytest.raises(_BuildFailure):
        build_index(scratch_settings)

    assert _live(folder) == live
    index = _open_use(scratch_settings)
    assert index.path == live
    assert index.manifest == before
    assert index.manifest.built_at == before.built_at
    assert index.chunk_count == before.chunk_count
    index.close()
    assert _snapshot(live) == stored_before
    assert _building_leftovers(folder) == []
    assert _old_generations(folder) == []
    assert {p.name for p in folder.iterdir()} == {"pdqa-index.json", "CURRENT", ".build.lock", live.name}
    # The corpus did change, so the surviving index must say it is stale rather than pose as new.
    assert index_status(scratch_settings).reasons == [f"corpus file changed: {CORPUS_NAME}"]


@pytest.mark.slow
def test_failed_build_of_unchanged_corpus_keeps_a_loadable_fresh_index(scratch_settings, monkeypatch):
    before = read_manifest(_live(scratch_settings.index_dir))
    _fail_while_writing_chunks(monkeypatch)

    with pytest.raises(_BuildFailure):
        build_index(scratch_settings)

    index = Index.open(scratch_settings)
    assert index.manifest.built_at == before.built_at
    index.close()
    assert _building_leftovers(scratch_settings.index_dir) == []


# ---------------------------------------------------------------- missing or unreadable index


@pytest.mark.parametrize("damage", ["manifest", "generation"])
def test_live_generation_without_manifest_is_not_built_and_is_rebuilt(scratch_settings, damage):
    live = _live(scratch_settings.index_dir)
    if damage == "manifest":
        (live / "manifest.json").unlink()
    else:
        shutil.rmtree(live)

    status = index_status(scratch_settings)
    assert (status.built, status.stale, status.manifest) == (False, True, None)
    assert status.reasons == [f"the live generation {live.name} has no manifest.json"]
    for on_stale in ("raise", "use"):
        with pytest.raises(IndexCorrupt, match=f"{live.name} has no manifest.json"):
            Index.open(scratch_settings, on_stale=on_stale)
    qa = QA(scratch_settings, on_stale="rebuild")
    assert qa.rebuilt and qa.index.path != live
    qa.close()
    assert index_status(scratch_settings).reasons == []


def test_folder_without_current_is_not_built(scratch_settings):
    (scratch_settings.index_dir / CURRENT_FILE).unlink()

    with pytest.raises(IndexNotBuilt):
        Index.open(scratch_settings)
    status = index_status(scratch_settings)
    assert (status.built, status.manifest, status.reasons) == (False, None, ["not built"])


def test_missing_index_folder_is_not_built(built_settings, tmp_path):
    settings = built_settings.changed(index={"dir": tmp_path / "absent"})
    with pytest.raises(IndexNotBuilt):
        Index.open(settings)
    assert index_status(settings).built is False


@pytest.mark.parametrize("current", ["", "../elsewhere\n", "gen-1/../../x\n", "not-a-generation\n"])
def test_current_naming_no_generation_raises_index_corrupt(scratch_settings, current):
    (scratch_settings.index_dir / CURRENT_FILE).write_text(current, encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="names no generation"):
        Index.open(scratch_settings)


@pytest.mark.parametrize(
    "manifest_text",
    ['{"pdqa_version": "0.1.0", ', '{"pdqa_version": "0.1.0"}', "[]", ""],
    ids=["truncated", "missing-fields", "not-an-object", "empty"],
)
def test_corrupt_manifest_raises_index_corrupt(scratch_settings, manifest_text):
    (_live(scratch_settings.index_dir) / "manifest.json").write_text(manifest_text, encoding="utf-8")

    with pytest.raises(IndexCorrupt):
        Index.open(scratch_settings)
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (False, True)


@pytest.mark.parametrize(
    "missing",
    ["store.npz", "store.json", TEXT_FILE, "chunks.faiss", "unit_vectors.npy", "encoder/model.onnx", "bm25/vocab.index.json"],
)
def test_missing_index_file_with_valid_manifest_raises_index_corrupt(scratch_settings, missing):
    (_live(scratch_settings.index_dir) / missing).unlink()
    assert read_manifest(_live(scratch_settings.index_dir)).chunk_count > 0

    with pytest.raises(IndexCorrupt, match=re.escape(missing)):
        Index.open(scratch_settings)


def _drop_last_chunk_id(generation: Path) -> None:
    path = generation / "store.json"
    strings = json.loads(path.read_text(encoding="utf-8"))
    strings["chunk_ids"] = strings["chunk_ids"][:-1]
    path.write_text(json.dumps(strings), encoding="utf-8")


def _garble_strings(generation: Path) -> None:
    path = generation / "store.json"
    path.write_text('{"chunk_id": "x"}\n' + path.read_text(encoding="utf-8"), encoding="utf-8")


def _offsets_past_the_text(generation: Path) -> None:
    arrays = _store_arrays(generation)
    arrays["chunk_end"] = arrays["chunk_end"] + 1_000_000
    np.savez(generation / "store.npz", **arrays)


@pytest.mark.parametrize("damage", [_drop_last_chunk_id, _garble_strings, _offsets_past_the_text])
@pytest.mark.parametrize("rehashed", [False, True], ids=["as-damaged", "rehashed"])
def test_damaged_chunk_store_raises_index_corrupt(scratch_settings, damage, rehashed):
    generation = _live(scratch_settings.index_dir)
    damage(generation)
    if rehashed:  # as if the build itself had written the damaged store: the store's own checks refuse it
        _rehash(generation, "store.npz")
        _rehash(generation, "store.json")

    with pytest.raises(IndexCorrupt, match="cannot read index" if rehashed else "index file store"):
        Index.open(scratch_settings)


@pytest.mark.slow
def test_two_builds_at_once_take_turns_and_leave_one_loadable_index(scratch_settings):
    import threading

    errors: list[BaseException] = []

    def build():
        try:
            build_index(scratch_settings)
        except BaseException as exc:  # collected: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    index = Index.open(scratch_settings)
    assert index.chunk_count
    index.close()
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert _old_generations(scratch_settings.index_dir) == []


# ---------------------------------------------------------------- incremental build

QUESTIONS = [
    "Who wrote the Innovation in Action report?",
    "Where does the Joint Team currently work from?",
    "Which unit planted a community orchard?",
    "How long is the initial contract?",
]


class _RecordingEmbedder(pdqa.index.OnnxEmbedder):
    """The real ONNX embedder, recording every text it is asked to embed."""

    embedded: list[str] = []

    def embed(self, texts):
        type(self).embedded.extend(texts)
        return super().embed(texts)


def _record_embedding(monkeypatch) -> list[str]:
    embedded: list[str] = []
    monkeypatch.setattr(_RecordingEmbedder, "embedded", embedded)
    monkeypatch.setattr(pdqa.index, "OnnxEmbedder", _RecordingEmbedder)
    return embedded


def _texts_of(index: Index) -> set[str]:
    return {c.text for c in index.store.iter_chunks()} | {u.text for u in index.store.iter_units()}


def _stored_texts(settings) -> set[str]:
    index = _open_use(settings)
    try:
        return _texts_of(index)
    finally:
        index.close()


def _all_vectors(settings):
    index = _open_use(settings)
    try:
        chunks = index.chunk_index.reconstruct_n(0, index.chunk_index.ntotal)
        return np.vstack([chunks, np.asarray(index.unit_vectors)])
    finally:
        index.close()


def _records(settings) -> tuple[list[dict], list[dict]]:
    index = _open_use(settings)
    try:
        return ([c.model_dump() for c in index.store.iter_chunks()], [u.model_dump() for u in index.store.iter_units()])
    finally:
        index.close()


def _answers(settings) -> list[dict]:
    qa = QA(settings)
    try:
        return [qa.ask(question).model_dump(exclude={"timings_ms"}) for question in QUESTIONS]
    finally:
        qa.close()


def _add_document(corpus_dir: Path) -> None:
    (corpus_dir / "garden.md").write_text("# Garden project\n\n" + APPENDED.strip(), encoding="utf-8")


def _change_document(corpus_dir: Path) -> None:
    _append(corpus_dir / CORPUS_NAME, APPENDED)


def _remove_document(corpus_dir: Path) -> None:
    (corpus_dir / "garden.md").unlink()


@pytest.mark.slow
@pytest.mark.parametrize("change", [_add_document, _change_document, _remove_document])
def test_incremental_build_embeds_only_new_texts_and_equals_a_full_rebuild(
    scratch_settings, tmp_path, monkeypatch, change
):
    if change is _remove_document:
        _add_document(scratch_settings.corpus_dir)
        build(scratch_settings)
    before = _stored_texts(scratch_settings)
    change(scratch_settings.corpus_dir)
    embedded = _record_embedding(monkeypatch)

    build(scratch_settings)

    after = _stored_texts(scratch_settings)
    assert set(embedded) == after - before
    assert len(embedded) == len(after - before)  # each new text once
    assert (len(embedded) > 0) is (change is not _remove_document)
    full = scratch_settings.changed(index={"dir": tmp_path / "full" / "default"})
    build(full, reuse=False)
    assert len(embedded) > len(after - before)  # the full build did embed everything again
    assert _records(scratch_settings) == _records(full)
    incremental, whole = _live(scratch_settings.index_dir), _live(full.index_dir)
    assert (incremental / "store.json").read_bytes() == (whole / "store.json").read_bytes()
    for name, column in _store_arrays(whole).items():
        assert np.array_equal(_store_arrays(incremental)[name], column), name
    assert (incremental / TEXT_FILE).read_bytes() == (whole / TEXT_FILE).read_bytes()
    assert abs(_all_vectors(scratch_settings) - _all_vectors(full)).max() <= 1e-6
    for name in BM25_FILES:  # BM25 is rebuilt whole at every build: the same bytes
        assert (incremental / name).read_bytes() == (whole / name).read_bytes()
    assert _answers(scratch_settings) == _answers(full)


@pytest.mark.slow
def test_incremental_build_finds_the_new_document(scratch_settings):
    _add_document(scratch_settings.corpus_dir)
    build(scratch_settings)
    qa = QA(scratch_settings)
    hits = qa.retrieve("Which unit planted a community orchard?", k=3)
    qa.close()
    assert hits[0].doc_id == "garden"
    assert "Larkspur unit planted a community orchard" in hits[0].text


def test_vectors_are_not_reused_from_an_index_of_another_model(built_settings):
    index = Index.open(built_settings)
    try:
        assert pdqa.index._previous_vectors(index, "0" * 64) == {}
        same_model = pdqa.index._previous_vectors(index, index.manifest.model_sha256)
        assert len(same_model) == len(_texts_of(index)) > index.manifest.chunk_count
    finally:
        index.close()


def test_interrupted_incremental_build_leaves_the_previous_index_loadable(scratch_settings, monkeypatch):
    live = _live(scratch_settings.index_dir)
    before = read_manifest(live)
    stored_before = _snapshot(live)
    _add_document(scratch_settings.corpus_dir)

    class _Interrupted(pdqa.index.OnnxEmbedder):
        def embed(self, texts):
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of embedding

    monkeypatch.setattr(pdqa.index, "OnnxEmbedder", _Interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index(scratch_settings)

    index = _open_use(scratch_settings)
    assert index.manifest == before
    index.close()
    assert _snapshot(live) == stored_before
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert _old_generations(scratch_settings.index_dir) == []
    assert index_status(scratch_settings).reasons == ["new corpus file: garden.md"]


def test_build_removes_folders_a_killed_build_left_behind(scratch_settings):
    dead = scratch_settings.index_dir / ".building-dead1"
    (dead / "encoder").mkdir(parents=True)
    (dead / "store.json").write_text("partial", encoding="utf-8")

    build_index(scratch_settings)

    assert _building_leftovers(scratch_settings.index_dir) == []
    index = Index.open(scratch_settings)
    assert index.chunk_count
    index.close()


# ---------------------------------------------------------------- generations and the folder pdqa owns


def test_a_build_replaces_the_generation_and_removes_the_old_one(scratch_settings):
    folder = scratch_settings.index_dir
    old = _live(folder)

    manifest = build_index(scratch_settings)

    new = _live(folder)
    assert new != old and new.name.startswith("gen-")
    assert _generations(folder) == [new]
    assert read_manifest(new) == manifest
    assert (folder / "pdqa-index.json").is_file()


@pytest.mark.parametrize("held_by", ["this process", "another process"])
def test_a_build_keeps_an_old_generation_that_is_still_open(scratch_settings, held_by):
    folder = scratch_settings.index_dir
    old = _live(folder)
    files_before = read_manifest(old).files
    if held_by == "this process":
        holder = Index.open(scratch_settings)
        assert holder.path == old
    else:
        holder = _HolderProcess(scratch_settings)
        assert holder.generation == old.name

    build_index(scratch_settings)

    new = _live(folder)
    assert new != old
    assert _generations(folder) == [old, new]  # open elsewhere: kept whole, not removed
    assert file_problems(old, read_manifest(old), hashed=files_before.keys()) == []
    if held_by == "this process":  # it still reads its generation after the build
        chunk = holder.chunk(0)
        assert chunk.text == holder.text_of(CORPUS_NAME)[chunk.start : chunk.end]
    holder.close()  # released: the next build may remove it

    build_index(scratch_settings)

    assert _generations(folder) == [_live(folder)]
    assert not old.exists()


class _HolderProcess:
    """Another process with the live generation open, until :meth:`close`."""

    SCRIPT = textwrap.dedent(
        """
        import sys
        from pdqa.index import Index
        from pdqa.settings import Settings
        index = Index.open(Settings(corpus={"dir": sys.argv[1]}, index={"dir": sys.argv[2]}), on_stale="use")
        print(index.path.name, flush=True)
        sys.stdin.readline()
        print(index.chunk_count, index.chunk(0).text[:20], flush=True)
        index.close()
        """
    )

    def __init__(self, settings):
        env = {name: value for name, value in os.environ.items() if not name.startswith("PDQA_")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, str(settings.corpus_dir), str(settings.index_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.generation = self.process.stdout.readline().strip()
        if not self.generation:
            self.process.kill()
            raise AssertionError(self.process.stderr.read())

    def close(self):
        out, err = self.process.communicate("\n", timeout=60)
        assert self.process.returncode == 0, err
        assert out.split()[0].isdigit()  # it still read its generation after the build


def _foreign_files(folder: Path) -> None:
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 not really a cat")
    (folder / "notes.txt").write_text("my notes", encoding="utf-8")


def _old_manifest_beside_other_files(folder: Path) -> None:
    # What an index of format 5 held, and one file pdqa never wrote: not pdqa's folder to clear.
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"index_format": 5}', encoding="utf-8")
    (folder / "chunks.jsonl").write_text("{}\n", encoding="utf-8")
    (folder / "thesis.docx").write_bytes(b"PK not really a document")


def _legacy_names_of_a_newer_format(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"index_format": 6}', encoding="utf-8")
    (folder / "texts").mkdir()
    (folder / "texts" / "mine.txt").write_text("mine", encoding="utf-8")


@pytest.mark.parametrize("contents", [_foreign_files, _old_manifest_beside_other_files, _legacy_names_of_a_newer_format])
def test_a_build_refuses_a_folder_it_did_not_make_and_removes_nothing(built_settings, tmp_path, contents):
    folder = tmp_path / "somebody-elses"
    contents(folder)
    before = _snapshot(folder)
    settings = built_settings.changed(index={"dir": folder})

    with pytest.raises(IndexFolderError, match="is not a pdqa index folder") as caught:
        build_index(settings)
    assert isinstance(caught.value, IndexUnwritable)
    assert _snapshot(folder) == before
    # Opening with on_stale="rebuild" refuses it the same way, and falls back to nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndexFallbackWarning)
        with pytest.raises(IndexFolderError):
            QA(settings, on_stale="rebuild")
    assert _snapshot(folder) == before


def test_a_build_refuses_an_index_folder_that_is_a_file(built_settings, tmp_path):
    path = tmp_path / "index"
    path.write_text("not a folder", encoding="utf-8")
    settings = built_settings.changed(index={"dir": path})

    with pytest.raises(IndexFolderError, match="is a file"):
        build_index(settings)
    assert path.read_text(encoding="utf-8") == "not a folder"


def test_a_build_in_its_own_folder_leaves_what_it_did_not_write(scratch_settings):
    folder = scratch_settings.index_dir
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    stray = folder / "gen-not-from-pdqa"  # named like a generation, but no manifest: not pdqa's
    stray.mkdir()
    (stray / "data.txt").write_text("mine", encoding="utf-8")
    old = _live(folder)

    build_index(scratch_settings)

    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (stray / "data.txt").read_text(encoding="utf-8") == "mine"
    assert not old.exists()
    assert _generations(folder) == sorted([stray, _live(folder)])


def _as_flat_format_5(source: Path, folder: Path) -> None:
    """What pdqa wrote before generations: one flat folder of format 5."""
    generation = _live(source)
    folder.mkdir(parents=True)
    record = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    (folder / "manifest.json").write_text(json.dumps(record | {"index_format": 5}), encoding="utf-8")
    for name in ("chunks.jsonl", "units.jsonl", "terms.json"):
        (folder / name).write_text("{}\n", encoding="utf-8")
    shutil.copyfile(generation / "chunks.faiss", folder / "chunks.faiss")
    shutil.copyfile(generation / "unit_vectors.npy", folder / "units.npy")
    for name in ("bm25", "texts", "encoder"):
        shutil.copytree(generation / name, folder / name)


@pytest.mark.slow
def test_an_old_flat_index_is_recognised_and_cleared_by_a_rebuild(built_settings, tmp_path):
    folder = tmp_path / "indexes" / "old"
    _as_flat_format_5(built_settings.index_dir, folder)
    settings = built_settings.changed(index={"dir": folder})
    assert index_status(settings).reasons == ["not built"]
    with pytest.raises(IndexNotBuilt):
        QA(settings)

    qa = QA(settings, on_stale="rebuild")

    assert qa.rebuilt
    assert {p.name for p in folder.iterdir()} == {"pdqa-index.json", "CURRENT", ".build.lock", qa.index.path.name}
    assert read_manifest(qa.index.path).index_format == INDEX_FORMAT
    assert qa.retrieve("clive house noms", k=3)[0].bm25_rank is not None
    qa.close()


# ---------------------------------------------------------------- stale but usable, and falling back


def test_a_stale_but_intact_index_opens_with_use_and_not_with_raise(scratch_settings):
    folder = scratch_settings.index_dir
    live = _live(folder)
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)

    with pytest.raises(IndexStale, match="corpus file changed"):
        Index.open(scratch_settings, on_stale="raise")
    index = Index.open(scratch_settings, on_stale="use")

    assert index.path == live
    assert index.rebuilt is False
    assert index.stale_reasons == [f"corpus file changed: {CORPUS_NAME}"]
    assert index.chunk_count == read_manifest(live).chunk_count
    assert "Larkspur" not in index.text_of(CORPUS_NAME)  # the index as it was built
    index.close()
    assert _generations(folder) == [live]  # nothing was built
    qa = QA(scratch_settings, on_stale="use")
    assert qa.rebuilt is False
    assert qa.ask("How long is the initial contract for the Joint Head post?").citations
    qa.close()
    with pytest.raises(IndexStale):
        QA(scratch_settings)


def test_use_never_opens_a_damaged_index(scratch_settings):
    (_live(scratch_settings.index_dir) / "chunks.faiss").unlink()
    with pytest.raises(IndexCorrupt, match="chunks.faiss"):
        Index.open(scratch_settings, on_stale="use")


def test_use_never_opens_a_missing_index(built_settings, tmp_path):
    with pytest.raises(IndexNotBuilt):
        Index.open(built_settings.changed(index={"dir": tmp_path / "absent"}), on_stale="use")


def _bad_metadata(corpus_dir: Path, monkeypatch) -> None:
    (corpus_dir / META_NAME).write_text('{"documents": [', encoding="utf-8")


def _full_disk(corpus_dir: Path, monkeypatch) -> None:
    def full(path, chunk_vectors, unit_vectors):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pdqa.index, "_write_chunk_index", full)


@pytest.mark.parametrize("failure", [_bad_metadata, _full_disk])
def test_a_failed_rebuild_answers_from_the_previous_index_of_the_same_corpus(scratch_settings, monkeypatch, failure):
    folder = scratch_settings.index_dir
    live = _live(folder)
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)
    failure(scratch_settings.corpus_dir, monkeypatch)
    error = CorpusError if failure is _bad_metadata else IndexUnwritable

    with pytest.warns(IndexFallbackWarning, match="answering from the index built"):
        qa = QA(scratch_settings, on_stale="rebuild")

    assert qa.rebuilt is False
    assert qa.index.path == live
    assert f"corpus file changed: {CORPUS_NAME}" in qa.index.stale_reasons
    assert qa.ask("How long is the initial contract for the Joint Head post?").citations
    qa.close()
    assert _generations(folder) == [live] and _building_leftovers(folder) == []
    with pytest.raises(error):
        build_index(scratch_settings)


@pytest.mark.parametrize("failure", [_bad_metadata, _full_disk])
def test_a_rebuild_for_another_corpus_folder_never_falls_back_to_the_first_corpus(scratch_settings, tmp_path, monkeypatch, failure):
    folder = scratch_settings.index_dir
    live = _live(folder)
    other = tmp_path / "other-corpus"
    other.mkdir()
    (other / CORPUS_NAME).write_text("Garden project\n\n" + APPENDED.strip() + "\n", encoding="utf-8")
    (other / META_NAME).write_text('{"calls_itself": "the garden log"}', encoding="utf-8")
    settings = scratch_settings.changed(corpus={"dir": other}, index={"dir": folder})
    first_corpus = str(scratch_settings.corpus_dir.resolve())

    status = index_status(settings)
    assert (status.built, status.stale) == (True, True)
    assert status.reasons == [f"built for another corpus folder, {first_corpus}"]
    for on_stale in ("raise", "use"):
        with pytest.raises(IndexStale, match="built for another corpus folder"):
            Index.open(settings, on_stale=on_stale)

    failure(other, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndexFallbackWarning)
        with pytest.raises(CorpusError if failure is _bad_metadata else IndexUnwritable):
            QA(settings, on_stale="rebuild")
    # The first corpus's index is untouched, and still serves only its own corpus.
    assert _live(folder) == live and _generations(folder) == [live]
    Index.open(scratch_settings).close()


# ---------------------------------------------------------------- file hashes in the manifest


def _overwrite_keeping_size(path: Path, offset: int = 1000) -> None:
    """Flip some bytes in the middle of a file without changing its size."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(16)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def test_manifest_records_size_and_sha256_of_every_index_file(built_settings):
    generation = _live(built_settings.index_dir)
    manifest = read_manifest(generation)
    on_disk = {
        path.relative_to(generation).as_posix()
        for path in generation.rglob("*")
        if path.is_file() and path.name != "manifest.json"
    }
    assert set(manifest.files) == on_disk  # every file of a generation is recorded
    assert set(INDEX_FILES) | {TEXT_FILE} <= set(manifest.files)
    for name, recorded in manifest.files.items():
        path = generation / name
        assert (recorded.size, recorded.sha256) == (path.stat().st_size, _sha256(path))


@pytest.mark.parametrize("replacement", ["99", "99 months"])
def test_edited_stored_text_is_refused_not_quoted(scratch_settings, replacement):
    path = _live(scratch_settings.index_dir) / TEXT_FILE
    text = path.read_text(encoding="utf-8")
    assert "initially for 12 months" in text
    path.write_text(text.replace("initially for 12 months", f"initially for {replacement} months"), encoding="utf-8")

    with pytest.raises(IndexCorrupt, match=f"index file {re.escape(TEXT_FILE)}") as caught:
        QA(scratch_settings)
    assert "index build --force" in caught.value.hint
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (False, True)
    assert any(TEXT_FILE in reason for reason in status.reasons)
    with pytest.raises(IndexCorrupt):
        Index.open(scratch_settings, on_stale="use")


@pytest.mark.slow
def test_qa_auto_rebuilds_an_edited_stored_text_and_quotes_the_file(scratch_settings, corpus_text):
    path = _live(scratch_settings.index_dir) / TEXT_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("12 months", "99 months"), encoding="utf-8")
    qa = QA(scratch_settings, on_stale="rebuild")
    answer = qa.ask("How long is the initial contract for the Joint Head post?")
    assert qa.rebuilt
    assert answer.citations
    for citation in answer.citations:
        assert corpus_text[citation.start : citation.end] == citation.quote
    assert "99 months" not in (qa.index.path / TEXT_FILE).read_text(encoding="utf-8")
    assert qa.index.text_of(CORPUS_NAME) == corpus_text
    qa.close()


@pytest.mark.parametrize("name", ["chunks.faiss", "unit_vectors.npy", "encoder/tokenizer.json", "bm25/data.csc.index.npy"])
def test_missing_index_file_is_named_by_status(scratch_settings, name):
    (_live(scratch_settings.index_dir) / name).unlink()
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (False, True)
    assert status.reasons == [f"missing index file {name}"]


@pytest.mark.parametrize("name", ["encoder/model.onnx", "encoder/tokenizer.json"])
def test_truncated_encoder_file_is_named_by_status_and_load(scratch_settings, name):
    path = _live(scratch_settings.index_dir) / name
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 2)
    assert index_status(scratch_settings).reasons == [
        f"index file {name} has {size // 2} bytes, not the {size} it was built with"
    ]
    with pytest.raises(IndexCorrupt, match=f"index file {name} has"):
        Index.open(scratch_settings)


def test_same_size_damage_to_the_encoder_is_found_by_verify_only(scratch_settings):
    _overwrite_keeping_size(_live(scratch_settings.index_dir) / "encoder" / "model.onnx")
    assert index_status(scratch_settings).stale is False  # sizes only: a stat per file
    verified = index_status(scratch_settings, verify=True)
    assert (verified.built, verified.stale) == (False, True)
    assert verified.reasons == ["index file encoder/model.onnx was changed after the build (sha256 differs)"]


@pytest.mark.slow
def test_build_does_not_reuse_a_damaged_encoder_or_damaged_vectors(scratch_settings):
    old = _live(scratch_settings.index_dir)
    original = read_manifest(old).files
    _overwrite_keeping_size(old / "encoder" / "model.onnx")
    _overwrite_keeping_size(old / "unit_vectors.npy", offset=200)

    manifest = build_index(scratch_settings)

    new = _live(scratch_settings.index_dir)
    for name in ("encoder/model.onnx", "unit_vectors.npy"):
        assert manifest.files[name].sha256 == original[name].sha256
        assert _sha256(new / name) == original[name].sha256
    assert index_status(scratch_settings, verify=True).stale is False


@pytest.mark.slow
def test_build_does_not_reuse_a_damaged_stored_text(scratch_settings, corpus_text):
    old = _live(scratch_settings.index_dir)
    path = old / TEXT_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("12 months", "99 months"), encoding="utf-8")

    build_index(scratch_settings)

    assert (_live(scratch_settings.index_dir) / TEXT_FILE).read_text(encoding="utf-8") == corpus_text
    assert index_status(scratch_settings, verify=True).reasons == []


def test_build_in_a_folder_that_cannot_be_written_is_index_unwritable(built_settings, tmp_path, monkeypatch):
    folder = tmp_path / "readonly" / "index"
    settings = built_settings.changed(index={"dir": folder})
    real_open = Path.open

    def refuse_writes(self, mode="r", *args, **kwargs):
        if str(self).startswith(str(tmp_path / "readonly")) and mode != "r":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse_writes)  # root ignores file modes, so fake them
    with pytest.raises(IndexUnwritable, match=re.escape(f"cannot build the index in {folder}: Permission denied")):
        build_index(settings)


def test_a_full_disk_names_the_space_a_build_needs(scratch_settings, monkeypatch):
    _full_disk(scratch_settings.corpus_dir, monkeypatch)
    old = _live(scratch_settings.index_dir)
    with pytest.raises(IndexUnwritable, match=r"no space left to build the index in .* \(about \d+ MB needed\)"):
        build_index(scratch_settings)
    assert _generations(scratch_settings.index_dir) == [old] and _building_leftovers(scratch_settings.index_dir) == []


@pytest.mark.slow
def test_embedding_reports_texts_done_rate_and_time_left(scratch_settings, monkeypatch):
    monkeypatch.setattr(pdqa.index, "EMBED_SLICE", 8)
    reports: list[tuple[str, int, int]] = []
    manifest = build_index(scratch_settings, lambda *report: reports.append(report), reuse=False)
    index = Index.open(scratch_settings)
    total = len(_texts_of(index))  # each distinct text once
    embed = [step for step, number, _ in reports if number == 4]
    assert embed[0] == "embed"
    done = [int(step.split()[1].split("/")[0]) for step in embed[1:]]
    assert done == sorted(done) and done[-1] == total and len(done) >= total // 8
    assert all(step.endswith(" s left") and "/s, " in step and f"/{total} texts" in step for step in embed[1:])
    assert index.unit_vectors.shape[0] == manifest.unit_count
    assert [(step, number) for step, number, _ in reports if number != 4] == [
        ("read corpus", 1), ("chunk", 2), ("prepare encoder", 3), ("write index", 5)
    ]
    index.close()


# ---------------------------------------------------------------- a generation of another format


def _as_format_5(settings) -> None:
    """Turn the live generation into one whose manifest says another index format."""
    generation = _live(settings.index_dir)
    manifest = read_manifest(generation)
    old = manifest.model_copy(update={"index_format": 5})
    (generation / "manifest.json").write_text(old.model_dump_json(indent=2), encoding="utf-8")


def test_index_of_another_format_is_stale_with_its_reason_not_damaged(scratch_settings):
    _as_format_5(scratch_settings)

    status = index_status(scratch_settings)

    assert (status.built, status.stale) == (True, True)
    assert status.reasons == [f"index format 5 is not the current {INDEX_FORMAT} (built by another pdqa version)"]
    for on_stale in ("raise", "use"):  # "use" never opens an index of another format
        with pytest.raises(IndexStale, match=f"index format 5 is not the current {INDEX_FORMAT}"):
            Index.open(scratch_settings, on_stale=on_stale)


@pytest.mark.slow
def test_qa_auto_rebuilds_an_index_of_another_format(scratch_settings):
    _as_format_5(scratch_settings)

    qa = QA(scratch_settings, on_stale="rebuild")

    assert qa.rebuilt
    assert read_manifest(_live(scratch_settings.index_dir)).index_format == INDEX_FORMAT
    assert all((qa.index.path / name).is_file() for name in BM25_FILES)
    assert qa.retrieve("clive house noms", k=3)[0].bm25_rank is not None
    qa.close()
    assert _old_generations(scratch_settings.index_dir) == []


@pytest.mark.slow
def test_rebuilding_an_index_of_another_format_reuses_none_of_it(scratch_settings, monkeypatch):
    # Another format may store its vectors and texts differently: nothing of it lives on.
    _as_format_5(scratch_settings)
    embedded = _record_embedding(monkeypatch)

    build_index(scratch_settings)

    assert len(embedded) == len(_stored_texts(scratch_settings))
    assert index_status(scratch_settings).reasons == []


def _rehash(generation: Path, name: str) -> None:
    """Record a file's new size and hash in the manifest, as a build would have."""
    manifest = read_manifest(generation)
    path = generation / name
    files = manifest.files | {name: manifest.files[name].model_copy(update={"sha256": _sha256(path), "size": path.stat().st_size})}
    (generation / "manifest.json").write_text(manifest.model_copy(update={"files": files}).model_dump_json(), encoding="utf-8")
