#!/usr/bin/env python3
"""Job throughput of one `atelier serve` per worker count, with the server's CPU profile.

For each worker count: a fresh embedded server (SQLite + folder) with `--workers N`, ACCOUNTS
accounts each uploading one drawing and one photo, then ANIMATE `animate` jobs and PHOTO3D
`photo3d` jobs submitted at once (spread over the accounts), polled until every one has ended.
While jobs are queued the server's threads are sampled from /proc (every 0.2 s):

- busy %   = CPU time of the server's threads / (wall time x cores): how full the cores were;
- demand % = (CPU time + time its threads waited runnable for a core) / (wall time x cores):
             how much work the server had ready, whatever else runs on the machine (on a shared
             machine other processes take cores, which lowers busy % but not demand %);
- machine % = all processes' CPU time from /proc/stat over the same interval.

Usage: throughput.py BIN "1 2 4" [ROUNDS] [ANIMATE] [PHOTO3D] [ACCOUNTS]
Prints one line per worker count and round, then the median per worker count.
"""

import io, json, os, random, socket, statistics, subprocess, sys, tempfile, time, urllib.request
import uuid

import numpy as np
from PIL import Image, ImageDraw
from skimage import data as skdata

BIN = sys.argv[1]
WORKER_COUNTS = [int(w) for w in sys.argv[2].split()]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
ANIMATE = int(sys.argv[4]) if len(sys.argv) > 4 else 32
PHOTO3D = int(sys.argv[5]) if len(sys.argv) > 5 else 16
ACCOUNTS = int(sys.argv[6]) if len(sys.argv) > 6 else 8
CORES = os.cpu_count()
TICK = os.sysconf("SC_CLK_TCK")


