"""The TCP fault proxy on real local sockets: an echo server behind it, and each fault as a client sees it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress

import pytest

from loanbridge.common.testing.faultproxy import FaultProxy
from loanbridge.common.testing.waiting import wait_until

TIMEOUT = 5.0


class EchoServer:
    """Sends back whatever it receives, one thread per connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()
        self.connections: list[socket.socket] = []
        self.endings: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    def _echo(self, connection: socket.socket) -> None:
        """Echo until the peer leaves; record how it left: "closed" (FIN) or "reset" (RST)."""
        with connection:
            try:
                while data := connection.recv(65536):
                    connection.sendall(data)
                self.endings.append("closed")
            except ConnectionResetError:
                self.endings.append("reset")
            except OSError:
                self.endings.append("error")

    def close(self) -> None:
        with suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the server thread
        self.listener.close()
        for connection in self.connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    started = FaultProxy(upstream=echo.address).start()
    yield started
    started.stop()


def connect(proxy: FaultProxy) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    client.settimeout(TIMEOUT)
    return client


def receive(client: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes, or fewer if the peer closed."""
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def round_trip(client: socket.socket, payload: bytes) -> bytes:
    client.sendall(payload)
    return receive(client, len(payload))


def link_is_dead(client: socket.socket) -> bool:
    """True when the peer closed or reset the connection (rather than just staying silent)."""
    try:
        client.sendall(b"ping")
        return client.recv(16) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def new_connection_is_dead(proxy: FaultProxy) -> bool:
    try:
        client = connect(proxy)
    except ConnectionError:
        return True
    with client:
        return link_is_dead(client)


def test_pass_forwards_both_ways(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        assert round_trip(client, b"hello") == b"hello"
        payload = bytes(range(256)) * 1024  # larger than one chunk
        assert round_trip(client, payload) == payload

    assert proxy.accepted == 1


def test_delay_adds_latency_in_each_direction(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        assert round_trip(client, b"warm-up") == b"warm-up"
        proxy.delay(0.2)

        started = time.monotonic()
        assert round_trip(client, b"slow") == b"slow"

        assert time.monotonic() - started >= 0.4


def test_delay_holds_bytes_in_flight_without_limiting_the_throughput(proxy: FaultProxy) -> None:
    # A megabyte is sixteen chunks: forwarded one latency after another it would take 16 x 0.2 s each way.
    with connect(proxy) as client:
        assert round_trip(client, b"warm-up") == b"warm-up"
        proxy.delay(0.2)
        payload = bytes(range(256)) * 4096

        started = time.monotonic()
        sender = threading.Thread(target=client.sendall, args=(payload,))
        sender.start()
        echoed = receive(client, len(payload))
        sender.join()

        assert echoed == payload  # in order, complete
        assert 0.4 <= time.monotonic() - started < 2.0


def test_delay_keeps_the_order_of_small_writes(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        proxy.delay(0.1)
        started = time.monotonic()
        for n in range(20):
            client.sendall(b"%02d" % n)
            time.sleep(0.01)
        assert receive(client, 40) == b"".join(b"%02d" % n for n in range(20))
        assert time.monotonic() - started < 1.0  # 0.2 s over the 0.2 s of writing, not 20 x 0.2 s


def test_healing_a_delay_delivers_what_was_in_flight(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        proxy.delay(0.3)
        client.sendall(b"in flight")
        proxy.heal()
        assert receive(client, 9) == b"in flight"


def test_black_hole_holds_data_without_closing_and_heal_lets_it_through(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        assert round_trip(client, b"before") == b"before"
        proxy.black_hole()

        client.sendall(b"held")
        client.settimeout(0.3)
        with pytest.raises(TimeoutError):
            client.recv(16)

        proxy.heal()
        client.settimeout(TIMEOUT)
        assert receive(client, 4) == b"held"


def test_black_hole_accepts_new_connections_that_then_hear_nothing(proxy: FaultProxy) -> None:
    proxy.black_hole()

    with connect(proxy) as client:
        client.sendall(b"anyone?")
        client.settimeout(0.3)
        with pytest.raises(TimeoutError):
            client.recv(16)


def test_a_connection_made_during_a_black_hole_reaches_the_upstream_only_once_healed(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    proxy.black_hole()
    with connect(proxy) as client:
        client.sendall(b"held")
        time.sleep(0.5)
        assert echo.connections == [] and proxy.accepted == 0  # the server never heard of it

        proxy.heal()

        assert receive(client, 4) == b"held"
        assert proxy.accepted == 1


def test_a_connection_held_by_a_black_hole_is_closed_by_a_reset(proxy: FaultProxy, echo: EchoServer) -> None:
    proxy.black_hole()
    with connect(proxy) as client:
        time.sleep(0.3)  # accepted and held
        proxy.reset()

        assert link_is_dead(client)
    proxy.heal()
    time.sleep(0.5)
    assert echo.connections == []


def test_cut_closes_open_connections_and_refuses_new_ones_until_healed(proxy: FaultProxy) -> None:
    with connect(proxy) as open_client:
        assert round_trip(open_client, b"before") == b"before"

        proxy.cut()

        assert link_is_dead(open_client)
    assert new_connection_is_dead(proxy)

    proxy.heal()

    with connect(proxy) as after_heal:
        assert round_trip(after_heal, b"after") == b"after"


def test_reset_aborts_open_connections_with_a_tcp_reset(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        assert round_trip(client, b"before") == b"before"

        proxy.reset()

        with pytest.raises(ConnectionResetError):
            client.recv(16)


def test_reset_also_reaches_the_upstream_side(proxy: FaultProxy, echo: EchoServer) -> None:
    with connect(proxy) as client:
        assert round_trip(client, b"before") == b"before"

        proxy.reset()

        assert wait_until(lambda: echo.endings, timeout=TIMEOUT) == ["reset"]


def test_client_leaving_closes_the_upstream_side_gracefully(proxy: FaultProxy, echo: EchoServer) -> None:
    with connect(proxy) as client:
        assert round_trip(client, b"bye") == b"bye"

    assert wait_until(lambda: echo.endings, timeout=TIMEOUT) == ["closed"]


def test_new_connections_pass_after_a_reset(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        round_trip(client, b"x")
        proxy.reset()

    with connect(proxy) as fresh:
        assert round_trip(fresh, b"fresh") == b"fresh"


def test_fault_block_heals_on_exit(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        with proxy.fault("delay", seconds=0.05):
            assert proxy.mode == "delay"
            assert round_trip(client, b"slow") == b"slow"

        assert (proxy.mode, proxy.latency) == ("pass", 0.0)
        assert round_trip(client, b"fast") == b"fast"


def test_connection_to_an_unreachable_upstream_is_aborted(echo: EchoServer) -> None:
    echo.close()
    proxy = FaultProxy(upstream=echo.address).start()
    try:
        assert new_connection_is_dead(proxy)
        assert proxy.accepted == 0
    finally:
        proxy.stop()


def test_stopped_proxy_refuses_connections(echo: EchoServer) -> None:
    proxy = FaultProxy(upstream=echo.address).start()
    with connect(proxy) as client:
        assert round_trip(client, b"x") == b"x"

        proxy.stop()

        assert wait_until(lambda: link_is_dead(client), timeout=TIMEOUT)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
