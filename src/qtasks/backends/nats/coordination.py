"""Named leases and shared documents on NATS (`Coordination`): one JetStream key-value
bucket per namespace (`QT_<ns>_coord`).

```
  lease.<name>             {"holder", "expires"}: taken by a create (free) or an update
                           at the revision read (expired or the holder's own), so two
                           processes racing for it cannot both win
  doc.<collection>.<key>   the document's JSON
```

The deciding clock for a lease's expiry is the caller's: NATS offers no clock to read
in the same step, so the processes sharing a lease need clocks within a fraction of its
time to live of each other (NTP keeps them within milliseconds).
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import nats.js.errors
import orjson
from nats.js.kv import KeyValue

from qtasks.backends.nats.driver import Names, NatsDriver, keeps_cancellation, token

_B32 = "b32."
_KEY = re.compile(r"[-/_=a-zA-Z0-9]+")


def kv_key(name: str) -> str:
    """`name` as one key token: itself, or its base32 form behind a prefix no plain
    name has."""
    if _KEY.fullmatch(name):
        return name
    return _B32 + base64.b32encode(name.encode()).decode().rstrip("=")


class KvCoordination:
    """`Coordination` over a key-value bucket; mixed into `NatsResults`."""

    driver: NatsDriver
    names: Names

    async def _coord(self) -> KeyValue:
        link = await self.driver.link()
        return await self.driver.bucket(link, self.names.coordination)

    @staticmethod
    def _lease_key(name: str) -> str:
        return "lease." + kv_key(name)

    async def _entry(self, kv: KeyValue, k: str) -> KeyValue.Entry | None:
        try:
            entry = await kv.get(k)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry if entry.value else None

    @keeps_cancellation
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> float | None:
        kv, k = await self._coord(), self._lease_key(name)
        now = time.time()
        value = orjson.dumps({"holder": holder, "expires": now + ttl})
        with self.driver.errors:
            entry = await self._entry(kv, k)
            try:
                if entry is None:
                    await kv.create(k, value)
                else:
                    current = orjson.loads(entry.value or b"{}")
                    if current.get("holder") != holder and current.get("expires", 0) > now:
                        return None
                    await kv.update(k, value, last=entry.revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                return None  # another process wrote it first
        return now

    @keeps_cancellation
    async def release_lease(self, name: str, holder: str) -> None:
        kv, k = await self._coord(), self._lease_key(name)
        with self.driver.errors:
            entry = await self._entry(kv, k)
            if entry is None or orjson.loads(entry.value or b"{}").get("holder") != holder:
                return
            try:
                await kv.delete(k, last=entry.revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                pass  # taken over meanwhile: no longer ours to release

    @keeps_cancellation
    async def lease_holder(self, name: str) -> str | None:
        kv = await self._coord()
        with self.driver.errors:
            entry = await self._entry(kv, self._lease_key(name))
        if entry is None:
            return None
        current = orjson.loads(entry.value or b"{}")
        return str(current["holder"]) if current.get("expires", 0) > time.time() else None

    @staticmethod
    def _doc_prefix(collection: str) -> str:
        return f"doc.{token(collection)}."

    @keeps_cancellation
    async def put_document(self, collection: str, key: str, document: dict[str, Any]) -> None:
        kv = await self._coord()
        with self.driver.errors:
            await kv.put(self._doc_prefix(collection) + kv_key(key), orjson.dumps(document))

    @keeps_cancellation
    async def get_document(self, collection: str, key: str) -> dict[str, Any] | None:
        kv = await self._coord()
        with self.driver.errors:
            entry = await self._entry(kv, self._doc_prefix(collection) + kv_key(key))
        return None if entry is None else dict(orjson.loads(entry.value or b"{}"))

    @keeps_cancellation
    async def list_documents(self, collection: str) -> dict[str, dict[str, Any]]:
        kv, prefix = await self._coord(), self._doc_prefix(collection)
        out: dict[str, dict[str, Any]] = {}
        with self.driver.errors:
            try:
                keys = [k for k in await kv.keys() if k.startswith(prefix)]
            except nats.js.errors.NoKeysError:
                return out
            for k in keys:
                entry = await self._entry(kv, k)
                if entry is not None:
                    out[_plain(k[len(prefix) :])] = dict(orjson.loads(entry.value or b"{}"))
        return out

    @keeps_cancellation
    async def delete_document(self, collection: str, key: str) -> bool:
        kv, k = await self._coord(), self._doc_prefix(collection) + kv_key(key)
        with self.driver.errors:
            if await self._entry(kv, k) is None:
                return False
            await kv.purge(k)
        return True


def _plain(k: str) -> str:
    """The document key that `kv_key` turned into `k`."""
    if not k.startswith(_B32):
        return k
    body = k[len(_B32) :]
    return base64.b32decode(body + "=" * (-len(body) % 8)).decode()


__all__ = ["KvCoordination"]
