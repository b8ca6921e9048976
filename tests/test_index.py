"""Tests for pdqa.index: manifest, staleness, atomic builds and unreadable indexes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import pdqa.index
from pdqa.chunking import chunker_params
from pdqa.embeddings import default_model_dir
from pdqa.errors import IndexCorrupt, IndexNotBuilt, IndexStale, IndexUnwritable
from pdqa.bm25 import BM25_DIR, BM25_FILES
from pdqa.index import INDEX_FILES, build_index, index_status, load_index, read_manifest
from pdqa.qa import QA

CORPUS_NAME = "innovation-in-action.txt"
META_NAME = "innovation-in-action.meta.json"
APPENDED = "\n\nGarden project\n\nPatients at the Larkspur unit planted a community orchard in spring.\n"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _chunk_ids(index_dir: Path) -> list[str]:
    lines = (index_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["chunk_id"] for line in lines if line.strip()]


def _building_leftovers(index_dir: Path) -> list[Path]:
    return sorted(index_dir.parent.glob(f".{index_dir.name}.building-*"))


def _retired_leftovers(index_dir: Path) -> list[Path]:
    return sorted(index_dir.parent.glob(f".{index_dir.name}.retired-*"))


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A copy of the bundled model folder, free to modify."""
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    return folder


# ---------------------------------------------------------------- manifest


def test_manifest_records_model_corpus_and_chunker(built_settings):
    manifest = read_manifest(built_settings.index_dir)

    assert manifest.embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest.dimension == 384
    assert manifest.model_sha256 == _sha256(default_model_dir() / "model.safetensors")
    corpus_files = sorted(p.name for p in built_settings.corpus_dir.glob("*.txt"))
    assert [f.path for f in manifest.corpus_files] == corpus_files == [CORPUS_NAME]
    for info in manifest.corpus_files:
        assert info.sha256 == _sha256(built_settings.corpus_dir / info.path)
    assert manifest.chunker == chunker_params(built_settings.chunk_max_chars)
    assert manifest.chunker["max_chars"] == built_settings.chunk_max_chars == 1000
    assert manifest.chunker["name"] == "pdqa-structure-v1"


def test_manifest_counts_match_the_stored_chunks_and_units(built_settings):
    manifest = read_manifest(built_settings.index_dir)
    index = load_index(built_settings)

    assert manifest.chunk_count == len(index.chunks) == len(_chunk_ids(built_settings.index_dir))
    assert manifest.unit_count == len(index.units) == len(index.unit_vectors)
    assert index.chunk_index.ntotal == len(index.chunks)
    assert index.unit_vectors.shape[1] == manifest.dimension
    assert manifest.chunk_count >= 10


def test_index_folder_holds_the_documented_files(built_settings):
    names = {p.relative_to(built_settings.index_dir).as_posix() for p in built_settings.index_dir.rglob("*")}
    expected = {"manifest.json", "chunks.jsonl", "chunks.faiss", "units.jsonl", "units.npy"}
    assert expected | {"encoder/model.onnx", "encoder/tokenizer.json", "terms.json"} | set(BM25_FILES) <= names
    assert not any(name.endswith((".pkl", ".pickle")) for name in names)


# ---------------------------------------------------------------- staleness


def test_fresh_index_status(built_settings):
    status = index_status(built_settings)
    assert (status.built, status.stale, status.reasons) == (True, False, [])
    assert status.manifest == read_manifest(built_settings.index_dir)


def test_same_size_edit_of_a_corpus_file_makes_index_stale(scratch_settings):
    path = scratch_settings.corpus_dir / CORPUS_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Wilson", "Wulson", 1), encoding="utf-8")

    assert path.stat().st_size == read_manifest(scratch_settings.index_dir).corpus_files[0].size
    assert index_status(scratch_settings).reasons == [f"corpus file changed: {CORPUS_NAME}"]


def _record_hashing(monkeypatch) -> list[Path]:
    hashed: list[Path] = []
    real = pdqa.index.file_sha256
    monkeypatch.setattr(pdqa.index, "file_sha256", lambda path: hashed.append(Path(path)) or real(path))
    return hashed


