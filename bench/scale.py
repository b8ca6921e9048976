"""Scale benchmark: build pdqa indexes of 1,000 / 10,000 / 100,000 chunks and measure them.

Usage (from the project root, after `make setup`; each size runs once, the largest for a long time):

    python bench/scale.py [--sizes 1000 10000 100000] [--workdir DIR] [--out FILE.json]

The corpus is real English text: sentences of the SQuAD 2.0 paragraphs in ../shared/data/squad2/
(relative to the project), each generated sentence joining the first half of one SQuAD sentence
to the second half of another, so that every sentence is distinct (no vector is shared between
copies) while its length and vocabulary stay those of real text. Each paragraph is one sentence
and each document ten paragraphs, so a chunk is one sentence and its only unit (the build
embeds it once). Every measurement runs in a fresh subprocess so that its peak memory is its own;
nothing is cached between sizes. Figures depend on what else the machine runs: the load average
is recorded next to each size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SQUAD_DIR = REPO.parent / "shared" / "data" / "squad2"
SQUAD_FILES = ("train-10-articles.json", "dev-8-articles.json")
PARAGRAPHS_PER_DOCUMENT = 10
WARM_QUESTIONS = 100
RECALL_QUESTIONS = 200
COLD_RUNS = 3
# The encoder alone is timed on a sample of the built texts: its rate is what is compared with
# the build's, and at 100,000 chunks embedding every text again would cost another 19 CPU-minutes.
ENCODER_SAMPLE = 10_000
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- corpus


def _squad() -> tuple[list[str], list[str]]:
    """SQuAD contexts and answerable questions, in file order."""
    contexts, questions = [], []
    for name in SQUAD_FILES:
        data = json.loads((SQUAD_DIR / name).read_text(encoding="utf-8"))
        for paragraph in (p for article in data["data"] for p in article["paragraphs"]):
            contexts.append(paragraph["context"])
            questions += [q["question"] for q in paragraph["qas"] if not q["is_impossible"]]
    return contexts, questions


def _one_sentence(text: str) -> bool:
    """True when pdqa's chunker reads ``text`` as one plain sentence (not a heading or bullet)."""
    from pdqa.chunking import BULLET_RE, split_sentences

    return text.endswith(".") and len(text) > 120 and not BULLET_RE.match(text) and (
        split_sentences(text) == [(0, len(text))]
    )


def _halves(contexts: list[str]) -> list[tuple[str, str]]:
    from pdqa.chunking import split_sentences

    halves = []
    for context in contexts:
        for start, end in split_sentences(context):
            words = context[start:end].split()
            if len(words) >= 12 and _one_sentence(" ".join(words)):
                middle = len(words) // 2
                halves.append((" ".join(words[:middle]), " ".join(words[middle:])))
    return halves


def generate_sentences(count: int, contexts: list[str], seed: int = 0, exclude: frozenset = frozenset()) -> list[str]:
    """``count`` distinct one-sentence paragraphs: the SQuAD sentences, then recombined halves.

    With ``exclude``, only recombined sentences that are not in it (new text for an edit).
    """
    halves = _halves(contexts)
    rng = random.Random(seed)
    seen: set[str] = set(exclude)
    sentences: list[str] = []
    first_pass = iter(range(0 if exclude else len(halves)))
    while len(sentences) < count:
        head = next(first_pass, None)
        tail = head
        if head is None:
            head, tail = rng.randrange(len(halves)), rng.randrange(len(halves))
        text = f"{halves[head][0]} {halves[tail][1]}"
        if text not in seen and _one_sentence(text):
            seen.add(text)
            sentences.append(text)
    return sentences


