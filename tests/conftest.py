"""Shared fixtures: one real index built once per session in a temporary folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO / "corpus"
CORPUS_FILE = CORPUS_DIR / "innovation-in-action.txt"


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The stored corpus file, exactly as on disk."""
    return CORPUS_FILE.read_bytes().decode("utf-8")


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory):
    """Settings pointing at a corpus copy and an index built from it once for the session."""
    from pdqa.index import build_index
    from pdqa.settings import Settings

    root = tmp_path_factory.mktemp("pdqa")
    shutil.copytree(CORPUS_DIR, root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "indexes" / "default")
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def qa(built_settings):
    """A QA object over the session index."""
    from pdqa.qa import QA

    return QA(built_settings)


@pytest.fixture
def scratch_settings(built_settings, tmp_path):
    """A private copy of the corpus and the built index, free to modify in a test."""
    shutil.copytree(built_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built_settings.index_dir, tmp_path / "indexes" / "default")
    return built_settings.model_copy(
        update={"corpus_dir": tmp_path / "corpus", "index_dir": tmp_path / "indexes" / "default"}
    )
