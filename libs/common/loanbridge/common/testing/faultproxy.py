"""A TCP fault proxy: put it between a service and the broker or database and take the link away.

Modes: ``pass`` forwards; ``delay`` forwards each chunk a latency after it came, in each direction (a delay
line: the latency holds the bytes in flight, it does not limit the throughput); ``black_hole`` keeps connections
open but forwards nothing, and new connections get no further than the proxy (like a dropped route: what was
held goes through once healed, as TCP's retransmissions would); ``cut`` closes every connection and refuses new
ones (like a stopped server); ``reset`` aborts every connection with a TCP RST. The machine's shared servers are
never touched: only this proxy's sockets change.

    proxy = FaultProxy(upstream=("127.0.0.1", 5672)).start()
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    proxy.cut(); ...; proxy.heal()
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress

CHUNK = 65536
IDLE_WAIT_MS = 2000  # a pump with nothing in flight still looks at the stop flag this often


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], *, listen: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(listen, reuse_port=False)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.mode = "pass"
        self.latency = 0.0
        self._connections: set[socket.socket] = set()
        self._held: list[socket.socket] = []  # clients accepted during a black hole, not yet sent upstream
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._flowing = threading.Event()  # clear while black-holed
        self._flowing.set()
        self.accepted = 0

    def start(self) -> FaultProxy:
        threading.Thread(target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._flowing.set()
        self._close_all(reset=False)
        # close() alone leaves the port listening while the accept loop still waits in accept(); shutdown wakes it.
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    # --- faults -----------------------------------------------------------------------------------------
    def heal(self) -> None:
        """Forward normally again."""
        self.mode, self.latency = "pass", 0.0
        self._flowing.set()

    def cut(self) -> None:
        """Close every connection and refuse new ones until healed."""
        self.mode = "cut"
        self._flowing.set()
        self._close_all(reset=False)

    def reset(self) -> None:
        """Abort every open connection with a RST; new connections are forwarded."""
        self._close_all(reset=True)

    def black_hole(self) -> None:
        """Keep connections open but let nothing through, in either direction; new connections are accepted
        and held, the upstream never hears of them until healed."""
        self.mode = "black_hole"
        self._flowing.clear()

    def delay(self, seconds: float) -> None:
        """Hold every chunk ``seconds`` in each direction before forwarding it (a round trip gains twice that)."""
        self.mode, self.latency = "delay", seconds
        self._flowing.set()

    @contextmanager
    def fault(self, mode: str, **kwargs: float) -> Iterator[FaultProxy]:
        """Apply a fault for the duration of a block."""
        getattr(self, mode)(**kwargs)
        try:
            yield self
        finally:
            self.heal()

    # --- plumbing ---------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            if self._held and self._flowing.is_set():
                with self._lock:
                    held, self._held = self._held, []
                for client in held:
                    if client.fileno() != -1:  # not closed meanwhile by a cut, a reset or stop
                        self._connect_upstream(client)
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.mode == "cut":
                _abort(client)
                continue
            if not self._flowing.is_set():
                with self._lock:
                    self._held.append(client)
                    self._connections.add(client)
                continue
            self._connect_upstream(client)

    def _connect_upstream(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _abort(client)
            return
        self.accepted += 1
        for sock in (client, server):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._connections.update((client, server))
        threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        """Forward ``source`` to ``target``: each chunk is due ``latency`` after it came; nothing moves while
        black-holed (what came in is held, and no more is read: the sender's buffers fill as over a dead route)."""
        in_flight: deque[tuple[float, bytes]] = deque()
        ended = False
        try:
            poller = select.poll()
            poller.register(source, select.POLLIN)  # ValueError: closed already (a reset, a cut, stop)
            while not self._stopped.is_set():
                if not self._flowing.is_set() and (in_flight or ended):
                    self._flowing.wait(0.5)
                    continue
                wait_ms: int | None = None
                if in_flight:
                    due, data = in_flight[0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        target.sendall(data)
                        in_flight.popleft()
                        continue
                    wait_ms = max(1, int(wait * 1000))
                if ended:
                    if not in_flight:
                        break
                    time.sleep((wait_ms or 1) / 1000)
                    continue
                if not poller.poll(wait_ms if wait_ms is not None else IDLE_WAIT_MS):
                    continue
                chunk = source.recv(CHUNK)
                if chunk:
                    in_flight.append((time.monotonic() + self.latency, chunk))
                else:
                    ended = True  # deliver what is in flight, then pass the close on
        except (OSError, ValueError):
            pass
        finally:
            self._forget(source)
            self._forget(target)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)
        # Wake a thread blocked in recv() on it; a socket being reset must send no FIN before its RST.
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RD if _aborting(sock) else socket.SHUT_RDWR)
        sock.close()

    def _close_all(self, *, reset: bool) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
            self._held.clear()
        if reset:
            # Linger 0 on both ends of every pair first, so a pump thread closing its other end sends a RST too.
            for sock in connections:
                _set_linger_zero(sock)
        for sock in connections:
            if reset:
                _abort(sock)
            else:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _abort(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a connection reset."""
    _set_linger_zero(sock)
    # A pump thread blocked in recv() keeps the socket alive past close(); SHUT_RD wakes it and sends nothing.
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    sock.close()


def _set_linger_zero(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _aborting(sock: socket.socket) -> bool:
    """True for a socket being reset (linger 0) or already closed: it must not be shut down gracefully."""
    try:
        on, seconds = struct.unpack("ii", sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
    except OSError:
        return True
    return bool(on) and seconds == 0