def write_corpus(folder: Path, sentences: list[str]) -> int:
    """Write the sentences as documents of PARAGRAPHS_PER_DOCUMENT paragraphs; return how many."""
    folder.mkdir(parents=True)
    documents = 0
    for first in range(0, len(sentences), PARAGRAPHS_PER_DOCUMENT):
        paragraphs = sentences[first : first + PARAGRAPHS_PER_DOCUMENT]
        (folder / f"doc-{documents:06d}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        documents += 1
    return documents


# ---------------------------------------------------------------- workers (one subprocess each)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds this process has used: unlike wall time, hardly changed by other work."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _settings(root: Path):
    from pdqa.settings import Settings

    return Settings(corpus={"dir": root / "corpus"}, index={"dir": root / "index" / "default"})


def _texts(index) -> list[str]:
    """Every chunk and unit text of an open index, chunks first."""
    return [c.text for c in index.store.iter_chunks()] + [u.text for u in index.store.iter_units()]


def worker_build(root: Path) -> dict:
    """A full build, then the ONNX encoder alone on (a sample of) the texts the build embedded.

    The previous index is the bundled report's (for its ONNX export); it shares no text with the
    generated corpus (checked), so the build embeds every text.
    """
    from pdqa.corpus import load_corpus
    from pdqa.embeddings import OnnxEmbedder
    from pdqa.index import Index, build_index
    from pdqa.settings import Settings

    settings = _settings(root)
    with Index.open(Settings(), on_stale="use") as seed:  # the bundled report's index, copied as the seed
        seed_texts = set(_texts(seed))
    corpus_text = "\n".join(f.text for f in load_corpus(settings.corpus_dir).files)
    if any(text in corpus_text for text in seed_texts):
        raise SystemExit("the generated corpus shares text with the seed index: vectors would be reused")
    started, cpu = time.perf_counter(), _cpu_s()
    manifest = build_index(settings)
    build_s, build_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    build_rss = _peak_rss_mb()
    with Index.open(settings) as index:
        texts = list(dict.fromkeys(_texts(index)))
        chunk_chars = [len(c.text) for c in index.store.iter_chunks()]
        embedder = OnnxEmbedder(index.encoder_dir)
    sample = random.Random(0).sample(texts, min(len(texts), ENCODER_SAMPLE))
    started, cpu = time.perf_counter(), _cpu_s()
    embedder.embed(sample)
    encode_s, encode_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    return {
        "chunks": manifest.chunk_count,
        "units": manifest.unit_count,
        "embedded_texts": len(texts),
        "encoder_alone_texts": len(sample),
        "mean_chunk_chars": round(statistics.mean(chunk_chars)),
        "build_s": round(build_s, 2),
        "build_cpu_s": round(build_cpu_s, 2),
        "encoder_alone_s": round(encode_s, 2),
        "encoder_alone_cpu_s": round(encode_cpu_s, 2),
        "chunk_search": manifest.chunk_search.model_dump(),
        "build_peak_rss_mb": round(build_rss),
    }


def worker_incremental(root: Path) -> dict:
    """Change one document, rebuild incrementally, and time it."""
    from pdqa.index import build_index

    settings = _settings(root)
    files = sorted(settings.corpus_dir.glob("*.txt"))
    existing = frozenset(p.strip() for f in files for p in f.read_text(encoding="utf-8").split("\n\n"))
    document = files[len(files) // 2]
    paragraphs = document.read_text(encoding="utf-8").split("\n\n")
    contexts, _ = _squad()
    replacement = generate_sentences(len(paragraphs), contexts, seed=99, exclude=existing)
    document.write_text("\n\n".join(replacement) + "\n", encoding="utf-8")
    started, cpu = time.perf_counter(), _cpu_s()
    build_index(settings)
    return {
        "incremental_s": round(time.perf_counter() - started, 2),
        "incremental_cpu_s": round(_cpu_s() - cpu, 2),
        "changed_paragraphs": len(paragraphs),
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def worker_query(root: Path) -> dict:
    """Warm QA().ask latency, dense search time and recall, BM25 time and memory, peak memory."""
    from pdqa.qa import QA

    _, questions = _squad()
    started = time.perf_counter()
    qa = QA(_settings(root))
    load_s = time.perf_counter() - started
    for question in questions[:5]:  # warm-up: first calls allocate ONNX and FAISS buffers
        qa.ask(question)
    asked = questions[5 : 5 + WARM_QUESTIONS]
    latencies = []
    for question in asked:
        started = time.perf_counter()
        qa.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
    result = {
        "load_s": round(load_s, 2),
        "ask_p50_ms": round(_percentile(latencies, 0.5), 1),
        "ask_p95_ms": round(_percentile(latencies, 0.95), 1),
        "questions": len(asked),
    }
    result |= _dense_figures(qa, questions[:RECALL_QUESTIONS])
    if qa.index.manifest.chunk_search.kind == "exact":
        result |= _hnsw_figures(qa, questions[:RECALL_QUESTIONS])
    chunks = list(qa.index.store.iter_chunks())
    result |= _bm25_figures(chunks, asked, qa.settings.retrieval.candidates, root / "bm25-bench")
    result["query_peak_rss_mb"] = round(_peak_rss_mb())
    return result


def _dense_figures(qa, questions: list[str]) -> dict:
    """Search time of the index in use and of exact search, and recall@10 of the former."""
    import faiss
    import numpy as np

    from pdqa.ann import recall_at_k
    from pdqa.retrieval import one_faiss_thread

    index = qa.index.chunk_index
    exact = faiss.IndexFlatIP(index.d)
    exact.add(index.reconstruct_n(0, index.ntotal))
    vectors = qa.embedder.embed(questions)
    times = {}
    found = {}
    for name, searched in (("index", index), ("exact", exact)):
        started = time.perf_counter()
        with one_faiss_thread():  # one question at a time, as the retriever searches
            found[name] = np.vstack([searched.search(v.reshape(1, -1), 10)[1] for v in vectors])
        times[name] = (time.perf_counter() - started) * 1000 / len(vectors)
    return {
        "dense_search_ms": round(times["index"], 2),
        "exact_search_ms": round(times["exact"], 2),
        "recall_at_10_vs_exact": round(recall_at_k(found["index"], found["exact"]), 4),
    }


def _hnsw_figures(qa, questions: list[str]) -> dict:
    """What the HNSW index the build would choose above the exact limit does on these vectors."""
    import numpy as np

    from pdqa.ann import build_chunk_search, recall_at_k
    from pdqa.retrieval import one_faiss_thread

    vectors = qa.index.chunk_index.reconstruct_n(0, qa.index.chunk_index.ntotal)
    started = time.perf_counter()
    hnsw, search = build_chunk_search(vectors, np.asarray(qa.index.unit_vectors), exact_max=0)
    build_s = time.perf_counter() - started
    queries = qa.embedder.embed(questions)
    started = time.perf_counter()
    with one_faiss_thread():
        found = np.vstack([hnsw.search(v.reshape(1, -1), 10)[1] for v in queries])
    search_ms = (time.perf_counter() - started) * 1000 / len(queries)
    truth = qa.index.chunk_index.search(queries, 10)[1]
    return {
        "hnsw_if_forced": search.model_dump(),
        "hnsw_build_s": round(build_s, 1),
        "hnsw_search_ms": round(search_ms, 2),
        "hnsw_recall_at_10_questions": round(recall_at_k(found, truth), 4),
    }


def _bm25_figures(chunks, questions: list[str], candidates: int, folder: Path) -> dict:
    """BM25 build time, saved size, load time and retained memory (tracemalloc), query time.

    Saved to and loaded from ``folder`` as a build and a load of the index do; the score arrays
    are memory-mapped, so what the load retains is mostly the vocabulary.
    """
    import tracemalloc

    from pdqa.bm25 import BM25Ranker, keyword_text

    texts = [keyword_text(chunk) for chunk in chunks]
    started = time.perf_counter()
    BM25Ranker.build(texts).save(folder)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    tracemalloc.start()
    ranker = BM25Ranker.load(folder)
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    load_s = time.perf_counter() - started
    times = []
    for question in questions:
        started = time.perf_counter()
        ranker.rank(question, candidates)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "bm25_build_s": round(build_s, 2),
        "bm25_disk_mb": round(_size_on_disk_mb(folder), 1),
        "bm25_load_s": round(load_s, 3),
        "bm25_memory_mb": round(retained / 2**20, 1),
        "bm25_query_p50_ms": round(_percentile(times, 0.5), 2),
    }


def cold_ask(root: Path, question: str) -> list[float]:
    """Wall time of `pdqa ask` from a new process, COLD_RUNS times."""
    settings = _settings(root)
    env = {**os.environ, "PDQA_CORPUS__DIR": str(settings.corpus_dir), "PDQA_INDEX__DIR": str(settings.index_dir)}
    times, cpu = [], []
    for _ in range(COLD_RUNS):
        used, started = _children_cpu_s(), time.perf_counter()
        subprocess.run([str(BIN / "pdqa"), "ask", question], env=env, check=True, capture_output=True)
        times.append(round(time.perf_counter() - started, 2))
        cpu.append(round(_children_cpu_s() - used, 2))
    return times, cpu


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_text_only(root: Path) -> dict:
    """For a size too large to embed in the session: chunking, BM25, and exact search cost.

    Exact search reads every vector whatever the vectors hold, so its time is measured on random
    unit vectors of the corpus's size; nothing here stands in for a dense *result*.
    """
    import faiss
    import numpy as np

    from pdqa.chunking import chunk_corpus
    from pdqa.corpus import load_corpus
    from pdqa.retrieval import one_faiss_thread
    from pdqa.settings import Settings

    started = time.perf_counter()
    settings = Settings()
    chunks, units = chunk_corpus(load_corpus(root / "corpus"), settings.index.chunk_max_chars)
    chunk_s = time.perf_counter() - started
    _, questions = _squad()
    result = {"chunks": len(chunks), "units": len(units), "chunk_s": round(chunk_s, 1)}
    result |= _bm25_figures(chunks, questions[5 : 5 + WARM_QUESTIONS], settings.retrieval.candidates, root / "bm25-bench")
    vectors = np.random.default_rng(0).normal(size=(len(chunks), 384)).astype(np.float32)
    exact = faiss.IndexFlatIP(384)
    exact.add(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    with one_faiss_thread():
        started = time.perf_counter()
        for vector in vectors[:100]:
            exact.search(vector.reshape(1, -1), 20)
    result["exact_search_ms"] = round((time.perf_counter() - started) * 10, 2)
    result["peak_rss_mb"] = round(_peak_rss_mb())
    return result


WORKERS = {
    "build": worker_build,
    "incremental": worker_incremental,
    "query": worker_query,
    "text-only": worker_text_only,
}


def _run_worker(name: str, root: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", name, str(root)], check=True, capture_output=True, text=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- one size, the table


def _size_on_disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _seed_encoder(index_dir: Path) -> None:
    """Start from the bundled corpus's index: the timed build reuses its ONNX export only."""
    from pdqa.index import Index
    from pdqa.settings import Settings

    settings = Settings()
    Index.open(settings, on_stale="use").close()  # IndexNotBuilt: run `pdqa index build` first
    shutil.copytree(settings.index_dir, index_dir, ignore=shutil.ignore_patterns(".build.lock"))


def measure(size: int, workdir: Path) -> dict:
    """Generate a corpus of ``size`` chunks, build it, change one document, and query it."""
    root = workdir / f"scale-{size}"
    shutil.rmtree(root, ignore_errors=True)
    contexts, questions = _squad()
    documents = write_corpus(root / "corpus", generate_sentences(size, contexts))
    _seed_encoder(root / "index" / "default")
    result = {"size": size, "documents": documents, "load_before": round(os.getloadavg()[0], 1)}
    result |= _run_worker("build", root)
    index_dir = root / "index" / "default"
    encoder_mb = sum(_size_on_disk_mb(encoder) for encoder in index_dir.glob("gen-*/encoder"))
    result["index_mb"] = round(_size_on_disk_mb(index_dir) - encoder_mb, 1)
    result["encoder_mb"] = round(encoder_mb, 1)
    result |= _run_worker("incremental", root)
    result |= _run_worker("query", root)
    result["cold_ask_s"], result["cold_ask_cpu_s"] = cold_ask(root, questions[0])
    result["load_after"] = round(os.getloadavg()[0], 1)
    return result


def measure_text_only(size: int, workdir: Path) -> dict:
    """Generate a corpus of ``size`` chunks and measure what does not need its vectors."""
    root = workdir / f"scale-{size}"
    shutil.rmtree(root, ignore_errors=True)
    contexts, _ = _squad()
    documents = write_corpus(root / "corpus", generate_sentences(size, contexts))
    result = {"size": size, "documents": documents, "load_before": round(os.getloadavg()[0], 1)}
    result |= _run_worker("text-only", root)
    result["load_after"] = round(os.getloadavg()[0], 1)
    return result


def table(results: list[dict]) -> str:
    """The README table: one column per size."""
    rows = [
        ("documents / chunks / units", lambda r: f"{r['documents']:,} / {r['chunks']:,} / {r['units']:,}"),
        ("full build, wall / CPU", lambda r: f"{r['build_s']:.1f} s / {r['build_cpu_s']:.1f} s"),
        ("build throughput, wall / CPU", lambda r: _rates(r, "build")),
        ("ONNX encoder alone on the same texts (10,000 at most), wall / CPU", lambda r: _rates(r, "encoder_alone")),
        ("build ÷ encoder throughput, wall / CPU", _ratios),
        ("incremental build, 1 document changed, wall / CPU", _incremental),
        ("dense search", lambda r: _search_label(r)),
        ("dense recall@10 vs exact", lambda r: f"{r['recall_at_10_vs_exact']:.3f}"),
        ("exact search per query", lambda r: f"{r['exact_search_ms']:.2f} ms"),
        ("HNSW on the same vectors: efSearch, recall@10 on questions, search", _forced_hnsw),
        ("warm `QA().ask` p50 / p95", lambda r: f"{r['ask_p50_ms']:.0f} / {r['ask_p95_ms']:.0f} ms"),
        ("cold `pdqa ask` (median of 3), wall / CPU",
         lambda r: f"{statistics.median(r['cold_ask_s']):.2f} s / {statistics.median(r['cold_ask_cpu_s']):.2f} s"),
        ("`QA()` load", lambda r: f"{r['load_s']:.2f} s"),
        ("index on disk (+ encoder)", lambda r: f"{r['index_mb']:.0f} MB (+{r['encoder_mb']:.0f} MB)"),
        ("peak memory: build / query", lambda r: f"{r['build_peak_rss_mb']:,} / {r['query_peak_rss_mb']:,} MB"),
        ("BM25 build / on disk / load / memory after load / query p50", _bm25),
        ("load average before / after", lambda r: f"{r['load_before']} / {r['load_after']}"),
    ]
    header = "| chunks | " + " | ".join(f"{r['size']:,}" for r in results) + " |"
    lines = [header, "|---|" + "---|" * len(results)]
    lines += [f"| {name} | " + " | ".join(cell(r) for r in results) + " |" for name, cell in rows]
    return "\n".join(lines)


def _rates(result: dict, name: str) -> str:
    texts = result["chunks"] if name == "build" else result["encoder_alone_texts"]
    return f"{texts / result[name + '_s']:.0f} / {texts / result[name + '_cpu_s']:.0f} chunks/s"


def _bm25(result: dict) -> str:
    return (
        f"{result['bm25_build_s']:.1f} s / {result['bm25_disk_mb']:.1f} MB / {result['bm25_load_s'] * 1000:.0f} ms"
        f" / {result['bm25_memory_mb']:.1f} MB / {result['bm25_query_p50_ms']:.1f} ms"
    )


def _ratios(result: dict) -> str:
    build, alone = result["chunks"], result["encoder_alone_texts"]
    wall = (build / result["build_s"]) / (alone / result["encoder_alone_s"])
    cpu = (build / result["build_cpu_s"]) / (alone / result["encoder_alone_cpu_s"])
    return f"{wall:.2f}× / {cpu:.2f}×"


def _incremental(result: dict) -> str:
    wall, cpu = result["incremental_s"], result["incremental_cpu_s"]
    return f"{wall:.1f} s ({wall / result['build_s']:.1%}) / {cpu:.1f} s ({cpu / result['build_cpu_s']:.1%})"


def _forced_hnsw(result: dict) -> str:
    if "hnsw_if_forced" not in result:
        return "(in use above)"
    search = result["hnsw_if_forced"]
    if search["kind"] != "hnsw":
        return "recall target not reached"
    return (
        f"ef={search['ef_search']}, {result['hnsw_recall_at_10_questions']:.3f}, "
        f"{result['hnsw_search_ms']:.2f} ms (built in {result['hnsw_build_s']:.1f} s)"
    )


def _search_label(result: dict) -> str:
    search = result["chunk_search"]
    if search["kind"] == "exact":
        return f"exact, {result['dense_search_ms']:.2f} ms"
    return f"HNSW M={search['hnsw_m']} ef={search['ef_search']}, {result['dense_search_ms']:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pdqa-scale")
    parser.add_argument(
        "--text-only", type=int, nargs="*", default=[], metavar="SIZE",
        help="sizes measured without embedding: chunking, BM25 and exact-search cost only",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "scale.json")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker[0]](Path(args.worker[1]))))
        return
    results = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        results.append(measure(size, args.workdir))
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(json.dumps(results[-1]), flush=True)
    print(table(results))
    for size in args.text_only:
        results.append({"text_only": True} | measure_text_only(size, args.workdir))
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
