"""Integration tests against a real llama.cpp server through the openai-like backend, for two models.

Each model's server starts on a free loopback port and stops after its tests. Gemma 3 270M is a
small *base* model, asked through the completion API, that often invents answers or echoes its
prompt; SmolLM2-135M-Instruct is instruction-tuned and asked through the chat API with its own
chat template. The point is that whatever survives verification is backed by the exact corpus
span it cites, whichever model wrote it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re

import pytest

if importlib.util.find_spec("xllamacpp") is None:
    pytest.skip(
        "xllamacpp is not installed, so no llama.cpp server can be started: pip install -e '.[test]'",
        allow_module_level=True,
    )

from click.testing import CliRunner  # noqa: E402
from llama_server import SMOLLM2_ALIAS, gguf_path, serve, smollm2_gguf_path  # noqa: E402

from pdqa.cli import cli  # noqa: E402
from pdqa.evaluation.runner import quote_supports, verified_sentences  # noqa: E402
from pdqa.question import analyse, split_compound  # noqa: E402
from pdqa.qa import QA, checked_question  # noqa: E402
from pdqa.verify import Asked, Span  # noqa: E402
from pdqa.settings import LLMSettings  # noqa: E402

pytestmark = pytest.mark.llm_server

# Questions whose answers are in the corpus; with them the model also writes cited sentences
# that verification keeps, so the checks below have sentences to check.
QUESTIONS = [
    "Would the post holder be expected to work in London every day?",
    "What evidence suggests the schemes kept people's conditions from getting worse?",
    "What fundamental assumptions did all the pilot services demonstrate in delivering treatment?",
    "Who wrote the Innovation in Action report?",
    "How many pilot sites were there?",
]
COMMON = {"timeout_s": 120, "max_retries": 0, "strict": True}
# The base model continues text: a line break ends its answer (see tests/llama_server.py). The
# instruction-tuned model ends its turn itself.
MODELS = {
    "gemma-3-270m": {"api": "completion", "stop": ["\n"], "max_tokens": 96},
    SMOLLM2_ALIAS: {"api": "chat", "max_tokens": 128},
}


@pytest.fixture(scope="module", params=list(MODELS))
def server(request, tmp_path_factory):
    if request.param == SMOLLM2_ALIAS:
        context = serve(smollm2_gguf_path(), chat_template=None, alias=SMOLLM2_ALIAS)
    else:
        context = serve(gguf_path(tmp_path_factory.mktemp("gguf")))
    with context as info:
        yield info


@pytest.fixture(scope="module")
def llm_settings(server, built_settings):
    config = LLMSettings(backend="openai-like", base_url=server.base_url, model=server.model,
                         **COMMON, **MODELS[server.model])
    return built_settings.changed(llm=config)


@pytest.fixture(scope="module")
def answers(llm_settings):
    qa = QA(llm_settings)
    yield qa, [qa.ask(question) for question in QUESTIONS]
    qa.close()


@pytest.fixture(scope="module")
def corpus_texts(built_settings):
    """Each corpus file's text as on disk (the bundled corpus is plain text), by its path."""
    folder = built_settings.corpus_dir
    return {path.name: path.read_bytes().decode("utf-8") for path in folder.glob("*.txt")}


def test_the_server_answered_every_question(answers):
    _, results = answers
    # strict=True: an unreachable server would have raised, so every answer went through the model.
    assert all(a.raw_answer is not None and a.llm.backend == "openai-like" for a in results)
    assert all(a.mode in ("llm", "extractive-fallback") for a in results)


def test_some_sentences_survive_so_the_checks_below_are_not_empty(answers):
    _, results = answers
    assert sum(len(verified_sentences(a)) for a in results if a.mode == "llm") >= 1


def test_every_kept_sentence_quotes_the_corpus_exactly_and_is_backed_by_its_quote(answers, corpus_texts):
    qa, results = answers
    threshold = qa.settings.verify.support_threshold
    for question, answer in zip(QUESTIONS, results):
        if answer.mode != "llm" or answer.abstained:
            continue
        # The support model reads the question's content terms (a word the question uses is not
        # new), as QA.ask gives them to the verifier.
        terms = Asked.of([analyse(part) for part in split_compound(checked_question(question))], {}).question_terms
        for sentence, citations in verified_sentences(answer):
            assert citations, sentence
            for citation in citations:
                assert citation.quote == corpus_texts[citation.path][citation.start : citation.end]
            assert quote_supports(sentence, citations), (sentence, [c.quote for c in citations])
            # The first citation opens the supporting span (one unit, or it and the next): the
            # support head, asked again, believes it.
            units = [next(u for u in qa.index.units_of(c.chunk_id) if (u.start, u.end) == (c.start, c.end))
                     for c in citations[:2]]
            chunk = qa.index.chunk_by_id(citations[0].chunk_id)
            spans = [Span((units[0],), chunk)]
            order = [u.unit_id for u in qa.index.units_of(chunk.chunk_id)]
            if len(units) == 2 and units[1].unit_id in order and order.index(units[1].unit_id) == order.index(units[0].unit_id) + 1:
                spans.append(Span(tuple(units), chunk))
            # Asked again with other spans beside it: each pair is scored alone, so its score
            # cannot move with the company it is scored in.
            assert max(qa.verifier.support_probabilities(sentence, spans, terms)) >= threshold, sentence


def test_removed_sentences_each_carry_a_reason(answers):
    _, results = answers
    for answer in results:
        assert all(claim.sentence and claim.reason for claim in answer.removed)
        if answer.mode == "extractive-fallback" and answer.raw_answer.strip():
            assert answer.removed, "a reply with text fell back without any removed sentence"


def test_cli_ask_against_the_server_prints_only_verified_sentences(server, built_settings):
    model = {f"PDQA_LLM__{name.upper()}": json.dumps(value) if isinstance(value, list) else str(value)
             for name, value in MODELS[server.model].items()}
    env = {name: None for name in os.environ if name.startswith("PDQA_")}
    env.update({"PDQA_CORPUS__DIR": str(built_settings.corpus_dir), "PDQA_INDEX__DIR": str(built_settings.index_dir),
                "PDQA_LLM__TIMEOUT_S": "120", **model})
    args = ["ask", "--json", "--llm", "openai-like", "--base-url", server.base_url, "--model", server.model,
            "--strict", QUESTIONS[0]]
    result = CliRunner().invoke(cli, args, env=env, prog_name="pdqa")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["llm"]["backend"] == "openai-like" and data["raw_answer"] is not None
    assert data["mode"] in ("llm", "extractive-fallback")
    # Whatever was printed, verified or extractive, each marker resolves to an exact quote.
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers == {c["n"] for c in data["citations"]}
    assert data["abstained"] or markers
