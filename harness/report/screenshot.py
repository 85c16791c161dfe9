"""report.png: report.html as headless Chromium renders it, for a PR comment, a chat message or
a CI artifact that people open without downloading a folder.

Chromium's `--screenshot` captures the window only, so the window is made taller than any report
and the white space under the page is cropped off (Pillow, installed with matplotlib).
`page_problems` loads a page over Chromium's DevTools pipe and lists what went wrong (script
errors, console errors, failed or broken resources): the report must load clean.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.errors import UsageError

__all__ = [
    "BrowserError",
    "MISSING_BROWSER",
    "find_browser",
    "chromium_args",
    "screenshot",
    "dump_dom",
    "page_problems",
]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280
TALL = 16_000  # px: taller than any report; the blank rest is cropped
MARGIN = 24  # px of white kept under the page's last pixel
TIMEOUT_S = 90.0
MISSING_BROWSER = (
    "--screenshot: chromium not found; install it (apt-get install chromium) or set "
    "HARNESS_CHROMIUM to a Chromium or Chrome binary"
)


class BrowserError(UsageError):
    """Chromium missing or failing: one line for the user (exit 2)."""


def find_browser() -> str | None:
    """$HARNESS_CHROMIUM, else the first Chromium or Chrome on PATH."""
    override = os.environ.get("HARNESS_CHROMIUM")
    if override:
        return shutil.which(override) or (override if Path(override).is_file() else None)
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _browser() -> str:
    browser = find_browser()
    if browser is None:
        raise BrowserError(MISSING_BROWSER)
    return browser


def chromium_args(profile: Path, *extra: str) -> list[str]:
    """Headless Chromium that runs as root in a container: no sandbox, no GPU, its own profile
    (two runs at once must not share one)."""
    return [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *extra,
    ]


@contextmanager
def _profile() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as folder:
        yield Path(folder)


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BrowserError(f"{args[0]} did not finish in {timeout:g} s") from None
    except OSError as exc:
        raise BrowserError(f"{args[0]}: cannot start ({exc.strerror or exc})") from None


def _page(run_dir_or_page: Path) -> Path:
    path = Path(run_dir_or_page)
    page = path / "report.html" if path.is_dir() else path
    if not page.is_file():
        raise BrowserError(f"{page}: no report here; run `harness report RUN_DIR` first")
    return page.resolve()


def screenshot(run_dir: Path, width: int = WIDTH, timeout: float = TIMEOUT_S) -> Path:
    """Render RUN_DIR/report.html in headless Chromium and save RUN_DIR/report.png (the whole page,
    `width` px wide); returns its path."""
    from PIL import Image, ImageOps

    page = _page(run_dir)
    target = page.parent / "report.png"
    with _profile() as profile:
        raw = profile / "shot.png"
        done = _run(
            chromium_args(profile, f"--window-size={width},{TALL}", f"--screenshot={raw}", page.as_uri()), timeout
        )
        if not raw.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BrowserError(f"chromium wrote no screenshot (exit {done.returncode}): {last}")
        with Image.open(raw) as image:
            box = ImageOps.invert(image.convert("L")).getbbox()  # everything that is not white
            bottom = min(image.height, (box[3] if box else 1) + MARGIN)
            image.crop((0, 0, image.width, bottom)).save(target, optimize=True)
    return target


def dump_dom(run_dir_or_page: Path, timeout: float = TIMEOUT_S) -> tuple[str, str]:
    """(the DOM after load, Chromium's stderr with console logging on): what a browser made of it."""
    page = _page(run_dir_or_page)
    with _profile() as profile:
        done = _run(chromium_args(profile, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()), timeout)
    if done.returncode != 0 or not done.stdout.strip():
        raise BrowserError(f"chromium --dump-dom failed (exit {done.returncode})")
    return done.stdout, done.stderr


class _Pipe:
    """Chromium's DevTools protocol over --remote-debugging-pipe: JSON messages ending in NUL,
    written to its fd 3 and read from its fd 4."""

    def __init__(self, profile: Path, timeout: float) -> None:
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        self.deadline = time.monotonic() + timeout
        args = chromium_args(profile, "--remote-debugging-pipe", "about:blank")

        def wire() -> None:  # in the child; moved above 9 first, so that fd 3 never clobbers fd 4
            high_in, high_out = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child, from_child))
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.proc = subprocess.Popen(
            args,
            pass_fds=(3, 4),
            preexec_fn=wire,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self._id)

    def wait(self, done: Any, quiet_s: float | None = None) -> dict:
        """Read messages until `done(message)`; with `quiet_s`, until nothing came for that long."""
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if done(message):
                    return message
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not load the page in time")
            ready, _, _ = select.select([self._in], [], [], min(left, quiet_s or left))
            if not ready:
                if quiet_s is not None:
                    return {}
                continue
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed its DevTools pipe")
            self._buffer += chunk

    def close(self) -> None:
        try:
            os.write(self._out, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._out)
            os.close(self._in)


BROKEN_IMAGES = "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"


def page_problems(run_dir_or_page: Path, timeout: float = TIMEOUT_S) -> list[str]:
    """Everything that went wrong loading the page: uncaught exceptions, console errors and
    warnings, failed requests, images that did not decode. Empty for a clean page."""
    page = _page(run_dir_or_page)
    with _profile() as profile:
        pipe = _Pipe(profile, timeout)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["result"]["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Page.navigate", {"url": page.as_uri()}, session=session)
            pipe.wait(lambda m: m.get("method") == "Page.loadEventFired")
            pipe.wait(lambda m: False, quiet_s=0.5)  # late console messages
            broken = pipe.send(
                "Runtime.evaluate", {"expression": BROKEN_IMAGES, "returnByValue": True}, session=session
            )["result"]["result"].get("value", 0)
        finally:
            pipe.close()
    problems = [f"{broken} image(s) did not load or decode"] if broken else []
    for event in pipe.events:
        method, params = event["method"], event.get("params") or {}
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails") or {}
            text = (details.get("exception") or {}).get("description") or details.get("text")
            problems.append(f"uncaught exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args") or [])
            problems.append(f"console {params['type']}: {args}")
        elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            problems.append(
                f"{entry.get('source')} {entry['level']}: {entry.get('text')} {entry.get('url') or ''}".rstrip()
            )
        elif method == "Network.loadingFailed":
            problems.append(f"failed to load: {params.get('errorText')} ({params.get('type')})")
    return problems
