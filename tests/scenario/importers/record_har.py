"""A browser session against the demo API, recorded as HAR 1.2 from the real requests and answers.

What a person does in the demo web app: the page and its script load, they sign in, see their profile
and conversations, open one, ask the assistant a question (a streamed answer), and sign out, with
pauses between. Each request is sent with httpx and written down as a browser's network log has it
(headers, bodies, status, timings), so the recording holds a real password and a real token, which the
draft must never copy. tests/fixtures/har/demo.har was made with:

    python -m tests.scenario.importers.record_har tests/fixtures/har/demo.har
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

QUESTION = "How do I prepare for my first client session?"


@dataclass(frozen=True)
class Recording:
    har: dict[str, Any]
    password: str
    token: str


def _pairs(headers: httpx.Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.multi_items()]


def _entry(client: httpx.Client, method: str, path: str, resource: str, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    request = client.build_request(method, path, **kwargs)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    response = client.send(request)
    body = response.read()
    elapsed_ms = (time.perf_counter() - t0) * 1000
    mime = response.headers.get("content-type", "")
    # a page's or a script's text is left out, as a browser's sanitized export does: the draft skips
    # static assets, and the demo bundle's public keys are key-shaped, which a secret scanner would flag
    text = "" if resource in ("document", "script") else body.decode("utf-8", "replace")
    entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": round(elapsed_ms, 3),
        "request": {
            "method": method,
            "url": str(request.url),
            "httpVersion": "HTTP/1.1",
            "headers": _pairs(request.headers),
            "queryString": [{"name": n, "value": v} for n, v in request.url.params.multi_items()],
            "cookies": [],
            "headersSize": -1,
            "bodySize": len(request.content),
        },
        "response": {
            "status": response.status_code,
            "statusText": response.reason_phrase,
            "httpVersion": "HTTP/1.1",
            "headers": _pairs(response.headers),
            "cookies": [],
            "content": {"size": len(body), "mimeType": mime, "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(elapsed_ms, 3), "receive": 0},
        "_resourceType": resource,
    }
    if request.content:
        entry["request"]["postData"] = {
            "mimeType": request.headers.get("content-type", ""),
            "text": request.content.decode(),
        }
    answer = json.loads(body) if "json" in mime else None
    return entry, answer


def record_session(base_url: str, pause_s: float = 0.3) -> Recording:
    """The session above against the demo API at `base_url`, as a HAR document."""
    accounts = httpx.get(f"{base_url}/__demo__/accounts", timeout=10).json()["accounts"]  # not recorded
    account = next(a for a in accounts if a.get("role", "client") == "client")
    entries = []
    with httpx.Client(base_url=base_url, timeout=30, headers={"User-Agent": "record_har (tests)"}) as client:
        for path, resource in (("/", "document"), ("/static/app.js", "script")):
            entries.append(_entry(client, "GET", path, resource)[0])
        creds = {"email": account["email"], "password": account["password"]}
        entry, answer = _entry(client, "POST", "/api/auth/login", "fetch", json=creds)
        entries.append(entry)
        token = answer["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        time.sleep(pause_s)
        entries.append(_entry(client, "GET", "/api/me", "fetch", headers=auth)[0])
        entry, conversations = _entry(client, "GET", "/api/conversations", "fetch", headers=auth)
        entries.append(entry)
        time.sleep(pause_s * 2)
        conversation = conversations[0]["id"]
        entries.append(_entry(client, "GET", f"/api/conversations/{conversation}", "fetch", headers=auth)[0])
        time.sleep(pause_s * 4)
        chat = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": QUESTION}],
            "stream": True,
            "conversation_id": conversation,
        }
        entries.append(_entry(client, "POST", "/api/chat", "fetch", headers=auth, json=chat)[0])
        time.sleep(pause_s)
        entries.append(_entry(client, "POST", "/api/auth/logout", "fetch", headers=auth)[0])
    creator = {"name": "launch-harness tests/scenario/importers/record_har.py", "version": "1"}
    har = {"log": {"version": "1.2", "creator": creator, "pages": [], "entries": entries}}
    return Recording(har=har, password=account["password"], token=token)


def main(out: Path) -> None:
    from harness.demo_api.config import TargetConfig
    from harness.demo_api.process import start_target

    target = start_target(TargetConfig.from_dict({}))
    try:
        recording = record_session(target.url)
    finally:
        target.stop()
    out.write_text(json.dumps(recording.har, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
