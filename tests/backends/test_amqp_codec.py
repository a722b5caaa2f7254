"""The RabbitMQ broker's pure parts: priorities, delays, message bodies, dead letters."""

from __future__ import annotations

import time

import pytest

from qtasks.backends.amqp import codec
from qtasks.core.models import TaskRecord
from qtasks.exc import SerializationError


def test_lower_qtasks_priority_is_higher_amqp_priority_within_the_range() -> None:
    assert [codec.amqp_priority(p) for p in (0, 1, 5, 10)] == [10, 9, 5, 0]
    assert codec.amqp_priority(-3) == 10 and codec.amqp_priority(99) == 0


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [(0.4, 400), (0.0004, 1), (1.2341, 1240), (3600.0, 3_600_000), (3601.5, 3_610_000)],
)
def test_delays_round_up_to_three_significant_digits(seconds: float, ms: int) -> None:
    now = 1_000_000.0
    got = codec.delay_ms(now + seconds, now)
    assert got == ms and got >= seconds * 1000  # never early
    assert got <= seconds * 1000 * 1.01 + 1


def test_a_due_task_has_no_delay() -> None:
    assert codec.delay_ms(None, 5.0) == 0
    assert codec.delay_ms(4.0, 5.0) == 0


def test_a_record_round_trips_through_a_body() -> None:
    now = time.time()
    r = TaskRecord("u", "t", 3, [1, "x"], {"k": [2]}, "new", now, now, extra={"e": 1})
    r.eta, r.queue = now + 5, "emails"
    assert codec.decode(codec.encode(r)) == r


def test_an_unencodable_record_is_refused_before_anything_is_sent() -> None:
    now = time.time()
    with pytest.raises(SerializationError):
        codec.encode(TaskRecord("u", "t", 0, [object()], {}, "new", now, now))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{nope", "not JSON"),
        (b'"a string"', "not a JSON object"),
        (b'{"uuid": "u"}', "missing fields: task_name"),
        (
            b'{"uuid": "u", "task_name": "t", "priority": "high", "args": [], "kwargs": {},'
            b' "status": "new", "created_at": 1, "updated_at": 1}',
            "field 'priority' is str, not int",
        ),
    ],
)
def test_a_body_that_is_not_a_task_says_what_is_wrong(body: bytes, says: str) -> None:
    with pytest.raises(codec.Malformed, match=says):
        codec.decode(body)


def test_dead_letters_read_back_from_their_headers() -> None:
    now = time.time()
    r = TaskRecord("u", "t", 0, [], {}, "error", now, now)
    headers = codec.letter_headers("gave up", now, "default", raw=False)
    letter = codec.letter("u", headers, codec.encode(r))
    assert (letter.reason, letter.queue, letter.record) == ("gave up", "default", r)
    assert letter.dead_at == pytest.approx(now)
    raw = codec.letter("x", codec.letter_headers("bad", now, "q", raw=True), b"\xff{")
    assert raw.record is None and raw.raw == "\ufffd{" and raw.queue == "q"


def test_without_aio_pika_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from qtasks.backends import backend_class
    from qtasks.exc import MissingDriverError

    monkeypatch.setitem(sys.modules, "aio_pika", None)  # import aio_pika: ImportError
    for url in ("amqp://localhost", "amqps://localhost"):
        with pytest.raises(MissingDriverError, match=r'pip install "\.\[amqp\]"'):
            backend_class(url)