def test_unchanged_corpus_files_are_not_hashed_by_a_load(scratch_settings, monkeypatch):
    recorded = read_manifest(scratch_settings.index_dir).corpus_files[0]
    stat = (scratch_settings.corpus_dir / recorded.path).stat()
    assert (recorded.size, recorded.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    hashed = _record_hashing(monkeypatch)

    load_index(scratch_settings)

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
        load_index(scratch_settings)


def test_new_corpus_file_makes_index_stale(scratch_settings):
    (scratch_settings.corpus_dir / "garden.md").write_text(APPENDED.strip(), encoding="utf-8")

    status = index_status(scratch_settings)

    assert status.stale
    assert status.reasons == ["new corpus file: garden.md"]
    with pytest.raises(IndexStale, match="garden.md"):
        load_index(scratch_settings)


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
        load_index(scratch_settings)


def test_changed_metadata_makes_index_stale(scratch_settings):
    meta_path = scratch_settings.corpus_dir / META_NAME
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["documents"][1]["title"] = "Vacancy: Joint Head of the OPD Programme"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")

    status = index_status(scratch_settings)

    assert status.stale
    assert status.reasons == ["corpus metadata changed"]
    with pytest.raises(IndexStale, match="metadata"):
        load_index(scratch_settings)


def test_changed_chunk_size_makes_index_stale(built_settings):
    settings = built_settings.model_copy(update={"chunk_max_chars": 500})
    assert index_status(settings).reasons == ["chunker settings changed"]
    with pytest.raises(IndexStale, match="chunker"):
        load_index(settings)


def test_changed_model_makes_index_stale(built_settings, model_copy):
    with (model_copy / "model.safetensors").open("ab") as handle:
        handle.write(b"\0")
    settings = built_settings.model_copy(update={"model_dir": model_copy})

    status = index_status(settings)

    assert status.stale
    assert status.reasons == ["embedding model changed"]
    with pytest.raises(IndexStale, match="embedding model"):
        load_index(settings)
    with pytest.raises(IndexStale, match="embedding model"):
        QA(settings)


def test_model_copy_with_new_timestamp_but_same_bytes_is_not_stale(built_settings, model_copy):
    # Size and mtime only decide when to hash; the same weights under a new mtime are the same model.
    weights = model_copy / "model.safetensors"
    original = default_model_dir() / "model.safetensors"
    weights.unlink()
    shutil.copyfile(original, weights)
    assert weights.stat().st_mtime_ns != original.stat().st_mtime_ns
    settings = built_settings.model_copy(update={"model_dir": model_copy})

    assert index_status(settings).reasons == []
    assert load_index(settings).manifest == read_manifest(built_settings.index_dir)


def test_qa_refuses_a_stale_index(scratch_settings):
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)
    with pytest.raises(IndexStale, match="corpus file changed"):
        QA(scratch_settings)


def test_qa_refuses_a_missing_index(built_settings, tmp_path):
    settings = built_settings.model_copy(update={"index_dir": tmp_path / "nowhere"})
    with pytest.raises(IndexNotBuilt):
        QA(settings)


@pytest.mark.slow
def test_qa_auto_rebuilds_a_stale_index_and_finds_the_new_text(scratch_settings):
    before = read_manifest(scratch_settings.index_dir)
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)

    qa = QA(scratch_settings, rebuild="auto")

    assert qa.rebuilt is True
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (True, False)
    assert status.manifest.chunk_count == before.chunk_count + 1  # heading opens its paragraph
    new_sha = _sha256(scratch_settings.corpus_dir / CORPUS_NAME)
    assert [f.sha256 for f in status.manifest.corpus_files] == [new_sha] != [
        f.sha256 for f in before.corpus_files
    ]
    hits = qa.retrieve("Which unit planted a community orchard?", k=3)
    assert "Larkspur unit planted a community orchard" in hits[0].text
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert _retired_leftovers(scratch_settings.index_dir) == []


def test_qa_auto_does_not_rebuild_a_fresh_index(built_settings):
    built_at = read_manifest(built_settings.index_dir).built_at
    qa = QA(built_settings, rebuild="auto")
    assert qa.rebuilt is False
    assert read_manifest(built_settings.index_dir).built_at == built_at


@pytest.mark.slow
def test_chunk_ids_are_identical_across_builds(built_settings, scratch_settings):
    manifest = build_index(scratch_settings)

    assert _chunk_ids(scratch_settings.index_dir) == _chunk_ids(built_settings.index_dir)
    assert manifest.chunk_count == len(_chunk_ids(built_settings.index_dir))
    first = (built_settings.index_dir / "chunks.jsonl").read_text(encoding="utf-8")
    assert (scratch_settings.index_dir / "chunks.jsonl").read_text(encoding="utf-8") == first


