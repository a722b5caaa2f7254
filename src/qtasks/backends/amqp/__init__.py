"""The RabbitMQ broker (`amqp://`, `amqps://`; `pip install ".[amqp]"`): a `Broker`
only, paired with the result store of `storage_url` (see `broker.py`)."""

from qtasks.backends.amqp.broker import AmqpBroker

__all__ = ["AmqpBroker"]
