"""What went wrong with a request, in a few words that never hold the URL or headers (they may hold tokens).

Every failed sample's `error` comes from here, whoever sent the request (a Locust user, a probe, the
stream reader), so the same failure reads the same in every figure.
"""

from __future__ import annotations

__all__ = ["RequestDeadline", "describe_exception", "seconds"]


class RequestDeadline(OSError):
    """The request's whole deadline (`[http] timeout`) passed; a gevent timer raises it into the request.

    An OSError, so Locust records a failed response, but not a TimeoutError: geventhttpclient retries
    those, and a retry would start the clock again.
    """


def describe_exception(
    exception: BaseException | None,
    status: int,
    *,
    timeout_s: float | None = None,
    connect_timeout_s: float | None = None,
) -> str:
    """A short reason for a failed request, never the URL or headers (they may hold tokens).

    geventhttpclient wraps and re-raises what went wrong (a timeout inside RetriesExceeded, a reset
    inside "connection closed"), so the whole chain is searched for the root cause. `status` is the
    response's status (0: no response): the same cut reads "no response" before it, "mid-response" after.
    """
    if exception is None:
        return ""
    chain = _chain(exception)
    names = {cls.__name__ for e in chain for cls in type(e).__mro__}
    if status and names & {"BadStatusCode", "LocustBadStatusCode"}:
        return f"http {status}"
    if "RetriesExceeded" in names and any("Redirection limit" in str(e) for e in chain):
        return "too many redirects"  # geventhttpclient gave up after max_redirects (harness.load.client)
    if any(isinstance(e, (TimeoutError, RequestDeadline)) for e in chain) or "Timeout" in names:
        if (
            not status
            and connect_timeout_s
            and _in_connect(chain)
            and not any(isinstance(e, RequestDeadline) for e in chain)
        ):
            return f"timeout: no connection within {seconds(connect_timeout_s)}"
        within = f" within {seconds(timeout_s)}" if timeout_s else ""
        return f"timeout: no response{within}" if not status else f"timeout: response not complete{within}"
    for kind, reason in (
        (ConnectionResetError, "reset by peer"),
        (ConnectionRefusedError, "refused"),
        (BrokenPipeError, "closed by peer while sending"),
    ):
        if any(isinstance(e, kind) for e in chain):
            return f"connection: {reason}"
    if "HTTPParseError" in names:
        text = " ".join(str(a) for e in chain if type(e).__name__.startswith("HTTP") for a in e.args).lower()
        if "expected http/" in text:
            return "bad response: not HTTP"
        if "closed" in text or "incomplete" in text or "eof" in text:
            return "connection: closed mid-response" if status else "connection: closed without a response"
        return "bad response: malformed HTTP"
    if "SSLError" in names:
        return "connection: TLS error"
    if "gaierror" in names:
        return "connection: host not found"
    strerror = next((e.strerror for e in chain if isinstance(e, OSError) and e.strerror), None)
    if strerror:
        return f"connection: {strerror[:1].lower()}{strerror[1:]}"
    return f"http {status}" if status else f"connection: {type(exception).__name__}"


def seconds(value: float) -> str:
    return f"{value:g} s"


def _chain(exception: BaseException) -> list[BaseException]:
    """The exception, what it wraps (`original`, cause, context), and so on, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exception]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        original = getattr(e, "original", None)
        todo += [original if isinstance(original, BaseException) else None, e.__cause__, e.__context__]
    return seen


def _in_connect(chain: list[BaseException]) -> bool:
    """Did the timeout happen while connecting (geventhttpclient's socket factory on the stack)?"""
    for e in chain:
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name in ("_create_socket", "_connect_socket", "create_connection"):
                return True
            tb = tb.tb_next
    return False
