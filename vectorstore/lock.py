"""The writers' lock: one ingestion (or repair) at a time per index; readers never take it.

Embedded Chroma: a ``filelock`` on ``data_dir/ingest.lock``, released by the kernel when its
holder dies. A Chroma server shared by several machines: also a lock record in the ledger with
the holder and an expiry that a heartbeat thread keeps pushing back, so a dead holder's record
lapses after ``ttl`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from vectorstore.errors import StoreError
from vectorstore.files import write_error, write_json_atomic
from vectorstore.ledger import Ledger

Notify = Callable[[str], None]


class IndexBusyError(StoreError):
    """Another ingestion holds the index and the caller chose not to wait."""


class WriterLock:
    """Context manager holding the index for one writer; waits (saying so once) or refuses."""

    def __init__(
        self,
        data_dir: Path,
        ledger: Callable[[], Ledger] | None = None,
        *,
        wait: bool = True,
        notify: Notify | None = None,
        ttl: float = 60.0,
    ) -> None:
        self.data_dir = data_dir
        self._ledger = ledger
        self.wait, self.notify, self.ttl = wait, notify, ttl
        self._file = FileLock(str(data_dir / "ingest.lock"))
        self._holder = f"{os.getpid()}@{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> WriterLock:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._acquire_file()
            write_json_atomic(self._holder_path, {"pid": os.getpid(), "host": socket.gethostname()})
        except OSError as exc:
            raise write_error(exc, self.data_dir) or StoreError(
                f"Cannot lock {self.data_dir} for writing ({exc}). Check the folder's permissions."
            ) from None
        if self._ledger is not None:
            try:
                self._acquire_record(self._ledger())
            except BaseException:
                self._file.release()
                raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self._ledger is not None:
            try:
                ledger = self._ledger()
                held = ledger.lock_holder()
                if held is not None and held.get("holder") == self._holder:
                    ledger.drop_lock()
            except Exception:  # the record lapses by itself after ttl
                pass
        self._holder_path.unlink(missing_ok=True)
        self._file.release()

    @property
    def _holder_path(self) -> Path:
        return self.data_dir / "ingest.lock.json"

    def _acquire_file(self) -> None:
        try:
            self._file.acquire(timeout=0)
            return
        except Timeout:
            pass
        self._waiting(self._file_holder())
        self._file.acquire()

    def _file_holder(self) -> tuple[object, object]:
        try:
            data = json.loads(self._holder_path.read_text(encoding="utf-8"))
            return data.get("pid", "?"), data.get("host", "?")
        except (OSError, ValueError):
            return "?", socket.gethostname()

    def _waiting(self, holder: tuple[object, object]) -> None:
        pid, host = holder
        if not self.wait:
            raise IndexBusyError(
                f"The index at {self.data_dir} is being written by the ingestion running as pid {pid} "
                f"on {host}. Run again when it has finished, or without --no-wait to wait for it."
            )
        if self.notify is not None:
            self.notify(f"Waiting for the ingestion running as pid {pid} on {host} to finish...")

    def _acquire_record(self, ledger: Ledger) -> None:
        said = False
        while True:
            held = ledger.lock_holder()
            if held is None or held.get("holder") == self._holder:
                ledger.put_lock(self._holder, os.getpid(), socket.gethostname(), self.ttl)
                time.sleep(0.2)  # a rival who wrote at the same moment wins or loses here
                held = ledger.lock_holder()
                if held is not None and held.get("holder") == self._holder:
                    break
                continue
            if not said:
                self._waiting((held.get("pid", "?"), held.get("host", "?")))
                said = True
            time.sleep(1.0)
        self._beat = threading.Thread(target=self._heartbeat, args=(ledger,), daemon=True)
        self._beat.start()

    def _heartbeat(self, ledger: Ledger) -> None:
        while not self._stop.wait(self.ttl / 3):
            with contextlib.suppress(Exception):  # a missed beat only shortens the lease
                ledger.put_lock(self._holder, os.getpid(), socket.gethostname(), self.ttl)
