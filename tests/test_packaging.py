"""The built wheel installs into a fresh environment and answers from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "pdqa", "corpus")
EVAL_FILES = ("eval/gold.jsonl", "eval/squad_split.json")  # the bundled report's evaluation files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """pdqa's wheel, built offline from a copy of the sources (the checkout stays untouched)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copyfile
        copy(REPO / name, source / name)
    (source / "eval").mkdir()
    for name in EVAL_FILES:
        shutil.copyfile(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("pdqa-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A throwaway environment with the wheel; its dependencies come from the test environment."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # A plain path line: the test environment's packages are importable, but its .pth files (the
    # editable pdqa) are not run, so the only pdqa found is the installed wheel.
    Path(site, "test-env-deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True)
    return env_dir


def test_wheel_carries_the_bundled_report(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "pdqa/bundled_corpus/innovation-in-action.txt" in names
    assert "pdqa/bundled_corpus/innovation-in-action.meta.json" in names
    bundled = zipfile.ZipFile(wheel).read("pdqa/bundled_corpus/innovation-in-action.txt")
    assert bundled == (REPO / "corpus" / "innovation-in-action.txt").read_bytes()
    for name in EVAL_FILES:
        packaged = "pdqa/bundled_eval/" + Path(name).name
        assert packaged in names
        assert zipfile.ZipFile(wheel).read(packaged) == (REPO / name).read_bytes()


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PDQA_", "XDG_"))}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def first_ask(installed, tmp_path_factory):
    """`pdqa ask` run once from an empty folder with an empty HOME (it builds the index)."""
    home, work = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("work")
    result = subprocess.run(
        [installed / "bin" / "pdqa", "ask", "--json", "How long is the initial contract for the Joint Head post?"],
        cwd=work, env=_clean_env(home), capture_output=True, text=True, timeout=600,
    )
    return result, home, work


@pytest.mark.slow
def test_installed_pdqa_answers_from_another_folder(first_ask):
    result, home, work = first_ask
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "secondment" in answer["answer"] and "12 months" in answer["answer"]
    indexes = list((home / ".cache" / "pdqa" / "indexes").iterdir())
    assert len(indexes) == 1
    index_dir = indexes[0]
    assert (index_dir / "pdqa-index.json").is_file()
    live = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    assert [p.name for p in index_dir.glob("gen-*")] == [live]  # one generation, the live one
    assert (index_dir / live / "manifest.json").is_file()
    assert list(work.iterdir()) == []


@pytest.mark.slow
def test_installed_library_finds_the_cached_index(installed, first_ask, tmp_path):
    _, home, _ = first_ask
    script = (
        "import pdqa; from pdqa import QA; qa = QA();"
        "print(pdqa.__file__); print(qa.settings.index_dir); print(qa.ask('How long is the initial contract for the Joint Head post?').citations[0].quote);"
        "from pdqa.evaluation.sets import bundled_file; print(bundled_file('gold.jsonl'))"
    )
    result = subprocess.run([installed / "bin" / "python", "-c", script], cwd=tmp_path, env=_clean_env(home),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    module_file, index_dir, quote, gold = result.stdout.splitlines()[:4]
    assert Path(module_file).is_relative_to(installed)
    assert Path(index_dir).is_relative_to(home / ".cache" / "pdqa" / "indexes")
    assert "secondment" in quote
    assert Path(gold) == Path(module_file).parent / "bundled_eval" / "gold.jsonl"
    assert Path(gold).read_bytes() == (REPO / "eval" / "gold.jsonl").read_bytes()
