"""Embedding and storing chunks: the one path by which text enters the index."""

from __future__ import annotations

from collections.abc import Sequence

from vectorstore.embedder import Embedder
from vectorstore.records import Chunk, StoredDocument
from vectorstore.sentences import sentence_units
from vectorstore.store import Store


def embed_and_write(
    store: Store, embedder: Embedder, chunks: Sequence[Chunk], replaces: StoredDocument | None = None
) -> int:
    """Embed ``chunks`` and their sentences, store them, and return how many vectors were made."""
    units = sentence_units(chunks)
    vectors = embedder.embed([c.embed_text for c in chunks] + [u.embed_text for u in units])
    store.write_document(chunks, vectors[: len(chunks)], units, vectors[len(chunks) :], replaces)
    return len(vectors)
