"""Section-aware chunking: each section is split on sentence boundaries into overlapping chunks.

Chunks never cross a section or a document, so every chunk keeps one heading path or one page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from ingest.documents import Document
from vectorstore.records import Chunk

Tokenizer = Callable[[str], list]


@dataclass(frozen=True)
class ChunkingParams:
    """Chunk size and overlap in the embedding model's own wordpieces."""

    chunk_tokens: int = 200
    chunk_overlap: int = 30


def doc_id_for(source: str) -> str:
    """Return the stable id of the document ingested from ``source``."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def chunk_document(document: Document, params: ChunkingParams, tokenize: Tokenizer) -> list[Chunk]:
    """Return the chunks of ``document`` in reading order."""
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=params.chunk_tokens,
        chunk_overlap=params.chunk_overlap,
        tokenizer=tokenize,
        paragraph_separator="\n\n",
    )
    doc_id = doc_id_for(document.source)
    metadata = {**document.metadata, "content_hash": document.content_hash}
    chunks: list[Chunk] = []
    for section in document.sections:
        for text in splitter.split_text(section.text):
            chunks.append(
                Chunk(
                    id=f"{doc_id}:{len(chunks):04d}",
                    doc_id=doc_id,
                    text=text.strip(),
                    title=document.title,
                    source=document.source,
                    position=len(chunks),
                    page=section.page,
                    section=section.heading,
                    metadata=metadata,
                )
            )
    return chunks
