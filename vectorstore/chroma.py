"""Opening Chroma: the embedded database or a server, its three collections, kept current.

An embedded Chroma caches its vector index per process, so a process that did not write a
change does not see it in searches until it opens the database afresh: :class:`View` is one
such opening, replaced (not patched) when another process moved the index on. A read-only
data directory cannot be opened by Chroma at all (it writes on open), so it is opened from a
private copy in the temporary folder, refreshed in the same way.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from vectorstore.errors import StoreError
from vectorstore.ledger import META

log = logging.getLogger(__name__)

COLLECTION = "casebook"
SENTENCES = "casebook_sentences"
_CONFIG = {"hnsw": {"space": "cosine", "ef_search": 200}}


class View:
    """One opening of Chroma with the chunk, sentence and ledger collections."""

    def __init__(self, data_dir: Path, chroma_url: str | None, *, copy: bool = False) -> None:
        self.copy_dir: Path | None = None
        path = data_dir / "chroma"
        if copy:
            self.copy_dir = Path(tempfile.mkdtemp(prefix="casebook-readonly-"))
            shutil.copytree(path, self.copy_dir / "chroma")
            path = self.copy_dir / "chroma"
            atexit.register(shutil.rmtree, self.copy_dir, True)
            log.info("chroma opened from a copy of read-only %s", data_dir)
        self.client = _connect(path, chroma_url)
        try:
            self.collection, self.sentences = (
                self.client.get_or_create_collection(name, embedding_function=None, configuration=_CONFIG)
                for name in (COLLECTION, SENTENCES)
            )
            self.meta = self.client.get_or_create_collection(META, embedding_function=None)
        except Exception as exc:  # chromadb wraps transport failures in assorted types
            raise _unreachable(chroma_url, path, exc) from exc

    def detach(self) -> Any:
        """Take this view's embedded system out of chromadb's cache (so the next View opens the
        database afresh) and return it, to be stopped once no search can still be using it."""
        from chromadb.api.shared_system_client import SharedSystemClient

        identifier = getattr(self.client, "_identifier", None)
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)
        return SharedSystemClient._identifier_to_system.pop(identifier, None)

    def close(self, system: Any) -> None:
        """Stop a system returned by :meth:`detach` and delete this view's private copy."""
        try:
            if system is not None:
                system.stop()
        except Exception as exc:  # stopping is tidying up; a failure leaks memory, nothing else
            log.debug("chroma stop failed %s", exc)
        if self.copy_dir is not None:
            shutil.rmtree(self.copy_dir, ignore_errors=True)


def _connect(path: Path, chroma_url: str | None) -> Any:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if not chroma_url:
        try:
            return chromadb.PersistentClient(path=str(path), settings=settings)
        except Exception as exc:
            raise _unreachable(None, path, exc) from exc
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise StoreError(f"Chroma URL {chroma_url!r} is not a URL. Use e.g. http://127.0.0.1:8000")
    try:
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 80),
            ssl=url.scheme == "https",
            settings=settings,
        )
    except Exception as exc:  # chromadb raises bare ValueError/ConnectError variants
        raise _unreachable(chroma_url, path, exc) from exc


def _unreachable(chroma_url: str | None, path: Path, exc: BaseException) -> StoreError:
    from vectorstore.files import write_error

    if chroma_url:
        return StoreError(
            f"Cannot reach the Chroma server at {chroma_url} ({first_line(exc)}). "
            "Start it with: chroma run --path DIR --port N"
        )
    return write_error(exc, path.parent) or StoreError(
        f"Cannot open the Chroma database at {path} ({first_line(exc)})."
    )


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message, for one-line errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
