"""Ingestion: loaders per format, section-aware chunking, and the incremental pipeline."""

from ingest.chunking import ChunkingParams, chunk_document, doc_id_for
from ingest.documents import Document, Section
from ingest.loaders import load, supported
from ingest.pipeline import IngestReport, ingest

__all__ = [
    "ChunkingParams",
    "Document",
    "IngestReport",
    "Section",
    "chunk_document",
    "doc_id_for",
    "ingest",
    "load",
    "supported",
]
