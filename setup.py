"""Build hook: ship the top-level corpus/ inside the wheel as pdqa/bundled_corpus.

corpus/ stays the one copy of the report in git; an installed pdqa has no checkout to read
it from, so the build copies it into the package. Editable installs read corpus/ directly.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CORPUS = Path(__file__).resolve().parent / "corpus"
CORPUS_PATTERNS = ("*.txt", "*.md", "*.meta.json")


class build_py_with_corpus(build_py):
    """build_py that also copies the bundled corpus into the built package."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "pdqa" / "bundled_corpus"
        target.mkdir(parents=True, exist_ok=True)
        for pattern in CORPUS_PATTERNS:
            for path in sorted(CORPUS.glob(pattern)):
                shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": build_py_with_corpus})
