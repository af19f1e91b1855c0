#!/usr/bin/env python3
"""Deepwork plugin (protocol 1) for Pumble, through Pumble's API addon.

Install the "API" app in Pumble, generate a key there (/api-keys generate), and store it
with `deepwork adapters token pumble`; Deepwork hands it over in DEEPWORK_PLUGIN_TOKEN.

    [[adapters.plugins]]
    name = "pumble"
    command = ["python3", "/path/to/examples/plugins/pumble.py"]
    auto_reply = true

What it does, with the addon's documented endpoints (header `ApiKey`):
  status    GET /myInfo (customStatus) to snapshot; POST /customStatus to set the focus
            status until the session's end and to put the earlier one back.
  messages  GET /listChannels, then GET /listMessages for each channel with something
            newer than the cursor (a time in milliseconds): every message in a direct
            conversation, and in channels the ones that mention you (`<<@your-id>>`).
  reply     POST /sendMessage to the direct conversation.

Only the Python standard library is used. PUMBLE_API overrides the API address (tests).
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

API = os.environ.get("PUMBLE_API", "https://pumble-api-keys.addons.marketplace.cake.com").rstrip("/")
KEY = os.environ.get("DEEPWORK_PLUGIN_TOKEN", "")
FOCUS_EMOJI = ":headphones:"
# Pumble's limit for a custom status text.
STATUS_LIMIT = 128
# A fetch answers within this long even when Deepwork would wait longer (docs/plugins.md).
LONGEST_FETCH_S = 5.0
# Between polls of a quiet workspace; the addon allows about 1000 requests a minute.
POLL_S = 2.0


class PluginError(Exception):
    def __init__(self, kind, message, retry_after_ms=None):
        super().__init__(message)
        self.kind = kind
        self.retry_after_ms = retry_after_ms


def call(method, path, query=None, body=None):
    if not KEY:
        raise PluginError("unauthorized", "no Pumble API key; store one with `deepwork adapters token pumble`")
    url = API + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("ApiKey", KEY)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            text = response.read().decode("utf-8", "replace")
            return json.loads(text) if text.strip() else {}
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:200]
        if error.code in (401, 403):
            raise PluginError(
                "unauthorized",
                f"Pumble refused the API key (HTTP {error.code}); generate a new one with "
                "/api-keys generate and store it with `deepwork adapters token pumble`",
            )
        if error.code == 429:
            seconds = error.headers.get("Retry-After", "30")
            retry = int(seconds) * 1000 if seconds.strip().isdigit() else 30000
            raise PluginError("rate_limited", "Pumble asks to slow down", retry)
        if error.code >= 500:
            raise PluginError("unavailable", f"{path}: HTTP {error.code}")
        raise PluginError("malformed", f"{path}: HTTP {error.code} {detail}")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise PluginError("unavailable", f"{path}: {error}")
    except json.JSONDecodeError as error:
        raise PluginError("malformed", f"{path}: not JSON ({error})")


_me = None


def me():
    global _me
    if _me is None:
        info = call("GET", "/myInfo")
        if not isinstance(info, dict) or not info.get("id"):
            raise PluginError("malformed", "/myInfo has no id")
        _me = info
    return _me


def snapshot():
    status = call("GET", "/myInfo").get("customStatus") or {}
    return {
        "code": status.get("code") or "",
        "status": status.get("status") or "",
        "expiresAt": int(status.get("expiresAt") or 0),
    }


def set_status(code, text, expires_at_ms):
    call("POST", "/customStatus", body={"code": code, "status": text, "expiresAt": expires_at_ms})


def set_focus(params):
    until = datetime.fromisoformat(params["until"].replace("Z", "+00:00"))
    set_status(FOCUS_EMOJI, params["text"][:STATUS_LIMIT], int(until.timestamp() * 1000))


def restore(params):
    before = params["snapshot"] or {}
    expires = int(before.get("expiresAt") or 0)
    now_ms = int(time.time() * 1000)
    if expires and expires <= now_ms:
        # It would have lapsed during the session: none, as Pumble would show now.
        set_status("", "", 0)
    else:
        set_status(before.get("code", ""), before.get("status", ""), expires)


def is_direct(channel):
    return channel.get("channelType") not in ("PUBLIC", "PRIVATE")


def read_new(since_ms):
    my_id = me()["id"]
    mention = f"<<@{my_id}>>"
    found = []
    for entry in call("GET", "/listChannels") or []:
        channel = entry.get("channel") or {}
        last = channel.get("lastMessageTimestampMilli")
        if not channel.get("id") or (last is not None and last <= since_ms):
            continue
        page = call("GET", "/listMessages", query={"channelId": channel["id"], "limit": 100})
        direct = is_direct(channel)
        for message in page.get("messages") or []:
            at = int(message.get("timestampMilli") or 0)
            text = message.get("text") or ""
            if at <= since_ms or message.get("author") == my_id or message.get("deleted"):
                continue
            if message.get("subtype"):
                continue  # joins, renames and other housekeeping
            if not direct and mention not in text:
                continue
            found.append(
                (
                    at,
                    {
                        "id": message.get("id", ""),
                        "sender": message.get("author", ""),
                        "channel": None if direct else channel.get("name"),
                        "direct": direct,
                        "text": text.replace(mention, "@" + me().get("name", "you")),
                        "automated": bool(message.get("authorAppId")),
                        "conversation": channel["id"],
                    },
                )
            )
    found.sort(key=lambda pair: pair[0])
    return found


def fetch(params):
    cursor = params.get("cursor")
    if cursor is None:
        return {"cursor": str(int(time.time() * 1000)), "messages": []}
    since = int(cursor)
    deadline = time.monotonic() + min(params.get("wait_ms", 0) / 1000, LONGEST_FETCH_S)
    while True:
        found = read_new(since)
        if found or time.monotonic() + POLL_S > deadline:
            break
        time.sleep(POLL_S)
    newest = max([since] + [at for at, _ in found])
    return {"cursor": str(newest), "messages": [m for _, m in found]}


def reply(params):
    call("POST", "/sendMessage", body={"channelId": params["conversation"], "text": params["text"]})
    return {}


def handle(method, params):
    if method == "hello":
        return {"protocol": 1, "roles": ["status", "messages", "reply"], "status_limit": STATUS_LIMIT}
    if method == "snapshot":
        return {"snapshot": snapshot()}
    if method == "set_focus":
        set_focus(params)
        return {}
    if method == "restore":
        restore(params)
        return {}
    if method == "fetch":
        return fetch(params)
    if method == "reply":
        return reply(params)
    raise PluginError("malformed", f"unknown method {method}")


def main():
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"id": request["id"], "result": handle(request["method"], request.get("params") or {})}
        except PluginError as error:
            failure = {"kind": error.kind, "message": str(error)}
            if error.retry_after_ms is not None:
                failure["retry_after_ms"] = error.retry_after_ms
            answer = {"id": request["id"], "error": failure}
        except Exception as error:  # every failure is an answer, never a dead plugin
            answer = {"id": request["id"], "error": {"kind": "malformed", "message": str(error)}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
