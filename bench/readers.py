"""Reader fidelity on real reports: pdqa's stored text and units scored against hand labels.

The labels (``eval/readers/labels.jsonl``) were made by hand from the rendered pages of the 27 PDF
and DOCX reports in ``../shared/data/reports`` (DOCX pages as LibreOffice renders them), on pages
sampled with a seed (``eval/readers/samples.json``). Each document is read and chunked exactly as
an index build does (no embedding), and scored:

  sentences   labelled sentences found whole inside one unit (hyphens kept: "e-survey" is not "esurvey")
  leaked      running headers/footers, page numbers, contents lines and footnotes found inside units,
              and footnote markers glued to their word ("Tyneside9")
  headings    recall of labelled headings (a section or heading unit with that text), and precision
              on the sampled pages (headings pdqa made there that no label names)
  items       labelled list items found as bullet items of their own
  rows        labelled table rows found as one unit holding every cell with its column header
  title       title, and author or publisher, each found inside one unit (citable)
  ms          reading time per page and per MB (the reader alone)

    python bench/readers.py [--reports DIR] [--json OUT] [--doc NAME ...]

Run it from any checkout: what it measures is that checkout's pdqa (before/after comparisons run
it in two worktrees).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
import warnings
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = HERE.parent / "eval" / "readers" / "labels.jsonl"
SAMPLES = HERE.parent / "eval" / "readers" / "samples.json"
REPORTS = HERE.parent.parent / "shared" / "data" / "reports"
FOOTNOTE_REF_RE = re.compile(r"\s?\[\d{1,3}\]|[\u00b9\u00b2\u00b3\u2070-\u2079]+")
BULLETS = "•·▪●◦○■□►➢\uf0b7\uf0a7\uf076\uf0d8\uf0fc"
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
# A contents line's dot leaders lead to a page number or label; an ellipsis in quoted text
# ("other professional……..’.") is text, not navigation.
LEADER_RE = re.compile(r"(?:\.{5,}|(?:\. ){4,}|…{2,})[.…\s]*(?:\d{1,4}|[ivxlc]{1,6}|[IVXLC]{1,6})\b")
ITEM_NUMBER_RE = re.compile(r"^\(?(?:\d{1,3}(?:\.\d{1,3})*|[a-z]{1,2}|[ivxlc]{1,5})[.)]\s+")


def skeleton(text: str) -> str:
    """Letters, digits and hyphens, lower-cased: spacing, quotes and footnote references fall away."""
    text = FOOTNOTE_REF_RE.sub("", text or "")
    text = unicodedata.normalize("NFKC", text).translate(DASHES).lower()
    return "".join(c for c in text if c.isalnum() or c == "-")


def read(path: Path):
    """Chunks and units of one document, read and chunked as an index build does."""
    from pdqa.chunking import chunk_corpus
    from pdqa.corpus import load_corpus

    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(path, Path(folder) / path.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corpus = load_corpus(Path(folder))
        chunks, units = chunk_corpus(corpus, 1000)
        return corpus.files[0], chunks, units


def reading_ms(path: Path, runs: int = 3) -> float:
    from pdqa.readers import read_document

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read_document(path)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class Scored:
    def __init__(self, corpus_file, chunks, units, labels: list[dict] = ()):
        self.units = units
        self.labelled_headings = defaultdict(int)
        for label in labels:
            if label["kind"] == "heading":
                self.labelled_headings[(label.get("page"), skeleton(label["text"]))] += 1
        self.unit_skeletons = [skeleton(u.text) for u in units]
        self.text = corpus_file.text
        self.headings = {skeleton(c.section) for c in chunks if c.section} | {
            skeleton(u.text.lstrip("# ")) for u in units if u.kind == "heading"
        }
        self.heading_pages = defaultdict(set)
        for unit in units:
            if unit.kind == "heading" and unit.page is not None:
                self.heading_pages[unit.page].add(skeleton(unit.text.lstrip("# ")))
        self.body = [(u, s) for u, s in zip(units, self.unit_skeletons) if u.kind != "footnote"]

    def in_one_unit(self, text: str, hyphens: bool = True) -> bool:
        wanted = skeleton(text) if hyphens else skeleton(text).replace("-", "")
        skeletons = self.unit_skeletons if hyphens else [s.replace("-", "") for s in self.unit_skeletons]
        return bool(wanted) and any(wanted in s for s in skeletons)

    def is_bullet_item(self, item: str) -> bool:
        try:
            from pdqa.text import BULLET_RE
        except ImportError:  # pdqa before the one bullet pattern (a "before" measurement)
            from pdqa.chunking import BULLET_RE

        wanted = skeleton(item)
        for unit in self.units:
            # An item's printed number ("(a)", "2.", "iv)") is not part of the labelled item text.
            text = ITEM_NUMBER_RE.sub("", BULLET_RE.sub("", unit.text))
            if unit.kind == "item" and skeleton(text) == wanted:
                return True
            if unit.kind == "list" and any(skeleton(BULLET_RE.sub("", line)) == wanted for line in unit.text.splitlines()):
                return True
        return False

    def row_found(self, header: list[str], row: list[str], others: list[str]) -> bool:
        """A unit holding the row's cells and their headers, and no other labelled row's first cell
        (a whole table run into one paragraph holds every row: that is not a row found)."""
        needed = [skeleton(cell) for cell in row if skeleton(cell)]
        needed += [skeleton(header[i]) for i, cell in enumerate(row) if skeleton(cell) and i < len(header) and skeleton(header[i])]
        foreign = [skeleton(o) for o in others if skeleton(o) and skeleton(o) not in skeleton(row[0])]
        return any(all(n in s for n in needed) and not any(f in s for f in foreign) for s in self.unit_skeletons)

    def leaks(self, label: dict) -> bool:
        """Whether the labelled furniture of a page is inside a unit of that page (a document's title
        may repeat its running header's words on the title page: that is not a leak)."""
        kind = label.get("type")
        text = skeleton(label.get("text") or "")
        page = label.get("page")
        on_page = [(u, s) for u, s in self.body if u.page is None or u.page == page]
        if kind in ("running-header", "running-footer"):
            # A banner may repeat a heading printed on the same page (both labelled): the heading's
            # unit holds the words by right, so only units beyond the labelled headings leak.
            holding = sum(1 for _, s in on_page if text in s)
            return len(text) >= 6 and holding > self.labelled_headings.get((page, text), 0)
        if kind == "page-number":
            return any(s == text or s == f"page{text}" for _, s in on_page)
        if kind == "toc-line":
            return len(text) >= 6 and any(text in s for s in self.unit_skeletons)
        if kind == "footnote-marker":
            word, marker = label.get("word") or "", str(label.get("marker") or "")
            if not word or not marker:
                return False
            glued = re.compile(re.escape(word) + r"\s?" + re.escape(marker) + r"(?![\d])")
            return any(glued.search(u.text) for u in self.units)
        if kind == "footnote-text":
            # Inside a body unit of its page, or of a sentence begun on the page before and run on
            # across it; the same words in the body of another page are the report's own text.
            near = [s for u, s in self.body if u.page is None or page is None or u.page in (page - 1, page)]
            return len(text) >= 10 and any(text in s and len(s) > len(text) + 15 for s in near)
        return False


def score_document(path: Path, labels: list[dict], sampled: list[int]) -> dict:
    corpus_file, chunks, units = read(path)
    scored = Scored(corpus_file, chunks, units, labels)
    out: dict = {"doc": path.name, "format": corpus_file.extracted.format}
    sentences = [label for label in labels if label["kind"] == "sentence" and label.get("text")]
    out["sentences"] = [sum(scored.in_one_unit(s["text"]) for s in sentences), len(sentences)]
    out["missed_sentences"] = [s["text"][:90] for s in sentences if not scored.in_one_unit(s["text"])]
    furniture = [label for label in labels if label["kind"] == "furniture"]
    leaked = [f for f in furniture if scored.leaks(f)]
    leader_units = sum(1 for u in units if LEADER_RE.search(u.text))
    out["leaked"] = len(leaked) + leader_units
    out["leaked_kinds"] = sorted({f["type"] for f in leaked} | ({"dot-leaders"} if leader_units else set()))
    headings = [label for label in labels if label["kind"] == "heading"]
    found = [h for h in headings if skeleton(h["text"]) in scored.headings]
    out["heading_recall"] = [len(found), len(headings)]
    labelled_on = {(h["page"], skeleton(h["text"])) for h in headings}
    # A caption is the section of its table's rows by design ("Table 3: …"), not a body line taken for a heading.
    made = [(page, text) for page in sampled for text in scored.heading_pages.get(page, ())
            if not re.match(r"^(table|figure|chart)\d", text)]
    true = [m for m in made if m in labelled_on or any(m[1] == t for _, t in labelled_on)]
    out["heading_precision"] = [len(true), len(made)]
    items = [item for label in labels if label["kind"] == "list" for item in label["items"]]
    out["items"] = [sum(scored.is_bullet_item(i) for i in items), len(items)]
    rows = [(label["header"], row, _foreign_labels(label["rows"], row))
            for label in labels if label["kind"] == "table" for row in label["rows"] if row]
    out["rows"] = [sum(scored.row_found(h, r, o) for h, r, o in rows), len(rows)]
    out["missed_rows"] = [" | ".join(r)[:90] for h, r, o in rows if not scored.row_found(h, r, o)]
    out["missed_headings"] = [h["text"][:80] for h in headings if skeleton(h["text"]) not in scored.headings]
    out["false_headings"] = [t[:60] for p, t in made if (p, t) not in true]
    out["missed_items"] = [i[:80] for i in items if not scored.is_bullet_item(i)]
    out["leaks"] = [f"{f['type']}: {(f.get('text') or f.get('word') or '')[:50]}" for f in leaked]
    title = next((label for label in labels if label["kind"] == "title"), None)
    if title:
        names = list(title.get("authors") or []) + ([title["publisher"]] if title.get("publisher") else [])
        # A title's parts were labelled joined by ": " whatever dash or line break the page prints.
        out["title"] = scored.in_one_unit(title["title"], hyphens=False)
        out["author_or_publisher"] = any(scored.in_one_unit(name, hyphens=False) for name in names)
    pages = corpus_file.extracted.pages or 1
    ms = reading_ms(path)
    out["ms"] = round(ms, 1)
    out["ms_per_page"] = round(ms / pages, 2)
    out["ms_per_mb"] = round(ms / (path.stat().st_size / 1e6), 1)
    return out


def _foreign_labels(rows: list[list[str]], row: list[str]) -> list[str]:
    """The first cells of the table's other rows, but for the labels that head ``row``: the label
    spanning down into a row labelled with an empty first cell, and the label of the group the row
    is in (a row holding only its first cell, "Age", over "25-44 years | 2 | 20"). A row unit that
    repeats them ("Data architecture; Area of work: Health records …", "Age, 25-44 years; …")
    reads whole on its own; it is not run into its neighbours."""
    above = rows[: next(i for i, other in enumerate(rows) if other is row)]
    heading = []
    if not row[0]:
        heading += [next((other for other in reversed(above) if other and other[0]), None)]
    if row[0] and any(row[1:]):
        heading += [next((other for other in reversed(above) if other and other[0] and not any(other[1:])), None)]
    return [other[0] for other in rows if other is not row and all(other is not h for h in heading) and other]


def _share(pairs) -> str:
    hits, total = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return f"{hits / total:.3f} ({hits}/{total})" if total else "–"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=REPORTS)
    parser.add_argument("--json", type=Path, help="Write the per-document figures here.")
    parser.add_argument("--doc", action="append", help="Only these documents (file names).")
    args = parser.parse_args()
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    samples = json.loads(SAMPLES.read_text(encoding="utf-8"))["documents"]
    by_doc = defaultdict(list)
    for label in labels:
        by_doc[label["doc"]].append(label)
    results = []
    for doc in sorted(by_doc):
        if args.doc and doc not in args.doc:
            continue
        results.append(score_document(args.reports / doc, by_doc[doc], samples[doc]["sampled_pages"]))
        r = results[-1]
        print(f"{doc[:44]:44} sent {r['sentences'][0]:>2}/{r['sentences'][1]:<2} leak {r['leaked']:>3} "
              f"head {r['heading_recall'][0]}/{r['heading_recall'][1]} prec {r['heading_precision'][0]}/{r['heading_precision'][1]} "
              f"items {r['items'][0]}/{r['items'][1]} rows {r['rows'][0]}/{r['rows'][1]} "
              f"title {int(r.get('title', 0))}{int(r.get('author_or_publisher', 0))} {r['ms_per_page']} ms/page", flush=True)
    print()
    print("whole sentences    ", _share([r["sentences"] for r in results]))
    print("leaked furniture   ", sum(r["leaked"] for r in results))
    print("heading recall     ", _share([r["heading_recall"] for r in results]))
    print("heading precision  ", _share([r["heading_precision"] for r in results]))
    print("list items         ", _share([r["items"] for r in results]))
    print("table rows         ", _share([r["rows"] for r in results]))
    print("title citable      ", _share([(int(r.get("title", 0)), 1) for r in results]))
    print("author/publisher   ", _share([(int(r.get("author_or_publisher", 0)), 1) for r in results]))
    for fmt in sorted({r["format"] for r in results}):
        rows = [r for r in results if r["format"] == fmt]
        print(f"ms per page ({fmt})  median {statistics.median(r['ms_per_page'] for r in rows):.1f}, "
              f"per MB median {statistics.median(r['ms_per_mb'] for r in rows):.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
