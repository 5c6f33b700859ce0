#!/usr/bin/env python3
"""What the local gateway adds to a request, measured against a running `make dev`.

For GET /health (no authorizer) and GET /api/movies (JWT authorizer), compares the round trip
through the HTTP API with a direct Lambda Invoke API call carrying an equivalent payload 2.0
event: the difference is routing, authorization, event building and response mapping.

    local/measure-latency.py [N] [PORT]     (default 500 requests, port 3000)
"""
import http.client
import json
import statistics
import subprocess
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
WARMUP = 50


def event(path, route, claims):
    context = {
        "accountId": "123456789012", "apiId": "crudlocal", "domainName": "127.0.0.1",
        "domainPrefix": "127", "requestId": "r", "routeKey": route, "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
        "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "m"},
    }
    if claims:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return json.dumps({"version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
                       "headers": {"host": f"127.0.0.1:{PORT}"}, "requestContext": context,
                       "isBase64Encoded": False})


def timed(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT)
    samples = []
    for i in range(N + WARMUP):
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status != 200:
            sys.exit(f"{method} {path}: {resp.status}")
        if i >= WARMUP:
            samples.append(elapsed)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def main():
    token = subprocess.check_output(["make", "-s", "token"]).decode().strip()
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    flat = {k: ("[" + " ".join(v) + "]" if isinstance(v, list) else str(v)) for k, v in claims.items()}
    invoke = "/2015-03-31/functions/inventory/invocations"
    rows = [
        ("GET /health through the gateway", timed("GET", "/health")),
        ("  same event, direct invoke", timed("POST", invoke, event("/health", "GET /health", None))),
        ("GET /api/movies?limit=1 + JWT", timed("GET", "/api/movies?limit=1", headers={"authorization": f"Bearer {token}"})),
        ("  same event, direct invoke", timed("POST", invoke, event("/api/movies", "GET /api/movies", flat))),
    ]
    for name, (p50, p95) in rows:
        print(f"{name:34} p50 {p50:6.3f} ms   p95 {p95:6.3f} ms")
    print(f"gateway adds (p50): {rows[0][1][0] - rows[1][1][0]:.3f} ms without auth, "
          f"{rows[2][1][0] - rows[3][1][0]:.3f} ms with the JWT authorizer")


if __name__ == "__main__":
    main()
