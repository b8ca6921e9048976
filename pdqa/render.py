"""Human-readable output of answers, hits and index status, rendered at the edge from the models."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from .models import Answer, Citation, Hit


def make_console(stderr: bool = False) -> Console:
    """A console that styles on a terminal and prints plain, unwrapped text when piped."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_answer(
    console: Console, answer: Answer, show_hits: bool = False, show_removed: bool = False, streamed: bool = False
) -> None:
    """The answer with its [n] markers, then the numbered sources with their quotes.

    Args:
        console: Where to print.
        answer: The answer to show.
        show_hits: Also print the retrieved passages with their scores.
        show_removed: Also print the LLM sentences that verification removed, with the reason.
        streamed: The answer's sentences were already printed one by one (``print_sentence``).
    """
    if not (streamed and answer_was_streamed(answer)):
        style = "yellow" if answer.abstained else "bold"
        console.print(Text(answer.answer, style=style))
    if answer.mode == "extractive-fallback" and answer.llm is not None:
        console.print(Text(f"(extractive answer: the {answer.llm.backend} answer was not used)", style="dim"))
    if answer.abstained and answer.related:
        console.print()
        console.print(Text("Closest passages (they do not answer the question):", style="dim"))
        _print_citations(console, answer.related)
    elif answer.citations:
        console.print()
        console.print(Text("Sources", style="bold underline"))
        _print_citations(console, answer.citations)
    if show_removed:
        _print_removed(console, answer)
    if show_hits:
        print_hits(console, answer.hits)


def print_sentence(console: Console, sentence: str) -> None:
    """One verified sentence of an answer being streamed, on a line of its own."""
    console.print(Text(sentence, style="bold"))


def answer_was_streamed(answer: Answer) -> bool:
    """Whether the answer's text is the LLM sentences a stream already showed."""
    return answer.mode == "llm" and not answer.abstained


def _print_removed(console: Console, answer: Answer) -> None:
    console.print()
    if not answer.removed:
        console.print(Text("Removed by verification: nothing.", style="dim"))
        return
    console.print(Text("Removed by verification", style="bold underline"))
    for claim in answer.removed:
        console.print(Text.assemble(("- ", "red"), _one_line(claim.sentence)))
        console.print(Text(f"    {claim.reason}", style="dim"))


def _print_citations(console: Console, citations: list[Citation]) -> None:
    for citation in citations:
        heading = citation.title
        if citation.section and citation.section != citation.title:
            heading += f" — {citation.section}"
        console.print(Text.assemble((f"[{citation.n}] ", "bold cyan"), heading))
        console.print(Text(f"    “{_one_line(citation.quote)}”", style="green"))
        page = f", p. {citation.page}" if citation.page is not None else ""
        location = f"    {citation.doc_id}{page}, characters {citation.start}–{citation.end}"
        console.print(Text(location, style="dim"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def print_hits(console: Console, hits: list[Hit]) -> None:
    """The ranked hits with fused and component scores, two lines each (readable when piped)."""
    for hit in hits:
        scores = (
            f"fused {hit.score:.4f} | dense {_component(hit.dense_score, hit.dense_rank)}"
            f" | bm25 {_component(hit.bm25_score, hit.bm25_rank)}"
        )
        console.print(Text.assemble((f"{hit.rank}. ", "bold cyan"), (scores, "dim")))
        page = f", p. {hit.page}" if hit.page is not None else ""
        console.print(Text(f"   {hit.doc_id}{page} — {hit.section}", style="cyan"))
        console.print(Text(f"   {_one_line(hit.text)}"))


def _component(score: float | None, rank: int | None) -> str:
    return "—" if score is None else f"{score:.3f} (#{rank})"
