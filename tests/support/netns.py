"""Stand-in boards with a network of their own: a Linux network namespace joined to this host by a veth pair,
and a relay on the host's end of the pair that forwards a port to a service listening on loopback (the
broker, the lab's service), so that an agent in the namespace reaches them at the lab server's address, as a
board in a rack would. Needs root and iproute2 (`ip`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass


def namespaces_available() -> bool:
    """Whether this process may make network namespaces (root, with `ip` installed, and the kernel lets it)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"dbprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return made


@dataclass(frozen=True)
class BoardNetwork:
    """A namespace and the host's address as seen from inside it."""

    namespace: str
    host: str

    def command(self, *argv: str) -> list[str]:
        """argv run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def board_network(index: int) -> Iterator[BoardNetwork]:
    """Namespace number `index` (1..250) with the veth pair 10.231.INDEX.1 (host) / .2 (board); removed after."""
    tag = f"{os.getpid() % 100000}x{index}"
    namespace, host_side, board_side = f"dbboard{tag}", f"dbh{tag}", f"dbb{tag}"
    host, board = f"10.231.{index}.1", f"10.231.{index}.2"
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", host_side, "type", "veth", "peer", "name", board_side)
        _ip("link", "set", board_side, "netns", namespace)
        _ip("addr", "add", f"{host}/30", "dev", host_side)
        _ip("link", "set", host_side, "up")
        _ip("netns", "exec", namespace, "ip", "addr", "add", f"{board}/30", "dev", board_side)
        _ip("netns", "exec", namespace, "ip", "link", "set", board_side, "up")
        _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        yield BoardNetwork(namespace, host)
    finally:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", host_side], capture_output=True)


class Relay:
    """Forwards every TCP connection made to (address, port) to 127.0.0.1:port, on a thread of its own."""

    def __init__(self, address: str, ports: list[int]) -> None:
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(address, ports, ready), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the relay on {address} did not start")

    def _run(self, address: str, ports: list[int], ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        for port in ports:
            handler = self._handler(port)
            self._servers.append(self._loop.run_until_complete(asyncio.start_server(handler, address, port)))
        ready.set()
        self._loop.run_forever()

    @staticmethod
    def _handler(port: int):  # type: ignore[no-untyped-def]
        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        return handle

    def close(self) -> None:
        """Stop listening and end the thread."""

        def shut() -> None:
            for server in self._servers:
                server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(shut)
        self._thread.join(timeout=10)
