"""End-to-end check of the seed baseline: a Pusher-protocol subscriber on atelier receives the
stroke POSTed to the Django server, and the refusals have the right status codes.

Usage: python check.py --seed-base URL --atelier-base URL --secret SECRET [--key atelier-key]
Needs the `websockets` package (in the benchmark venv). Exits non-zero on any failure.
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request

import websockets


def post_stroke(base, drawing, token, body):
    """POSTs a stroke; returns (status, parsed JSON body or text)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(
        f"{base}/drawing/{drawing}/canvas", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, text


async def subscribe(ws_url, key, secret, channel, user_id):
    """Connects, subscribes to a presence channel; returns the socket."""
    ws = await websockets.connect(f"{ws_url}/app/{key}?protocol=7&client=check&version=1")
    hello = json.loads(await ws.recv())
    assert hello["event"] == "pusher:connection_established", hello
    socket_id = json.loads(hello["data"])["socket_id"]
    channel_data = json.dumps({"user_id": user_id, "user_info": {"name": user_id}})
    signature = hmac.new(
        secret.encode(), f"{socket_id}:{channel}:{channel_data}".encode(), hashlib.sha256
    ).hexdigest()
    await ws.send(
        json.dumps(
            {
                "event": "pusher:subscribe",
                "data": {
                    "channel": channel,
                    "auth": f"{key}:{signature}",
                    "channel_data": channel_data,
                },
            }
        )
    )
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["event"] == "pusher_internal:subscription_succeeded":
            return ws
        if message["event"] == "pusher:error":
            raise RuntimeError(f"subscription refused: {message}")


async def next_event(ws, name, timeout):
    """The next event called `name` on the socket (or None after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            return None
        if message.get("event") == name:
            return message


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-base", required=True)
    parser.add_argument("--atelier-base", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--key", default="atelier-key")
    args = parser.parse_args()
    ws_url = args.atelier_base.replace("http://", "ws://", 1)
    results = []

    def expect(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}")

    ws = await subscribe(ws_url, args.key, args.secret, "presence-drawing-1", "watcher")
    other = await subscribe(ws_url, args.key, args.secret, "presence-drawing-2", "other")

    client_id = f"t{time.time_ns() // 1000}x0"
    stroke = {
        "client_id": client_id,
        "points": [[10, 10], [30, 40], [50, 90]],
        "color": "#336699",
        "width": 6.0,
    }
    sent = time.perf_counter()
    status, body = post_stroke(args.seed_base, 1, "bench-r0-a0", stroke)
    expect("POST by a participant answers 200", status == 200, (status, body))
    expect("the answer carries client_id", isinstance(body, dict) and body.get("client_id") == client_id, body)
    event = await next_event(ws, "stroke", 5)
    latency_ms = (time.perf_counter() - sent) * 1000
    expect("the subscriber receives the stroke", event is not None, "nothing within 5 s")
    if event is not None:
        expect("on the drawing's channel", event.get("channel") == "presence-drawing-1", event)
        data = json.loads(event["data"])
        expect("client_id unchanged", data.get("client_id") == client_id, data)
        expect(
            "points, color, width as sent",
            data.get("points") == [[10.0, 10.0], [30.0, 40.0], [50.0, 90.0]]
            and data.get("color") == "#336699"
            and data.get("width") == 6.0,
            data,
        )
        print(f"     POST -> event: {latency_ms:.1f} ms")
    expect("another room hears nothing", await next_event(other, "stroke", 0.5) is None)

    status, _ = post_stroke(args.seed_base, 1, None, stroke)
    expect("no token: 401", status == 401, status)
    status, _ = post_stroke(args.seed_base, 1, "bench-nobody", stroke)
    expect("unknown token: 401", status == 401, status)
    status, _ = post_stroke(args.seed_base, 1, "bench-r1-a0", stroke)
    expect("not a participant: 403", status == 403, status)
    status, _ = post_stroke(args.seed_base, 999999, "bench-r0-a0", stroke)
    expect("no such drawing: 404", status == 404, status)
    for name, bad in [
        ("bad color", {**stroke, "color": "blue"}),
        ("width out of range", {**stroke, "width": 500}),
        ("no points", {**stroke, "points": []}),
        ("a point with 3 coordinates", {**stroke, "points": [[1, 2, 3]]}),
        ("2,001 points", {**stroke, "points": [[1, 2]] * 2001}),
        ("no client_id", {k: v for k, v in stroke.items() if k != "client_id"}),
    ]:
        status, body = post_stroke(args.seed_base, 1, "bench-r0-a0", bad)
        expect(f"{name}: 400", status == 400, (status, body))
    status, body = post_stroke(
        args.seed_base, 1, "bench-r0-a0", {**stroke, "points": [[1234.5, 2345.5]] * 2000}
    )
    expect("a stroke over the Pusher event limit: 413", status == 413, (status, body))
    expect("refused strokes were not triggered", await next_event(ws, "stroke", 0.5) is None)

    await ws.close()
    await other.close()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
