"""pdqa: question answering over folders of reports, offline, where every statement of an answer
is an exact, cited quote of a document, or pdqa says the documents do not say.

Quick start (the bundled corpus, the *Innovation in Action* review, is the default)::

    from pdqa import QA
    with QA(on_stale="rebuild") as qa:
        answer = qa.ask("Who wrote the Innovation in Action report?")
    print(answer.answer, answer.citations[0].quote)

Any folder of PDF, HTML, DOCX, Markdown or text files::

    from pdqa import QA, Settings
    with QA(Settings(corpus={"dir": "reports/"}), on_stale="rebuild") as qa:
        print(qa.ask("What was the dementia diagnosis rate in 2019?").answer)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .version import __version__
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

    qa = QA(Settings(**settings_overrides))
    try:
        return qa.ask(question)
    finally:
        qa.close()  # release the index: nothing else holds this QA
