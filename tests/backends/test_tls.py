"""`amqps://` and `tls://` for real: a task's round trip over TLS to RabbitMQ (through a
TLS-terminating proxy in front of the local server) and to a nats-server of this test's
own with a TLS listener, the authority given in the URL; a server whose certificate the
client cannot verify is a clear error naming the broker, never a hang."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

import qtasks
from qtasks.exc import BackendUnavailableError, ConfigError

from .nats_server import BINARY, PrivateNats
from .tls_certs import OPENSSL, Certs, TlsProxy, make_certs

REDIS_URL = os.environ.get("QTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="no openssl command to make certificates")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


def _round_trip(app: qtasks.QueueTasks) -> None:
    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    with app.serve():
        task = add.add_task(2, 3, timeout=15)
        assert task is not None and task.returning == 5


# --- RabbitMQ -------------------------------------------------------------------------
@pytest.fixture
def amqps(amqp_url: str, certs: Certs) -> Iterator[tuple[str, TlsProxy]]:
    """`amqps://` to the test run's vhost, through a TLS proxy: (URL without options, proxy)."""
    parts = urlsplit(amqp_url)
    proxy = TlsProxy(certs, (parts.hostname or "127.0.0.1", parts.port or 5672))
    auth = parts.netloc.rsplit("@", 1)[0]
    yield f"amqps://{auth}@127.0.0.1:{proxy.port}{parts.path}", proxy
    proxy.close()


def test_an_app_runs_tasks_over_amqps(amqps: tuple[str, TlsProxy], certs: Certs) -> None:
    url, proxy = amqps
    app = qtasks.QueueTasks(
        f"tls-{uuid.uuid4().hex[:8]}",
        broker_url=f"{url}?cafile={quote(str(certs.ca))}",
        storage_url=REDIS_URL,
    )
    try:
        _round_trip(app)
        assert proxy.handshakes >= 1  # the traffic went through TLS
    finally:
        app.flush_all()
        app.backend.close_sync()


def test_an_unverifiable_rabbitmq_certificate_is_a_clear_error(
    amqps: tuple[str, TlsProxy],
) -> None:
    url, _ = amqps  # no cafile: the test authority is unknown to the system
    app = qtasks.QueueTasks(f"tls-{uuid.uuid4().hex[:8]}", broker_url=url, storage_url=REDIS_URL)
    try:
        with pytest.raises(BackendUnavailableError) as caught:
            app.add_task("anything", 1)
        assert "127.0.0.1" in str(caught.value) and "guest@" not in str(caught.value)
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(
            caught.value
        )
    finally:
        app.backend.close_sync()


# --- NATS -------------------------------------------------------------------------------
@pytest.fixture
def nats_tls(tmp_path: Path, certs: Certs) -> Iterator[PrivateNats]:
    if not os.path.exists(BINARY):
        pytest.skip("no nats-server binary")
    server = PrivateNats(
        tmp_path / "store", tls=(certs.cert, certs.key)
    )  # a listener that requires TLS
    server.start()
    yield server
    server.kill()


def test_an_app_runs_tasks_over_nats_tls(nats_tls: PrivateNats, certs: Certs) -> None:
    url = f"tls://127.0.0.1:{nats_tls.port}?tls_ca={quote(str(certs.ca))}"
    app = qtasks.QueueTasks(f"tls-{uuid.uuid4().hex[:8]}", broker_url=url)
    try:
        _round_trip(app)
    finally:
        app.backend.close_sync()


def test_an_unverifiable_nats_certificate_is_a_clear_error(nats_tls: PrivateNats) -> None:
    app = qtasks.QueueTasks("tls-unverified", broker_url=f"tls://127.0.0.1:{nats_tls.port}")
    try:
        with pytest.raises(BackendUnavailableError) as caught:
            app.add_task("anything", 1)
        assert f"127.0.0.1:{nats_tls.port}" in str(caught.value)
    finally:
        app.backend.close_sync()


def test_nats_tls_options_are_checked_when_the_app_is_made(certs: Certs) -> None:
    with pytest.raises(ConfigError, match="tls_cafile"):
        qtasks.QueueTasks("tls-bad", broker_url="tls://127.0.0.1:4222?tls_cafile=x.pem")
    with pytest.raises(ConfigError, match="cannot be used"):
        qtasks.QueueTasks("tls-bad", broker_url="tls://127.0.0.1:4222?tls_ca=/nonexistent.pem")
    with pytest.raises(ConfigError, match="tls_cert"):
        qtasks.QueueTasks("tls-bad", broker_url=f"nats://127.0.0.1:4222?tls_key={certs.key}")
