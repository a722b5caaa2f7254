"""The NATS JetStream backend (`nats://host:4222`, `tls://host:4222`): a work-queue
stream with a pull consumer per queue and priority, results in a key-value bucket.
`pip install ".[nats]"`; see docs/backends/nats.md."""

from qtasks.backends.nats.backend import NatsBackend
from qtasks.backends.nats.broker import NatsBroker
from qtasks.backends.nats.results import NatsResults

__all__ = ["NatsBackend", "NatsBroker", "NatsResults"]
