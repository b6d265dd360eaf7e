#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
#
# A webhook receiver for the sensor's HTTP export, on Python's http.server. Accepts POST /ingest
# with a JSON array of event objects and appends one JSON line per request to --log:
#   {"t": <unix time of the answer>, "status": N, "auth": "<Authorization>", "events": [...]}
# --script lists the answers to the first requests ("503,503,429:2": two 503s, then a 429 with
# Retry-After: 2; "drop": keep the events, logged with status "drop", and close the connection
# without an answer, as if the answer were lost); after them every well-formed request gets 200.
# Prints {"event":"listening"}.
#
#   webhook_receiver.py --port P --log FILE [--script LIST]
import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--script", default="")
args = ap.parse_args()
script = [s for s in args.script.split(",") if s]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def record(self, status, events):
        with open(args.log, "a") as f:
            f.write(json.dumps({"t": time.time(), "status": status,
                                "auth": self.headers.get("Authorization", ""),
                                "content_type": self.headers.get("Content-Type", ""),
                                "events": events}) + "\n")

    def answer(self, status, events, retry_after=None):
        body = json.dumps({"status": status}).encode()
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.record(status, events)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path != "/ingest":
            return self.answer(404, None)
        try:
            events = json.loads(raw)
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise ValueError("not an array of objects")
        except ValueError:
            return self.answer(400, None)
        if script:
            step = script.pop(0).split(":")
            if step[0] == "drop":
                self.record("drop", events)
                self.close_connection = True
                return
            return self.answer(int(step[0]), events, step[1] if len(step) > 1 else None)
        self.answer(200, events)


srv = HTTPServer(("127.0.0.1", args.port), Handler)
print(json.dumps({"event": "listening", "port": srv.server_address[1]}), flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
