"""The library's exceptions (and its one warning). The CLI turns each into a one-line message with its hint."""


class PdqaError(Exception):
    """Base class for every expected pdqa failure.

    Attributes:
        hint: One line telling the user how to fix the problem.
    """

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class CorpusError(PdqaError):
    """The corpus folder is missing, empty, unreadable, or its metadata is wrong."""

    hint = "Check PDQA_CORPUS__DIR and the .meta.json files beside the corpus texts."


class InvalidSetting(PdqaError, ValueError):
    """A ``PDQA_*`` variable or a Settings value is unknown or invalid."""

    hint = "See docs/configuration.md (or `pdqa settings`) for every PDQA_* name and its range."


class IndexNotBuilt(PdqaError):
    """No complete index exists at the configured location."""

    hint = "Run `pdqa index build`."


class IndexStale(PdqaError):
    """The index was built from another corpus, model or pdqa version."""

    hint = "Run `pdqa index build`, or open it with QA(on_stale=\"rebuild\")."


class IndexCorrupt(PdqaError):
    """The index files exist but cannot be read."""

    hint = "Run `pdqa index build --force` to rebuild it."


class IndexUnwritable(PdqaError):
    """The index must be built, but its folder cannot be written (read-only, no permission)."""

    hint = "Point PDQA_INDEX__DIR at a folder you can write."


class BackendUnavailable(PdqaError):
    """An optional component (model, LLM server, extra package) cannot be used."""

    hint = "Install the missing extra or check the backend settings."


class InvalidQuestion(PdqaError):
    """The question is empty or unusable."""

    hint = 'Ask a question in plain words, e.g. pdqa ask "Who wrote the report?"'


class CorpusWarning(UserWarning):
    """A corpus file was skipped (a PDF without a text layer); the CLI prints it as one line."""


class LLMFallbackWarning(UserWarning):
    """The configured LLM failed, so the answer is extractive; the CLI prints it as one line."""


class IndexFallbackWarning(UserWarning):
    """A needed rebuild failed (a corpus file, the disk), so pdqa answers from the previous index of the same corpus."""
