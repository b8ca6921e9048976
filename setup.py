"""Build hook: ship the top-level corpus/ inside the wheel as pdqa/bundled_corpus, and the
bundled report's evaluation files (eval/gold.jsonl, eval/squad_split.json) as pdqa/bundled_eval.

corpus/ and eval/ stay the one copy in git; an installed pdqa has no checkout to read them from,
so the build copies them into the package. Editable installs read them from the checkout.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
CORPUS_PATTERNS = ("*.txt", "*.md", "*.meta.json", "pdqa-calibration.json")
EVAL_FILES = ("gold.jsonl", "squad_split.json")


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
        evaluation = Path(self.build_lib) / "pdqa" / "bundled_eval"
        evaluation.mkdir(parents=True, exist_ok=True)
        for name in EVAL_FILES:
            shutil.copyfile(ROOT / "eval" / name, evaluation / name)


setup(cmdclass={"build_py": build_py_with_corpus})
