#!/usr/bin/env python3
"""Control the fake server (tests/fake/server.py) from shell tests.

usage: ctl.py PORT|PORTFILE COMMAND [ARG]

PORT is the server's port number, or the --port-file the server writes
(waited for up to 10 seconds).  Commands:

  wait            wait until the server answers, then print its port
  stats [KEY]     print the /_stats JSON, or one value; KEY may name a
                  path count as by_path./v1/embeddings
  reset           zero the counters and clear the fault queue
  push JSON       queue fault steps: a JSON array (or one object)
  requests        print the recorded API requests, one JSON object a line

Exit status: 0 ok, 1 server error or unreachable or no such KEY, 2 usage.
"""

import http.client
import json
import sys
import time

TIMEOUT = 10.0


def die(message, status=1):
    print(f"ctl.py: {message}", file=sys.stderr)
    sys.exit(status)


def resolve_port(where, deadline):
    """The port named by a number or by a port file."""
    if where.isdigit():
        return int(where)
    while True:
        try:
            with open(where, encoding="ascii") as f:
                text = f.read().strip()
            if text.isdigit():
                return int(text)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            die(f"{where}: no port file after {TIMEOUT:g} s")
        time.sleep(0.05)


def call(port, method, path, body=None):
    """(status, decoded JSON) of one control request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def show(value):
    if isinstance(value, str):
        print(value)
    else:
        print(json.dumps(value))


def lookup(stats, key):
    head, _, rest = key.partition(".")
    if head not in stats:
        die(f"no stats key {key!r}")
    value = stats[head]
    if rest:
        if not isinstance(value, dict):
            die(f"no stats key {key!r}")
        value = value.get(rest, 0)  # a path never requested counts 0
    return value


def main(argv):
    if len(argv) < 2 or argv[1] not in ("wait", "stats", "reset", "push", "requests"):
        die(__doc__.split("\n\n")[1], 2)
    where, command, args = argv[0], argv[1], argv[2:]
    if len(args) > (1 if command in ("stats", "push") else 0) or (command == "push" and not args):
        die(f"{command}: wrong number of arguments", 2)
    deadline = time.monotonic() + TIMEOUT
    port = resolve_port(where, deadline)

    if command == "wait":
        while True:
            try:
                call(port, "GET", "/_stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    die(f"port {port}: no answer after {TIMEOUT:g} s")
                time.sleep(0.05)
        print(port)
        return 0

    try:
        if command == "stats":
            status, stats = call(port, "GET", "/_stats")
            show(lookup(stats, args[0]) if args else stats)
        elif command == "reset":
            status, _ = call(port, "POST", "/_reset", b"")
        elif command == "push":
            status, reply = call(port, "POST", "/_control", args[0].encode())
            if status != 200:
                die(f"push: {reply.get('error')}")
        else:
            status, records = call(port, "GET", "/_requests")
            for record in records:
                print(json.dumps(record))
    except (OSError, ValueError) as e:
        die(f"port {port}: {e}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
