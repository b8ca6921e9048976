"""Use pdqa's hybrid retriever inside a LlamaIndex pipeline (imports LlamaIndex on use).

Example::

    from pdqa import QA
    from pdqa.llamaindex import as_retriever

    retriever = as_retriever(QA(), k=5)
    nodes = retriever.retrieve("Where does the Joint Team work?")
    # each node: TextNode(id_=chunk_id, text=chunk text,
    #                     metadata={doc_id, title, section, start, end}), score = fused score
"""

from __future__ import annotations

from .qa import QA


def as_retriever(qa: QA, k: int | None = None):
    """Wrap ``qa.retrieve`` as a LlamaIndex ``BaseRetriever``.

    Args:
        qa: The QA object whose index and settings to use.
        k: Nodes per query; default ``qa.settings.retrieval.top_k``.

    Returns:
        A ``llama_index.core.retrievers.BaseRetriever`` whose nodes carry pdqa's chunk ids,
        character offsets into the corpus file and fused scores.
    """
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class PdqaRetriever(BaseRetriever):
        def _retrieve(self, query_bundle):
            return [
                NodeWithScore(node=_node(TextNode, hit), score=hit.score)
                for hit in qa.retrieve(query_bundle.query_str, k=k)
            ]

    return PdqaRetriever()


def _node(text_node_class, hit):
    metadata = {key: getattr(hit, key) for key in ("doc_id", "title", "section", "start", "end")}
    return text_node_class(id_=hit.chunk_id, text=hit.text, metadata=metadata)
