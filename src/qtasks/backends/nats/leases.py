"""Fencing JetStream deliveries, and counting the deliveries that were given back.

JetStream's ack subject names the message (stream sequence) and how many times it was
delivered (`num_delivered`), but the server acts on an ack, nak or in-progress ack of
an older delivery as on the current one: a worker whose AckWait ran out, while another
now holds the message, could ack that other worker's delivery. So the current holder
is kept in the namespace's leases bucket, under the message's stream sequence:

```
  no entry      nobody took it over: the first delivery (num_delivered 1) holds it
  "N B U"       delivery N holds it (N = 0: given back, nobody holds it); B deliveries
                were given back (release, nack, a delayed task's early deliveries);
                the holder extended its lease until U (epoch seconds; 0: no such claim)
```

A first delivery writes nothing. A redelivery reads the entry and makes itself the
holder with a compare-and-set on the entry's revision, unless the holder extended its
lease after the server had already let it lapse (U still ahead): JetStream redelivers
such a message anyway, so the redelivery gives it back until U and counts as given
back (an expired lease nobody took is still its holder's); ack, extend, release and nack
read it and act only when it names their delivery (release and nack by a
compare-and-set as well). The delivery count the engine sees is `num_delivered - B`.
The entry of a message is removed once the message is acked.
"""

from __future__ import annotations

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

#: Attempts of a compare-and-set that loses to a concurrent writer before giving up.
_TRIES = 8


def parse_token(token: str) -> tuple[int, int]:
    """(stream sequence, num_delivered) of a delivery's token (its ack subject)."""
    parts = token.split(".")
    if len(parts) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        return int(parts[5]), int(parts[4])
    # $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>...
    return int(parts[7]), int(parts[6])


async def read(kv: KeyValue, seq: int) -> tuple[int, int, float, int | None]:
    """(holder, given back, holder's lease end, revision) of the message; holder 1 and
    revision None when there is no entry."""
    try:
        entry = await kv.get(str(seq))
    except nats.js.errors.KeyNotFoundError:  # also a deleted entry
        return 1, 0, 0.0, None
    holder, back, until = (entry.value or b"1 0 0").split()
    return int(holder), int(back), float(until), entry.revision


async def _write(kv: KeyValue, seq: int, value: str, revision: int | None) -> bool:
    try:
        if revision is None:
            await kv.create(str(seq), value.encode())
        else:
            await kv.update(str(seq), value.encode(), last=revision)
    except nats.js.errors.KeyWrongLastSequenceError:
        return False
    except nats.js.errors.BadRequestError:  # create of a key written meanwhile
        return False
    return True


async def take(kv: KeyValue, seq: int, delivered: int, now: float) -> tuple[int, float]:
    """Make delivery `delivered` of a redelivered message its holder: (deliveries given
    back before it, 0.0). When the holder extended its lease past `now`, the message
    stays the holder's and this delivery is counted as given back: (0, lease end)."""
    for _ in range(_TRIES):
        holder, back, until, revision = await read(kv, seq)
        if holder not in (0, delivered) and until > now:
            if await _write(kv, seq, f"{holder} {back + 1} {until!r}", revision):
                return 0, until
        elif await _write(kv, seq, f"{delivered} {back} 0", revision):
            return back, 0.0
    raise nats.js.errors.KeyWrongLastSequenceError()


async def holds(kv: KeyValue, seq: int, delivered: int) -> tuple[bool, int | None]:
    """Whether delivery `delivered` still holds the message, and the entry's revision."""
    holder, _, _, revision = await read(kv, seq)
    return holder == delivered, revision


async def extended(kv: KeyValue, seq: int, delivered: int, until: float) -> bool:
    """Record that delivery `delivered` extended its lease until `until`, if it still
    holds the message."""
    for _ in range(_TRIES):
        holder, back, _, revision = await read(kv, seq)
        if holder != delivered:
            return False
        if await _write(kv, seq, f"{holder} {back} {until!r}", revision):
            return True
    return False


async def give_back(kv: KeyValue, seq: int, delivered: int) -> bool:
    """Record that delivery `delivered` gives the message back (its count is undone),
    if it still holds it; False when another delivery holds it now."""
    for _ in range(_TRIES):
        holder, back, _, revision = await read(kv, seq)
        if holder != delivered:
            return False
        if await _write(kv, seq, f"0 {back + 1} 0", revision):
            return True
    return False


async def forget(js: JetStreamContext, bucket: str, seq: int) -> None:
    """Remove every trace of an acked message's entry (a key-value delete or purge
    would leave a marker behind for each task)."""
    await js.purge_stream(f"KV_{bucket}", subject=f"$KV.{bucket}.{seq}")


__all__ = ["extended", "forget", "give_back", "holds", "parse_token", "read", "take"]
