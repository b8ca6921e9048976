"""pdqa: citation-grounded answers about the Innovation in Action review, offline.

Quick start::

    from pdqa import QA
    answer = QA().ask("Who wrote the Innovation in Action report?")
    print(answer.answer, answer.citations[0].quote)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["QA", "Answer", "Citation", "Hit", "Settings", "ask", "__version__"]

if TYPE_CHECKING:
    from .models import Answer, Citation, Hit
    from .qa import QA
    from .settings import Settings

_LAZY = {
    "QA": "qa",
    "Answer": "models",
    "Citation": "models",
    "Hit": "models",
    "Settings": "settings",
}


def __getattr__(name: str):
    # Loading submodules on first use keeps `import pdqa` and `pdqa --help` fast.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'pdqa' has no attribute {name!r}")


def ask(question: str, **settings_overrides) -> "Answer":
    """Answer one question with default settings (plus any overrides) and return the Answer."""
    from .qa import QA
    from .settings import Settings

    return QA(Settings(**settings_overrides)).ask(question)
