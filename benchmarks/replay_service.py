"""The small service the replay benchmark loads: aiohttp, one process.

    python benchmarks/replay_service.py PORT

``GET /items/{id}`` answers a small JSON document (about 150 bytes);
``GET /health`` answers ``ok``. Prints ``listening on PORT`` when ready.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


async def item(request: web.Request) -> web.Response:
    i = int(request.match_info["id"])
    return web.json_response(
        {"id": i, "name": f"item {i}", "price": i % 97 * 10, "stock": i % 13, "tags": ["a", "b"]}
    )


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_get("/items/{id}", item)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    print(f"listening on {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
