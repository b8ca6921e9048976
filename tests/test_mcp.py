"""pdqa mcp: the MCP SDK's own client starts `pdqa mcp` over stdio, lists the tools and calls them;
the same tools over streamable HTTP at /mcp of `pdqa serve --mcp`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the server extra is not installed: pip install 'pdqa[server]'")

from server_helpers import running  # noqa: E402

# A question the extractive answerer answers (it abstains on the authors question: docs/evaluation.md).
ANSWERED = "How long is the initial contract for the Joint Head post?"
NOT_SAID = "How many pilot sites were there?"
TOOLS = {"ask", "retrieve", "list_documents", "get_passage"}


def _tool_answer(answer) -> dict:
    """What the ask tool gives for an Answer: the Answer without hits and timings."""
    return {k: v for k, v in json.loads(answer.model_dump_json()).items() if k not in ("hits", "timings_ms")}


def _stdio_parameters(settings):
    from mcp import StdioServerParameters

    pdqa = Path(sys.executable).parent / "pdqa"
    env = {"PDQA_INDEX__DIR": str(settings.index_dir), "HF_HUB_OFFLINE": "1",
           "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
           **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}}
    return StdioServerParameters(command=str(pdqa), args=["--corpus", str(settings.corpus_dir), "mcp"], env=env)


async def _session_calls(client, qa):
    tools = (await client.list_tools()).tools
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == TOOLS
    ask_text = by_name["ask"].description.lower()
    assert "exact" in ask_text and "do not say" in ask_text
    assert by_name["ask"].output_schema and "citations" in by_name["ask"].output_schema["properties"]
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools)

    answered = await client.call_tool("ask", {"question": ANSWERED})
    assert not answered.is_error
    assert answered.structured_content == _tool_answer(qa.ask(ANSWERED))
    first = answered.structured_content["citations"][0]
    assert first["quote"] and first["start"] < first["end"]
    assert json.loads(answered.content[0].text) == answered.structured_content  # the same, as text

    other = await client.call_tool("ask", {"question": NOT_SAID, "k": 3})
    assert other.structured_content == _tool_answer(qa.ask(NOT_SAID, k=3))

    hits = await client.call_tool("retrieve", {"question": "clive house noms", "k": 2})
    assert hits.structured_content == {"hits": [json.loads(h.model_dump_json()) for h in qa.retrieve("clive house noms", k=2)]}

    listed = await client.call_tool("list_documents", {})
    assert {d["doc_id"] for d in listed.structured_content["documents"]} == {d.doc_id for d in qa.manifest.documents}

    passage = await client.call_tool("get_passage", {"doc_id": first["doc_id"], "start": first["start"], "end": first["end"]})
    assert passage.structured_content["text"] == first["quote"]

    unknown = await client.call_tool("get_passage", {"doc_id": "../../etc/passwd", "start": 0, "end": 10})
    assert unknown.is_error and "no document" in unknown.content[0].text
    empty = await client.call_tool("ask", {"question": "   "})
    assert empty.is_error and "empty" in empty.content[0].text
    too_many = await client.call_tool("ask", {"question": ANSWERED, "k": 500})
    assert too_many.is_error


def test_pdqa_mcp_over_stdio_with_the_sdk_client(built_settings, qa):
    from mcp import Client

    async def main():
        async with Client(_stdio_parameters(built_settings), read_timeout_seconds=120) as client:
            await _session_calls(client, qa)

    asyncio.run(asyncio.wait_for(main(), timeout=240))


def test_mcp_server_in_process_answers_like_qa(built_settings, qa):
    from mcp import Client

    from pdqa.server.live import LiveQA
    from pdqa.server.mcp_tools import build_mcp_server

    live = LiveQA(built_settings)

    async def main():
        async with Client(build_mcp_server(live)) as client:
            await _session_calls(client, qa)

    try:
        asyncio.run(main())
    finally:
        live.close()


def test_mcp_over_streamable_http_in_pdqa_serve(built_settings, qa):
    from mcp import Client

    from pdqa.server.app import create_app

    app = create_app(built_settings, mcp=True)
    with running(app) as url:
        async def main():
            async with Client(f"{url}/mcp", read_timeout_seconds=120) as client:
                assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
                answered = await client.call_tool("ask", {"question": ANSWERED})
                assert answered.structured_content == _tool_answer(qa.ask(ANSWERED))

        asyncio.run(asyncio.wait_for(main(), timeout=120))
        # The JSON API beside it still answers.
        import httpx

        assert httpx.post(f"{url}/v1/ask", json={"question": ANSWERED}, timeout=60).status_code == 200


def test_mcp_over_http_needs_the_token_too(built_settings):
    import httpx

    from pdqa.server.app import create_app

    app = create_app(built_settings, mcp=True, token="m" * 32, token_env="SOME_TOKEN_VARIABLE")
    with running(app) as url:
        refused = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
    assert refused.status_code == 401 and refused.json()["error"]


def test_tool_answer_keeps_in_step_with_answer():
    from pdqa.models import Answer
    from pdqa.server.mcp_tools import TOOL_ANSWER_DROPS, ToolAnswer

    assert set(ToolAnswer.model_fields) == set(Answer.model_fields) - set(TOOL_ANSWER_DROPS)
    for name, field in ToolAnswer.model_fields.items():
        assert field.annotation == Answer.model_fields[name].annotation
        assert field.description == Answer.model_fields[name].description
