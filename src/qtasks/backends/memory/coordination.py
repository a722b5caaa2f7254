"""Named leases and shared documents of the memory backend (`Coordination`): plain
dictionaries under a lock, per store, so every app of the process on one URL shares
them. The deciding clock is this process's."""

from __future__ import annotations

import threading
import time
from typing import Any

from qtasks.core import codec


class CoordinationTables:
    """Leases (`(namespace, name)` -> (holder, deadline)) and documents, kept encoded
    so a caller's later change to a dict does not change the stored one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.leases: dict[tuple[str, str], tuple[str, float]] = {}
        self.documents: dict[tuple[str, str], dict[str, bytes]] = {}

    def acquire(self, ns: str, name: str, holder: str, ttl: float) -> float | None:
        with self.lock:
            now = time.time()
            current = self.leases.get((ns, name))
            if current is not None and current[0] != holder and current[1] > now:
                return None
            self.leases[(ns, name)] = (holder, now + ttl)
            return now

    def release(self, ns: str, name: str, holder: str) -> None:
        with self.lock:
            current = self.leases.get((ns, name))
            if current is not None and current[0] == holder:
                del self.leases[(ns, name)]

    def holder(self, ns: str, name: str) -> str | None:
        with self.lock:
            current = self.leases.get((ns, name))
            return current[0] if current is not None and current[1] > time.time() else None

    def put(self, ns: str, collection: str, key: str, document: dict[str, Any]) -> None:
        blob = codec.dumps(document)
        with self.lock:
            self.documents.setdefault((ns, collection), {})[key] = blob

    def get(self, ns: str, collection: str, key: str) -> dict[str, Any] | None:
        with self.lock:
            blob = self.documents.get((ns, collection), {}).get(key)
        return None if blob is None else dict(codec.loads(blob))

    def list(self, ns: str, collection: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            items = list(self.documents.get((ns, collection), {}).items())
        return {key: dict(codec.loads(blob)) for key, blob in items}

    def delete(self, ns: str, collection: str, key: str) -> bool:
        with self.lock:
            return self.documents.get((ns, collection), {}).pop(key, None) is not None


__all__ = ["CoordinationTables"]
