"""The server's ceiling for bench/http.py: a bare ASGI callable that reads the body and answers a constant.

BENCH_BARE_BYTES=510 uvicorn bench.http_bare:app --http httptools --loop uvloop --no-access-log
"""

from __future__ import annotations

import os

# BENCH_BARE_BYTES: the answer's size (bench/http.py sends the size of a real answer)
BODY = b'"' + b"x" * max(int(os.environ.get("BENCH_BARE_BYTES", "40")) - 2, 0) + b'"'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
