"""Named leases and shared documents on PostgreSQL (`Coordination`): the `leases` and
`documents` tables of migration 2, written once as operations (`ops.Op`). Lease times
are the database's clock."""

from __future__ import annotations

from typing import Any

from qtasks.backends.postgres.ops import Op, Q
from qtasks.backends.postgres.sql import Statements
from qtasks.core import codec


def acquire_lease(s: Statements, ns: str, name: str, holder: str, ttl: float) -> Op[float | None]:
    found = yield Q(s.acquire_lease, (ns, name, holder, ttl))
    return float(found[0][0]) if found else None


def release_lease(s: Statements, ns: str, name: str, holder: str) -> Op[None]:
    yield Q(s.release_lease, (ns, name, holder))


def lease_holder(s: Statements, ns: str, name: str) -> Op[str | None]:
    found = yield Q(s.lease_holder, (ns, name))
    return str(found[0][0]) if found else None


def put_document(
    s: Statements, ns: str, collection: str, key: str, document: dict[str, Any]
) -> Op[None]:
    yield Q(s.put_document, (ns, collection, key, codec.dumps(document)))


def get_document(s: Statements, ns: str, collection: str, key: str) -> Op[dict[str, Any] | None]:
    found = yield Q(s.get_document, (ns, collection, key))
    return dict(codec.loads(bytes(found[0][0]))) if found else None


def list_documents(s: Statements, ns: str, collection: str) -> Op[dict[str, dict[str, Any]]]:
    found = yield Q(s.list_documents, (ns, collection))
    return {str(key): dict(codec.loads(bytes(blob))) for key, blob in found}


def delete_document(s: Statements, ns: str, collection: str, key: str) -> Op[bool]:
    count = yield Q(s.delete_document, (ns, collection, key))
    return bool(count)


__all__ = [
    "acquire_lease",
    "delete_document",
    "get_document",
    "lease_holder",
    "list_documents",
    "put_document",
    "release_lease",
]
