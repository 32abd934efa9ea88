"""A small HTTP service in two versions, for the replay tests (run as a program).

    python _app.py v1|v2 [--port N]

Prints ``listening on PORT`` once it accepts connections. Every JSON answer
carries two noisy fields (``ts``, ``request_id``) that differ on each call;
v2 has one planted difference: the price of item 3."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiohttp import web


def make_app(version: str) -> web.Application:
    async def item(request: web.Request) -> web.Response:
        i = int(request.match_info["id"])
        price = i * 10
        if version == "v2" and i == 3:
            price = 31  # the planted difference
        return web.json_response(
            {
                "id": i,
                "name": f"item {i}",
                "price": price,
                "tags": ["a", "b"],
                "ts": time.time(),
                "request_id": str(uuid.uuid4()),
            }
        )

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "0.3")))
        return web.json_response({"slow": True})

    async def boom(request: web.Request) -> web.Response:
        return web.json_response({"error": "boom"}, status=503)

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"created": body.get("name")}, status=201)

    app = web.Application()
    app.router.add_get("/items/{id}", item)
    app.router.add_get("/health", health)
    app.router.add_get("/slow", slow)
    app.router.add_get("/boom", boom)
    app.router.add_post("/items", create)
    return app


async def serve(version: str, port: int) -> None:
    runner = web.AppRunner(make_app(version), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"listening on {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("version", choices=["v1", "v2"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.version, args.port))