# ---------------------------------------------------------------- atomic build


class _BuildFailure(RuntimeError):
    pass


def _fail_while_writing_chunks(monkeypatch) -> None:
    """Make the build fail after it has already written part of the new index."""
    real_write = pdqa.index._write_jsonl

    def write_then_fail(path, records):
        real_write(path, records)
        raise _BuildFailure(f"disk full while writing {path.name}")

    monkeypatch.setattr(pdqa.index, "_write_jsonl", write_then_fail)


def _fail_while_loading_model(monkeypatch) -> None:
    def refuse(encoder_dir):
        raise _BuildFailure("model cannot be loaded")

    monkeypatch.setattr(pdqa.index, "OnnxEmbedder", refuse)


def _fail_while_swapping_in(monkeypatch) -> None:
    """Make the final rename of the finished build folder onto the index folder fail."""
    real_rename = Path.rename

    def rename(self, target):
        if ".building-" in self.name:
            raise _BuildFailure(f"cannot rename {self.name}")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)


@pytest.mark.slow
@pytest.mark.parametrize(
    "sabotage", [_fail_while_writing_chunks, _fail_while_loading_model, _fail_while_swapping_in]
)
def test_failed_build_leaves_previous_index_in_place(scratch_settings, monkeypatch, sabotage):
    before = read_manifest(scratch_settings.index_dir)
    chunks_before = (scratch_settings.index_dir / "chunks.jsonl").read_bytes()
    _append(scratch_settings.corpus_dir / CORPUS_NAME, APPENDED)
    sabotage(monkeypatch)

    with pytest.raises(_BuildFailure):
        build_index(scratch_settings)

    index = load_index(scratch_settings, check=False)
    assert index.manifest == before
    assert index.manifest.built_at == before.built_at
    assert len(index.chunks) == before.chunk_count
    assert (scratch_settings.index_dir / "chunks.jsonl").read_bytes() == chunks_before
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert _retired_leftovers(scratch_settings.index_dir) == []
    # The corpus did change, so the surviving index must say it is stale rather than pose as new.
    assert index_status(scratch_settings).reasons == [f"corpus file changed: {CORPUS_NAME}"]


@pytest.mark.slow
def test_failed_build_of_unchanged_corpus_keeps_a_loadable_fresh_index(scratch_settings, monkeypatch):
    before = read_manifest(scratch_settings.index_dir)
    _fail_while_writing_chunks(monkeypatch)

    with pytest.raises(_BuildFailure):
        build_index(scratch_settings)

    index = load_index(scratch_settings)
    assert index.manifest.built_at == before.built_at
    assert _building_leftovers(scratch_settings.index_dir) == []


# ---------------------------------------------------------------- missing or unreadable index


def test_folder_without_manifest_is_not_built(scratch_settings):
    (scratch_settings.index_dir / "manifest.json").unlink()

    with pytest.raises(IndexNotBuilt):
        load_index(scratch_settings)
    status = index_status(scratch_settings)
    assert (status.built, status.manifest) == (False, None)


def test_missing_index_folder_is_not_built(built_settings, tmp_path):
    settings = built_settings.model_copy(update={"index_dir": tmp_path / "absent"})
    with pytest.raises(IndexNotBuilt):
        load_index(settings)
    assert index_status(settings).built is False


@pytest.mark.parametrize(
    "manifest_text",
    ['{"pdqa_version": "0.1.0", ', '{"pdqa_version": "0.1.0"}', "[]", ""],
    ids=["truncated", "missing-fields", "not-an-object", "empty"],
)
def test_corrupt_manifest_raises_index_corrupt(scratch_settings, manifest_text):
    (scratch_settings.index_dir / "manifest.json").write_text(manifest_text, encoding="utf-8")

    with pytest.raises(IndexCorrupt):
        load_index(scratch_settings)
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (False, True)


@pytest.mark.parametrize(
    "missing",
    ["chunks.jsonl", "units.jsonl", "chunks.faiss", "units.npy", "encoder/model.onnx", "bm25/vocab.index.json"],
)
def test_missing_index_file_with_valid_manifest_raises_index_corrupt(scratch_settings, missing):
    (scratch_settings.index_dir / missing).unlink()
    assert read_manifest(scratch_settings.index_dir).chunk_count > 0

    with pytest.raises(IndexCorrupt):
        load_index(scratch_settings)


