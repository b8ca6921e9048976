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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """pdqa's wheel, built offline from a copy of the sources (the checkout stays untouched)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copyfile
        copy(REPO / name, source / name)
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


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PDQA_", "XDG_"))}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def first_ask(installed, tmp_path_factory):
    """`pdqa ask` run once from an empty folder with an empty HOME (it builds the index)."""
    home, work = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("work")
    result = subprocess.run(
        [installed / "bin" / "pdqa", "ask", "--json", "Who wrote the Innovation in Action report?"],
        cwd=work, env=_clean_env(home), capture_output=True, text=True, timeout=600,
    )
    return result, home, work


@pytest.mark.slow
def test_installed_pdqa_answers_from_another_folder(first_ask):
    result, home, work = first_ask
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "Lisa Wilson" in answer["answer"] and "Rex Haigh" in answer["answer"]
    built = list((home / ".cache" / "pdqa" / "indexes").glob("*/manifest.json"))
    assert len(built) == 1
    assert list(work.iterdir()) == []


@pytest.mark.slow
def test_installed_library_finds_the_cached_index(installed, first_ask, tmp_path):
    _, home, _ = first_ask
    script = (
        "import pdqa; from pdqa import QA; qa = QA();"
        "print(pdqa.__file__); print(qa.settings.index_dir); print(qa.ask('Who wrote the Innovation in Action report?').citations[0].quote)"
    )
    result = subprocess.run([installed / "bin" / "python", "-c", script], cwd=tmp_path, env=_clean_env(home),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    module_file, index_dir, quote = result.stdout.splitlines()[:3]
    assert Path(module_file).is_relative_to(installed)
    assert Path(index_dir).is_relative_to(home / ".cache" / "pdqa" / "indexes")
    assert "Lisa Wilson" in quote
