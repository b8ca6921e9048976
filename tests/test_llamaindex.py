"""pdqa's retriever used through LlamaIndex's retriever interface."""

from __future__ import annotations

from pdqa.llamaindex import as_retriever


def test_llamaindex_retriever_returns_pdqa_hits_as_nodes(qa, corpus_text):
    question = "Where does the Joint Team work from?"
    nodes = as_retriever(qa, k=3).retrieve(question)
    hits = qa.retrieve(question, k=3)
    assert [n.node.node_id for n in nodes] == [h.chunk_id for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    top = nodes[0].node
    assert "Clive House" in top.get_content()
    start, end = top.metadata["start"], top.metadata["end"]
    assert corpus_text[start:end] == top.get_content()
    assert top.metadata["doc_id"] == "opd-vacancy"
