"""Named leases and shared documents on Redis (`Coordination`), as flows the driver
runs: a lease is a string holding its holder's name that expires with the lease (taken
and renewed by one script, on the server's clock); a collection is a hash of JSON
documents."""

from __future__ import annotations

from typing import Any

from qtasks.backends.redis import scripts as lua
from qtasks.backends.redis.commands import Flow
from qtasks.core import codec


def acquire_lease(name: str, holder: str, ttl: float) -> Flow:
    reply = yield (lua.LEASE_ACQUIRE, name, holder, max(1, int(ttl * 1000)))
    return None if reply is None else float(reply)


def release_lease(name: str, holder: str) -> Flow:
    yield (lua.LEASE_RELEASE, name, holder)


def lease_holder(prefix: str, name: str) -> Flow:
    reply = yield ("GET", prefix + "lease:" + name)
    return None if reply is None else reply.decode()


def put_document(prefix: str, collection: str, key: str, document: dict[str, Any]) -> Flow:
    yield ("HSET", prefix + "doc:" + collection, key, codec.dumps(document))


def get_document(prefix: str, collection: str, key: str) -> Flow:
    reply = yield ("HGET", prefix + "doc:" + collection, key)
    return None if reply is None else dict(codec.loads(reply))


def list_documents(prefix: str, collection: str) -> Flow:
    found = yield ("HGETALL", prefix + "doc:" + collection)
    if not isinstance(found, dict):  # the async parser already pairs an HGETALL reply
        found = dict(zip(found[0::2], found[1::2], strict=True))
    return {k.decode(): dict(codec.loads(v)) for k, v in found.items()}


def delete_document(prefix: str, collection: str, key: str) -> Flow:
    return bool((yield ("HDEL", prefix + "doc:" + collection, key)))


__all__ = [
    "acquire_lease",
    "delete_document",
    "get_document",
    "lease_holder",
    "list_documents",
    "put_document",
    "release_lease",
]