def test_chunk_store_missing_a_line_raises_index_corrupt(scratch_settings):
    path = scratch_settings.index_dir / "chunks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")

    with pytest.raises(IndexCorrupt):
        load_index(scratch_settings)


def test_garbled_chunk_store_raises_index_corrupt(scratch_settings):
    path = scratch_settings.index_dir / "chunks.jsonl"
    path.write_text('{"chunk_id": "x"}\n' + path.read_text(encoding="utf-8"), encoding="utf-8")

    with pytest.raises(IndexCorrupt):
        load_index(scratch_settings)


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
    assert load_index(scratch_settings).chunks
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert _retired_leftovers(scratch_settings.index_dir) == []


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


def _stored_texts(index_dir: Path) -> set[str]:
    index = load_index_unchecked(index_dir)
    return {c.text for c in index.chunks} | {u.text for u in index.units}


def load_index_unchecked(index_dir: Path):
    from pdqa.settings import Settings

    return load_index(Settings(index_dir=index_dir), check=False)


def _all_vectors(index_dir: Path):
    import numpy as np

    index = load_index_unchecked(index_dir)
    chunks = index.chunk_index.reconstruct_n(0, index.chunk_index.ntotal)
    return np.vstack([chunks, np.asarray(index.unit_vectors)])


def _answers(settings) -> list[dict]:
    qa = QA(settings)
    return [qa.ask(question).model_dump(exclude={"timings_ms"}) for question in QUESTIONS]


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
        build_index(scratch_settings)
    before = _stored_texts(scratch_settings.index_dir)
    change(scratch_settings.corpus_dir)
    embedded = _record_embedding(monkeypatch)

    build_index(scratch_settings)

    after = _stored_texts(scratch_settings.index_dir)
    assert set(embedded) == after - before
    assert len(embedded) == len(after - before)  # each new text once
    assert (len(embedded) > 0) is (change is not _remove_document)
    full = scratch_settings.model_copy(update={"index_dir": tmp_path / "full" / "default"})
    build_index(full, reuse_vectors=False)
    assert len(embedded) > len(after - before)  # the full build did embed everything again
    for name in ("chunks.jsonl", "units.jsonl"):
        incremental_text = (scratch_settings.index_dir / name).read_text(encoding="utf-8")
        assert incremental_text == (full.index_dir / name).read_text(encoding="utf-8")
    assert abs(_all_vectors(scratch_settings.index_dir) - _all_vectors(full.index_dir)).max() <= 1e-6
    for name in BM25_FILES:  # BM25 is rebuilt whole at every build: the same bytes
        assert (scratch_settings.index_dir / name).read_bytes() == (full.index_dir / name).read_bytes()
    assert _answers(scratch_settings) == _answers(full)


@pytest.mark.slow
def test_incremental_build_finds_the_new_document(scratch_settings):
    _add_document(scratch_settings.corpus_dir)
    build_index(scratch_settings)
    hits = QA(scratch_settings).retrieve("Which unit planted a community orchard?", k=3)
    assert hits[0].doc_id == "garden"
    assert "Larkspur unit planted a community orchard" in hits[0].text


def test_vectors_are_not_reused_from_an_index_of_another_model(built_settings):
    known = pdqa.index._previous_vectors(built_settings.index_dir, "0" * 64)
    assert known == {}
    manifest = read_manifest(built_settings.index_dir)
    same_model = pdqa.index._previous_vectors(built_settings.index_dir, manifest.model_sha256)
    assert len(same_model) == len(_stored_texts(built_settings.index_dir)) > manifest.chunk_count


