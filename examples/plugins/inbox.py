#!/usr/bin/env python3
"""A reference Deepwork plugin (protocol 1) whose "platform" is a directory.

    status.json   the status it shows: {"text": ..., "until": ...}
    inbox.jsonl   messages to you, one JSON object a line: {"sender", "text", "direct"}
    outbox.jsonl  auto-replies Deepwork sent, one a line

Pass the directory as the first argument (or set INBOX_DIR). Any tool that can append a line to a file can reach
you through it, and it shows the whole protocol in a page; see docs/plugins.md.
"""

import json
import os
import sys
import time

DIR = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("INBOX_DIR", ".")
PROTOCOL = int(os.environ.get("INBOX_PROTOCOL", "1"))  # lets tests try a mismatch


def path(name):
    return os.path.join(DIR, name)


def read_status():
    try:
        with open(path("status.json"), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"text": "", "until": None}


def write_status(status):
    tmp = path("status.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(status, f)
    os.replace(tmp, path("status.json"))


def inbox():
    try:
        with open(path("inbox.jsonl"), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def fetch(params):
    cursor = params.get("cursor")
    lines = inbox()
    if cursor is None:
        # A read position for "now": what is already there is not new.
        return {"cursor": str(len(lines)), "messages": []}
    seen = int(cursor)
    deadline = time.monotonic() + min(params.get("wait_ms", 0), 5000) / 1000
    while len(lines) <= seen and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = inbox()
    messages = [
        {
            "id": str(n),
            "sender": m["sender"],
            "direct": bool(m.get("direct", True)),
            "text": m["text"],
            "automated": bool(m.get("automated", False)),
            "conversation": m["sender"],
        }
        for n, m in enumerate(lines[seen:], start=seen)
    ]
    return {"cursor": str(max(len(lines), seen)), "messages": messages}


def handle(method, params):
    if method == "hello":
        return {"protocol": PROTOCOL, "roles": ["status", "messages", "reply"], "status_limit": 100}
    if method == "snapshot":
        return {"snapshot": read_status()}
    if method == "set_focus":
        write_status({"text": params["text"], "until": params["until"]})
        return {}
    if method == "restore":
        write_status(params["snapshot"])
        return {}
    if method == "fetch":
        return fetch(params)
    if method == "reply":
        with open(path("outbox.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps({"to": params["conversation"], "text": params["text"]}) + "\n")
        return {}
    raise ValueError(f"unknown method {method}")


def main():
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"id": request["id"], "result": handle(request["method"], request.get("params") or {})}
        except Exception as error:  # every failure is an answer, never a dead plugin
            answer = {"id": request["id"], "error": {"kind": "malformed", "message": str(error)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
