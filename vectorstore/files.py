"""Files written so that a crash leaves the old version or the new one, never half of either.

Also the one place where an operating-system error from writing the data directory becomes a
one-line :class:`StoreError` naming the folder and the fix (a full disk, a read-only folder).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from vectorstore.errors import StoreError

_FULL = ("database or disk is full", "no space left", "disk full", "quota exceeded", "file too large")
_READ_ONLY = ("readonly database", "read-only file system", "permission denied", "read only")


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a synced temporary file renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` atomically."""
    write_atomic(path, json.dumps(value, ensure_ascii=False))


def sync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_tree(folder: Path) -> None:
    """Delete ``folder`` if it exists, ignoring what cannot be deleted."""
    shutil.rmtree(folder, ignore_errors=True)


def is_writable(folder: Path) -> bool:
    """Return whether files can be created in ``folder`` (or in its nearest existing parent)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return False
    try:
        return not os.statvfs(probe).f_flag & os.ST_RDONLY
    except OSError:
        return True


def write_error(exc: BaseException, folder: Path) -> StoreError | None:
    """Return the one-line error for a failed write into ``folder``, or None if not a disk error."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or any(s in text for s in _FULL):
        return StoreError(
            f"The disk holding {folder} is full. Free some space there (or use a --data-dir on "
            "another disk) and run the ingest again; the index keeps every document completed so far."
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or any(s in text for s in _READ_ONLY):
        return StoreError(
            f"{folder} is read-only: Casebook can answer from it but not ingest into it. Ingest "
            "into a writable --data-dir, or ask for write access to that folder."
        )
    return None