def test_interrupted_incremental_build_leaves_the_previous_index_loadable(scratch_settings, monkeypatch):
    before = read_manifest(scratch_settings.index_dir)
    chunks_before = (scratch_settings.index_dir / "chunks.jsonl").read_bytes()
    _add_document(scratch_settings.corpus_dir)

    class _Interrupted(pdqa.index.OnnxEmbedder):
        def embed(self, texts):
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of embedding

    monkeypatch.setattr(pdqa.index, "OnnxEmbedder", _Interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index(scratch_settings)

    index = load_index(scratch_settings, check=False)
    assert index.manifest == before
    assert (scratch_settings.index_dir / "chunks.jsonl").read_bytes() == chunks_before
    assert _building_leftovers(scratch_settings.index_dir) == []
    assert index_status(scratch_settings).reasons == ["new corpus file: garden.md"]


def test_build_removes_folders_a_killed_build_left_behind(scratch_settings):
    dead = scratch_settings.index_dir.parent / f".{scratch_settings.index_dir.name}.building-dead1"
    (dead / "encoder").mkdir(parents=True)
    (dead / "chunks.jsonl").write_text("partial", encoding="utf-8")

    build_index(scratch_settings)

    assert _building_leftovers(scratch_settings.index_dir) == []
    assert load_index(scratch_settings).chunks


# ---------------------------------------------------------------- file hashes in the manifest


def _overwrite_keeping_size(path: Path, offset: int = 1000) -> None:
    """Flip some bytes in the middle of a file without changing its size."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(16)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def test_manifest_records_size_and_sha256_of_every_index_file(built_settings):
    manifest = read_manifest(built_settings.index_dir)
    on_disk = {
        path.relative_to(built_settings.index_dir).as_posix()
        for path in built_settings.index_dir.rglob("*")
        if path.is_file() and path.name != "manifest.json"
    }
    assert set(manifest.files) == on_disk
    assert set(INDEX_FILES) | {"texts/innovation-in-action.txt.txt"} <= set(manifest.files)
    for name, recorded in manifest.files.items():
        path = built_settings.index_dir / name
        assert (recorded.size, recorded.sha256) == (path.stat().st_size, _sha256(path))


@pytest.mark.parametrize("replacement", ["99", "99 months"])
def test_edited_chunk_store_is_refused_not_quoted(scratch_settings, replacement):
    path = scratch_settings.index_dir / "chunks.jsonl"
    text = path.read_text(encoding="utf-8")
    assert "initially for 12 months" in text
    path.write_text(text.replace("initially for 12 months", f"initially for {replacement} months"), encoding="utf-8")

    with pytest.raises(IndexCorrupt, match="index file chunks.jsonl") as caught:
        QA(scratch_settings)
    assert "index build --force" in caught.value.hint
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (False, True)
    assert any("chunks.jsonl" in reason for reason in status.reasons)


def test_qa_auto_rebuilds_an_edited_chunk_store_and_quotes_the_file(scratch_settings, corpus_text):
    path = scratch_settings.index_dir / "chunks.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace("12 months", "99 months"), encoding="utf-8")
    answer = QA(scratch_settings, rebuild="auto").ask("How long is the initial contract?")
    assert answer.citations
    for citation in answer.citations:
        assert corpus_text[citation.start : citation.end] == citation.quote
    assert "99 months" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["chunks.faiss", "units.npy", "encoder/tokenizer.json", "bm25/data.csc.index.npy"])
def test_missing_index_file_is_named_by_status(scratch_settings, name):
    (scratch_settings.index_dir / name).unlink()
    status = index_status(scratch_settings)
    assert (status.built, status.stale) == (False, True)
    assert status.reasons == [f"missing index file {name}"]


@pytest.mark.parametrize("name", ["encoder/model.onnx", "encoder/tokenizer.json"])
def test_truncated_encoder_file_is_named_by_status_and_load(scratch_settings, name):
    path = scratch_settings.index_dir / name
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 2)
    assert index_status(scratch_settings).reasons == [
        f"index file {name} has {size // 2} bytes, not the {size} it was built with"
    ]
    with pytest.raises(IndexCorrupt, match=f"index file {name} has"):
        load_index(scratch_settings)


def test_same_size_damage_to_the_encoder_is_found_by_verify_only(scratch_settings):
    _overwrite_keeping_size(scratch_settings.index_dir / "encoder" / "model.onnx")
    assert index_status(scratch_settings).stale is False  # sizes only: a stat per file
    verified = index_status(scratch_settings, verify=True)
    assert (verified.built, verified.stale) == (False, True)
    assert verified.reasons == ["index file encoder/model.onnx was changed after the build (sha256 differs)"]


@pytest.mark.slow
def test_build_does_not_reuse_a_damaged_encoder_or_damaged_vectors(scratch_settings):
    original = read_manifest(scratch_settings.index_dir).files
    _overwrite_keeping_size(scratch_settings.index_dir / "encoder" / "model.onnx")
    _overwrite_keeping_size(scratch_settings.index_dir / "units.npy", offset=200)

    manifest = build_index(scratch_settings)

    for name in ("encoder/model.onnx", "units.npy"):
        assert manifest.files[name].sha256 == original[name].sha256
        assert _sha256(scratch_settings.index_dir / name) == original[name].sha256
    assert index_status(scratch_settings, verify=True).stale is False


def test_build_in_a_folder_that_cannot_be_written_is_index_unwritable(built_settings, tmp_path, monkeypatch):
    settings = built_settings.model_copy(update={"index_dir": tmp_path / "readonly" / "index"})
    real_open = Path.open

    def refuse_writes(self, mode="r", *args, **kwargs):
        if str(self).startswith(str(tmp_path / "readonly")) and mode != "r":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse_writes)  # root ignores file modes, so fake them
    with pytest.raises(IndexUnwritable, match=f"cannot build the index in {tmp_path / 'readonly'}: Permission denied"):
        build_index(settings)


@pytest.mark.slow
def test_embedding_reports_texts_done_rate_and_time_left(scratch_settings, monkeypatch):
    monkeypatch.setattr(pdqa.index, "EMBED_SLICE", 8)
    reports: list[tuple[str, int, int]] = []
    manifest = build_index(scratch_settings, lambda *report: reports.append(report), reuse_vectors=False)
    index = load_index(scratch_settings)
    total = len({record.text for record in [*index.chunks, *index.units]})  # each distinct text once
    embed = [step for step, number, _ in reports if number == 4]
    assert embed[0] == "embed"
    done = [int(step.split()[1].split("/")[0]) for step in embed[1:]]
    assert done == sorted(done) and done[-1] == total and len(done) >= total // 8
    assert all(step.endswith(" s left") and "/s, " in step and f"/{total} texts" in step for step in embed[1:])
    assert index.unit_vectors.shape[0] == manifest.unit_count


# ---------------------------------------------------------------- an index built before BM25 was saved


def _as_format_4(settings) -> None:
    """Turn a built index into what pdqa wrote before BM25 was saved with it (format 4)."""
    shutil.rmtree(settings.index_dir / BM25_DIR)
    manifest = read_manifest(settings.index_dir)
    files = {name: info for name, info in manifest.files.items() if not name.startswith(f"{BM25_DIR}/")}
    old = manifest.model_copy(update={"index_format": 4, "files": files})
    (settings.index_dir / "manifest.json").write_text(old.model_dump_json(indent=2), encoding="utf-8")


def test_index_without_saved_bm25_is_stale_with_its_reason_not_damaged(scratch_settings):
    _as_format_4(scratch_settings)

    status = index_status(scratch_settings)

    assert (status.built, status.stale) == (True, True)
    assert status.reasons == ["index format 4 is not the current 5 (built by another pdqa version)"]
    for check in (True, False):
        with pytest.raises(IndexStale, match="index format 4 is not the current 5"):
            load_index(scratch_settings, check=check)


def test_qa_auto_rebuilds_an_index_without_saved_bm25(scratch_settings):
    _as_format_4(scratch_settings)

    qa = QA(scratch_settings, rebuild="auto")

    assert qa.rebuilt
    assert read_manifest(scratch_settings.index_dir).index_format == 5
    assert all((scratch_settings.index_dir / name).is_file() for name in BM25_FILES)
    assert qa.retrieve("clive house noms", k=3)[0].bm25_rank is not None


def test_rebuilding_an_index_without_saved_bm25_reuses_its_vectors(scratch_settings, monkeypatch):
    # Format 5 only added bm25/: the vectors of a format-4 index are still the right ones.
    _as_format_4(scratch_settings)
    embedded = _record_embedding(monkeypatch)

    build_index(scratch_settings)

    assert embedded == []
    assert index_status(scratch_settings).reasons == []


def test_answers_are_the_same_when_term_counts_are_taken_at_load(scratch_settings):
    # Counts another version of pdqa's text code saved are not used: the answerer counts again.
    path = scratch_settings.index_dir / "terms.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    saved = _answers(scratch_settings)
    path.write_text(json.dumps(record | {"code_sha256": "0" * 64}, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    _rehash(scratch_settings.index_dir, "terms.json")

    qa = QA(scratch_settings)

    assert qa.index.term_weights is None
    assert dict(qa.answerer.weights.document_frequency) == record["document_frequency"]
    assert _answers(scratch_settings) == saved


def _rehash(index_dir: Path, name: str) -> None:
    """Record a file's new size and hash in the manifest, as a build would have."""
    manifest = read_manifest(index_dir)
    path = index_dir / name
    files = manifest.files | {name: manifest.files[name].model_copy(update={"sha256": _sha256(path), "size": path.stat().st_size})}
    (index_dir / "manifest.json").write_text(manifest.model_copy(update={"files": files}).model_dump_json(), encoding="utf-8")