def drawing_png():
    """A filled oval body, a round head, stick arms held out and stick legs, on white paper."""
    img = Image.new("RGB", (400, 400), "white")
    d = ImageDraw.Draw(img)
    d.ellipse((160, 120, 240, 250), fill=(70, 120, 200), outline=(20, 20, 20), width=5)
    d.ellipse((170, 50, 230, 110), fill=(250, 220, 180), outline=(20, 20, 20), width=5)
    d.line((200, 110, 200, 120), fill=(20, 20, 20), width=6)
    for a, b in [((165, 150), (90, 170)), ((235, 150), (310, 170)),
                 ((180, 245), (165, 360)), ((220, 245), (235, 360))]:
        d.line(a + b, fill=(20, 20, 20), width=8)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def photo_jpeg():
    """scikit-image's `coffee` (600x400), the 3D-photo issue's sample photo."""
    out = io.BytesIO()
    Image.fromarray(skdata.coffee()).save(out, "JPEG", quality=92)
    return out.getvalue()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, token=None, body=None, content_type=None):
        headers = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if body is not None and content_type is None:
            body = json.dumps(body).encode()
            content_type = "application/json"
        if content_type:
            headers["content-type"] = content_type
        req = urllib.request.Request(self.base + path, data=body, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def multipart(self, path, token, fields, files=()):
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, filename, blob in files:
            parts.append(f'--{boundary}\r\ncontent-disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f'content-type: application/octet-stream\r\n\r\n'.encode() + blob + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.call("POST", path, token, b"".join(parts), f"multipart/form-data; boundary={boundary}")


def threads_sched(pid):
    """{tid: (ns on a CPU, ns waiting runnable)} of the process's threads now."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run, wait, _ = f.read().split()
            out[tid] = (int(run), int(wait))
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
    return out


def process_counters(pid):
    """(minor page faults, user seconds, system seconds) of the whole process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[7]), int(fields[11]) / TICK, int(fields[12]) / TICK


def machine_ticks():
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    idle = cpu[3] + cpu[4]
    return sum(cpu) - idle, sum(cpu)


def one_round(workers, drawing, photo):
    data = tempfile.mkdtemp(prefix="atelier-jobs-bench-")
    port = free_port()
    server = subprocess.Popen(
        [BIN, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data, "--workers", str(workers),
         "--max-active-jobs", "1000", "--max-active-photo3d", "1000", "--log", "warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "server.log"), "w"))
    try:
        api = Api(f"http://127.0.0.1:{port}")
        for _ in range(200):
            try:
                api.call("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.05)
        accounts = []
        for n in range(ACCOUNTS):
            token = api.call("POST", "/api/v1/auth/register", None, {
                "username": f"bench{n}", "password": "benchmark password",
                "gender": "Other", "type": "Parent"})["token"]
            figure = api.multipart("/api/v1/uploads", token, {}, [("file", "figure.png", drawing)])["id"]
            picture = api.multipart("/api/v1/uploads", token, {}, [("file", "coffee.jpg", photo)])["id"]
            accounts.append((token, figure, picture))
        kinds = ["animate"] * ANIMATE + ["photo3d"] * PHOTO3D
        random.Random(7).shuffle(kinds)
        sched0, mach0 = threads_sched(server.pid), machine_ticks()
        proc0 = process_counters(server.pid)
        started = time.monotonic()
        jobs = []
        for n, kind in enumerate(kinds):
            token, figure, picture = accounts[n % ACCOUNTS]
            if kind == "animate":
                body = api.multipart("/api/v1/animations", token, {"upload_id": figure})
            else:
                body = api.call("POST", "/api/v1/photo3d", token, {"upload_id": picture, "max_side": 512})
            job = body.get("job", body)
            jobs.append((token, job["id"]))
        # Sample the threads until every job has ended.
        last = dict(sched0)
        run_ns = wait_ns = 0
        pending = set(range(len(jobs)))
        failed = 0
        next_poll = time.monotonic()
        while pending:
            time.sleep(0.2)
            now = threads_sched(server.pid)
            for tid, (run, wait) in now.items():
                r0, w0 = last.get(tid, (0, 0))
                run_ns += run - r0
                wait_ns += wait - w0
            last.update(now)
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + 0.5
                for i in list(pending):
                    token, job_id = jobs[i]
                    status = api.call("GET", f"/api/v1/jobs/{job_id}", token)["status"]
                    if status in ("succeeded", "failed", "canceled"):
                        pending.discard(i)
                        failed += status != "succeeded"
        wall = time.monotonic() - started
        faults, user_s, sys_s = (a - b for a, b in zip(process_counters(server.pid), proc0))
        busy_m, total_m = (a - b for a, b in zip(machine_ticks(), mach0))
        capacity = wall * CORES * 1e9
        return {
            "workers": workers, "jobs": len(jobs), "failed": failed, "wall_s": wall,
            "jobs_per_min": len(jobs) / wall * 60,
            "busy_pct": 100 * run_ns / capacity,
            "demand_pct": 100 * (run_ns + wait_ns) / capacity,
            "machine_pct": 100 * busy_m / max(total_m, 1),
            "sys_pct": 100 * sys_s / max(user_s + sys_s, 1e-9),
            "faults_per_job": faults / len(jobs),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        subprocess.run(["rm", "-rf", data])


def main():
    drawing, photo = drawing_png(), photo_jpeg()
    print(f"{ANIMATE} animate (3 s dance GIF, 400x400 drawing) + {PHOTO3D} photo3d (coffee, 512 px, "
          f"4 s circle MP4) over {ACCOUNTS} accounts, submitted at once; {CORES} cores; "
          f"load {os.getloadavg()[0]:.1f}")
    results = {}
    for round_ in range(ROUNDS):
        for workers in WORKER_COUNTS:
            r = one_round(workers, drawing, photo)
            results.setdefault(workers, []).append(r)
            print(f"round {round_ + 1} workers {workers:2}: {r['jobs']} jobs ({r['failed']} failed) in "
                  f"{r['wall_s']:.1f} s = {r['jobs_per_min']:.1f} jobs/min; busy {r['busy_pct']:.0f} %, "
                  f"demand {r['demand_pct']:.0f} %, machine {r['machine_pct']:.0f} %, kernel {r['sys_pct']:.0f} % "
                  f"of its CPU, {r['faults_per_job']:.0f} page faults/job "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    print("median per worker count:")
    for workers, rs in results.items():
        med = lambda key: statistics.median(r[key] for r in rs)
        print(f"  workers {workers:2}: {med('jobs_per_min'):.1f} jobs/min, busy {med('busy_pct'):.0f} %, "
              f"demand {med('demand_pct'):.0f} %, machine {med('machine_pct'):.0f} %, kernel {med('sys_pct'):.0f} %, "
              f"{med('faults_per_job'):.0f} page faults/job")


if __name__ == "__main__":
    main()
