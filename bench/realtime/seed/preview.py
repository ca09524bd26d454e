"""A small-scale preview of the benchmark's seed mode, in Python: every artist subscribes to its
drawing's presence channel on atelier and POSTs strokes to the seed server; latency = receive
time - send time (carried in client_id). The real benchmark is the Rust load generator
(crates/atelier/examples/realtime_load.rs); this one is for checking the path at a load the
Python client itself can drive (a few hundred clients, tens of strokes/s).

Usage: python preview.py --seed-base URL --atelier-base URL --secret S [--rooms 25] [--artists 4]
       [--rate 0.25] [--seconds 15]
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import random
import time
import urllib.error
import urllib.request

import websockets


def now_us():
    return time.time_ns() // 1000


def post(base, drawing, token, body):
    request = urllib.request.Request(
        f"{base}/drawing/{drawing}/canvas",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-base", required=True)
    parser.add_argument("--atelier-base", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--key", default="atelier-key")
    parser.add_argument("--rooms", type=int, default=25)
    parser.add_argument("--artists", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    ws_base = args.atelier_base.replace("http://", "ws://", 1)
    latencies, counts = [], {"sent": 0, "errors": 0}
    measuring = True

    async def connect(r, a):
        ws = await websockets.connect(f"{ws_base}/app/{args.key}?protocol=7", max_queue=None)
        hello = json.loads(await ws.recv())
        socket_id = json.loads(hello["data"])["socket_id"]
        channel = f"presence-drawing-{r + 1}"
        channel_data = json.dumps({"user_id": f"r{r}a{a}"})
        signature = hmac.new(
            args.secret.encode(), f"{socket_id}:{channel}:{channel_data}".encode(), hashlib.sha256
        ).hexdigest()
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {
            "channel": channel, "auth": f"{args.key}:{signature}", "channel_data": channel_data}}))
        while json.loads(await ws.recv())["event"] != "pusher_internal:subscription_succeeded":
            pass
        return ws

    async def read(ws):
        async for frame in ws:
            received = now_us()
            message = json.loads(frame)
            if message.get("event") != "stroke" or not measuring:
                continue
            client_id = json.loads(message["data"])["client_id"]
            latencies.append(received - int(client_id[1:].split("x")[0]))

    async def draw(r, a, deadline):
        period = 1 / args.rate
        await asyncio.sleep(random.random() * period)
        n = 0
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            n += 1
            body = {"client_id": f"t{now_us()}x{r}-{a}-{n}", "points": [[n, 10], [n + 20, 40]],
                    "color": "#336699", "width": 6.0}
            ok = await asyncio.to_thread(post, args.seed_base, r + 1, f"bench-r{r}-a{a}", body)
            counts["sent" if ok else "errors"] += 1
            next_at += period
            await asyncio.sleep(max(0, next_at - time.monotonic()))

    sockets = {}
    for r in range(args.rooms):
        for a in range(args.artists):
            sockets[(r, a)] = await connect(r, a)
    readers = [asyncio.create_task(read(ws)) for ws in sockets.values()]
    deadline = time.monotonic() + args.seconds
    await asyncio.gather(*(draw(r, a, deadline) for (r, a) in sockets))
    await asyncio.sleep(1.5)
    measuring = False
    for ws in sockets.values():
        await ws.close()
    for task in readers:
        task.cancel()
    latencies.sort()

    def pct(p):
        return latencies[round((len(latencies) - 1) * p)] / 1000 if latencies else float("nan")

    print(json.dumps({
        "clients": len(sockets), "rooms": args.rooms, "rate_per_artist": args.rate,
        "sent": counts["sent"], "errors": counts["errors"], "delivered": len(latencies),
        "expected": counts["sent"] * args.artists, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }))


if __name__ == "__main__":
    asyncio.run(main())
