"""Stack traces, debug pages and database errors in a response body.

A server that answers bad input with its traceback tells an attacker its framework, file layout,
library versions and sometimes its SQL or settings; it also means the error was not handled. Each
pattern is a signature only such output has (a frame line, a debugger page's title), never a bare word
like "error" or "exception" that a JSON error message may well contain.
"""

from __future__ import annotations

import re

__all__ = ["error_page"]

_PAGES: list[tuple[str, re.Pattern[str]]] = [
    ("Python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("Python stack frame", re.compile(r"\bFile \"[^\"\n]{1,300}\", line \d+, in \S")),
    ("Werkzeug debugger page", re.compile(r"Werkzeug Debugger|The debugger caught an exception in your WSGI")),
    ("Django debug page", re.compile(r"You're seeing this error because you have <code>DEBUG = True</code>")),
    ("Starlette debug page", re.compile(r"<title>Starlette Debugger</title>")),
    ("Rails error page", re.compile(r"<title>Action Controller: Exception caught</title>|\.rb:\d+:in [`']")),
    (
        "Node.js stack trace",
        re.compile(r"\n\s*at (?:[\w$.<>\[\] ]+ )?\(?(?:/|[A-Za-z]:\\|file://|node:)[^)\n]*:\d+:\d+\)?"),
    ),
    ("Express error page", re.compile(r"<pre>\w*Error: [^<]*<br> &nbsp; &nbsp;at ")),
    (
        "Java stack trace",
        re.compile(
            r"\bat (?:[a-zA-Z_$][\w$]*\.)+[\w$<>]+\([\w$]+\.(?:java|kt|scala):\d+\)|\bjava\.lang\.\w+(?:Exception|Error)\b"
        ),
    ),
    (".NET stack trace", re.compile(r"\bat [\w.`<>]+\([^)\n]*\) in [^\n]+:line \d+|\bSystem\.\w+Exception: ")),
    (
        "PHP error",
        re.compile(r"<b>(?:Fatal error|Parse error|Warning)</b>:|PHP (?:Fatal error|Warning): |Stack trace:\s*#0 "),
    ),
    ("Go panic", re.compile(r"goroutine \d+ \[running\]:|panic: runtime error")),
    (
        "SQL error",
        re.compile(
            r"SQLSTATE\[|You have an error in your SQL syntax|syntax error at or near \\?\"|unterminated quoted string at "
            r"or near|\bORA-\d{5}\b|sqlite3\.OperationalError|psycopg2?\.errors\.|\bPG::\w+Error|SequelizeDatabaseError"
            r"|PrismaClientKnownRequestError|\bSQLITE_ERROR\b|org\.postgresql\.util\.PSQLException"
        ),
    ),
]


_PYTHON_ERROR = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b.*$", re.MULTILINE)


def error_page(text: str) -> tuple[str, str] | None:
    """(what it is, the line that shows it, shortened) for the first signature in `text`, or None. For a
    Python traceback the line is its exception (`json.decoder.JSONDecodeError: Expecting value...`)."""
    for kind, pattern in _PAGES:
        m = pattern.search(text)
        if m and kind == "Python traceback":
            errors = _PYTHON_ERROR.findall(text, m.end())
            if errors:
                return kind, re.sub(r"\s+", " ", errors[-1]).strip()[:140]
        if m:
            at = m.start() + len(m.group(0)) - len(m.group(0).lstrip())  # the frame's own line
            start = max(text.rfind("\n", 0, at) + 1, at - 60)  # a long line (minified HTML): near the match
            end = text.find("\n", m.end())
            line = re.sub(r"\s+", " ", text[start : end if end >= 0 else len(text)]).strip()
            return kind, line[:140]
    return None
