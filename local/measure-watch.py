#!/usr/bin/env python3
"""How `make dev WATCH=1` behaves, measured against a running gateway.

    local/measure-watch.py latency [N] [PORT]
        median (and p90) latency of N sequential GET /health through the gateway, after a
        warm-up: run it once against each mode to compare their cost per request.

    local/measure-watch.py save-to-live WORKSPACE [ROUNDS] [PORT]
        ROUNDS times: a one-line change to inventory's 404 text in WORKSPACE (a scratch copy of
        the repository that the running watch-mode gateway builds, never the real sources), then
        GET /api/movies/987654321 with a token every 100 ms until the new text is served; prints
        each time and the median. The token comes from `make -s token`.
"""
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MISSING = "/api/movies/987654321"


def get(port, path, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def latency(n, port):
    for _ in range(20):
        get(port, "/health")
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, body = get(port, "/health")
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            sys.exit(f"GET /health answered {status}: {body[:200]!r}")
    times.sort()
    print(f"GET /health x{n}: median {statistics.median(times):.2f} ms, "
          f"p90 {times[int(0.9 * n) - 1]:.2f} ms")


def save_to_live(workspace, rounds, port):
    token = subprocess.run(["make", "-s", "token"], capture_output=True, text=True,
                           check=True).stdout.strip()
    routes = Path(workspace) / "functions/inventory/src/routes.rs"
    original = routes.read_text()
    marker = '"movie {} does not exist"'
    if marker not in original:
        sys.exit(f"{routes} does not hold {marker}")
    took = []
    try:
        for i in range(rounds):
            text = f"movie {{}} is missing (round {i})"
            routes.write_text(original.replace(marker, json.dumps(text)))
            saved = time.perf_counter()
            want = text.replace("{}", "987654321")
            while True:
                status, body = get(port, MISSING, token)
                if status != 404:
                    sys.exit(f"during the rebuild: {status} {body[:200]!r}")
                if json.loads(body).get("detail") == want:
                    break
                if time.perf_counter() - saved > 300:
                    sys.exit("the change was not live within 300 s")
                time.sleep(0.1)
            took.append(time.perf_counter() - saved)
            print(f"round {i + 1}: live {took[-1]:.1f} s after the save", flush=True)
            time.sleep(2)
    finally:
        routes.write_text(original)
    print(f"save to live: median {statistics.median(took):.1f} s over {rounds} rounds "
          f"(min {min(took):.1f}, max {max(took):.1f})")


def main():
    args = sys.argv[1:]
    if not args or args[0] not in ("latency", "save-to-live"):
        sys.exit(__doc__)
    if args[0] == "latency":
        latency(int(args[1]) if len(args) > 1 else 200, int(args[2]) if len(args) > 2 else 3000)
    else:
        if len(args) < 2:
            sys.exit(__doc__)
        save_to_live(args[1], int(args[2]) if len(args) > 2 else 5,
                     int(args[3]) if len(args) > 3 else 3000)


if __name__ == "__main__":
    main()
