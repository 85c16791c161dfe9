"""A trivial HTTP endpoint for the generator bench: answers every request with a tiny JSON 200.

Raw asyncio (uvloop when installed), no framework and no parsing beyond finding the end of each
request head, so one core of it serves several times what one Locust worker can send: the bench
then measures the load generator, never the server.

    .venv/bin/python bench/responder.py [--port 0]     # prints "listening on PORT" once ready
"""

from __future__ import annotations

import argparse
import asyncio
import sys

BODY = b'{"status":"ok"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)

__all__ = ["BODY", "RESPONSE", "serve"]


class _Responder(asyncio.Protocol):
    """One connection: each complete request head (bodiless GETs) gets one canned response, keep-alive."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        data = self.pending + data
        heads = data.count(b"\r\n\r\n")
        if heads:
            self.transport.write(RESPONSE * heads)  # type: ignore[attr-defined]
            data = data[data.rindex(b"\r\n\r\n") + 4 :]
        self.pending = data[-65536:]


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Responder, "127.0.0.1", port, backlog=1024, reuse_address=True)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed once listening")
    args = parser.parse_args()
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
