"""Sync or async is decided once, at registration, from the code that actually runs."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator

import pytest

from qtasks.core.callables import call_target, generating_kind, is_async_callable
from qtasks.registries.build import build_schema


async def fetch(base: str, path: str) -> str:
    return base + path


def plain(x: int) -> int:
    return x


class AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


class SyncCallable:
    def __call__(self, x: int) -> int:
        return x


class AsyncGenCallable:
    async def __call__(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i


class GenCallable:
    def __call__(self, n: int) -> Iterator[int]:
        yield from range(n)


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (fetch, True),
        (plain, False),
        (AsyncCallable(), True),
        (SyncCallable(), False),
        (functools.partial(fetch, "https://"), True),
        (functools.partial(functools.partial(fetch, "a"), "b"), True),
        (functools.partial(AsyncCallable()), True),
        (functools.partial(plain, 1), False),
        (AsyncCallable, False),  # calling the class builds an instance: not a coroutine
        (AsyncCallable().__call__, True),
    ],
)
def test_is_async_callable(func: object, expected: bool) -> None:
    assert is_async_callable(func) is expected


def test_call_target_unwraps_partials_and_instances() -> None:
    obj = AsyncCallable()
    assert call_target(functools.partial(obj, 1)) == obj.__call__
    assert call_target(functools.partial(fetch, "a")) is fetch
    assert call_target(AsyncCallable) is AsyncCallable


def test_generating_kind_of_callable_objects() -> None:
    assert generating_kind(AsyncGenCallable()) == "async"
    assert generating_kind(GenCallable()) == "sync"
    assert generating_kind(functools.partial(GenCallable(), 2)) == "sync"
    assert generating_kind(AsyncCallable()) is False


def test_an_async_callable_object_is_registered_async() -> None:
    schema = build_schema(AsyncCallable(), None, 0, {})
    assert schema.awaiting is True and schema.generating is False
    assert schema.name == "AsyncCallable"  # an instance is named after its class
    assert build_schema(SyncCallable(), None, 0, {}).awaiting is False
    gen = build_schema(AsyncGenCallable(), "agen", 0, {})
    assert gen.awaiting is True and gen.generating == "async"


def test_a_partial_is_registered_by_what_it_wraps() -> None:
    schema = build_schema(functools.partial(fetch, "https://"), "fetch_https", 0, {})
    assert schema.awaiting is True and schema.name == "fetch_https"
    wrapped = build_schema(functools.partial(AsyncCallable()), "obj", 0, {})
    assert wrapped.awaiting is True
    assert build_schema(functools.partial(plain, 1), "one", 0, {}).awaiting is False


def test_a_partial_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        build_schema(functools.partial(fetch, "https://"), None, 0, {})
