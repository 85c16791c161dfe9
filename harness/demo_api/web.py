"""Small HTTP helpers for the demo API: JSON errors, bounded body reading, bearer tokens."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["ApiError", "BODY_KEY", "FORM_BODY_LIMIT", "OpenAIError", "read_body", "read_object", "bearer_token"]

BODY_KEY = "harness.body"  # scope key: the body once read, or the ApiError reading it raised
FORM_BODY_LIMIT = 64 * 1024  # login, reset and lead forms


class ApiError(Exception):
    """Raised by a handler to answer with a JSON error `{"error": code, "detail"?: ...}`."""

    def __init__(self, status: int, code: str, detail: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.code}
        if self.detail:
            body["detail"] = self.detail
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class OpenAIError(ApiError):
    """An `ApiError` in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, which chat
    clients and SDKs parse; `detail` is the message."""

    def __init__(self, status: int, code: str, detail: str, param: str | None = None):
        super().__init__(status, code, detail)
        self.param = param

    def response(self) -> JSONResponse:
        error = {"message": self.detail, "type": self.code, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes (413) before reading it all into memory.

    The outcome is kept in the scope: a rate-limit guard may read the body (for the e-mail a login
    is counted by) before the handler does, and the stream can be read only once."""
    cached = request.scope.get(BODY_KEY)
    if cached is None:
        try:
            cached = await _read_body(request, limit)
        except ApiError as exc:
            cached = exc
        request.scope[BODY_KEY] = cached
    if isinstance(cached, ApiError):
        raise cached
    if len(cached) > limit:
        raise _too_large(limit)
    return cached


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"body limit is {limit} bytes")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request, limit: int = FORM_BODY_LIMIT, status: int = 422) -> dict[str, Any]:
    """A JSON object body; anything else is answered with `status` (422 for forms, 400 OpenAI-style)."""
    body = await read_body(request, limit)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise ApiError(status, "invalid_json", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(status, "invalid_json", "body must be a JSON object")
    return data


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
