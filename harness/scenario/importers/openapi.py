"""`harness init --openapi SPEC`: a scenario drafted from an OpenAPI 3 document (JSON or YAML).

The document is checked with openapi-spec-validator (3.0, 3.1 and 3.2 against the official schemas,
maintained by the python-openapi project, as openapi-core is) and walked with jsonschema-path, its own
dependency, which follows `$ref`s as they are read: components, and files next to the spec, never a
URL (a draft is made offline). Each operation becomes a route with its kind guessed, its body drafted
from the request schema, and auth comes from the security schemes; every guess says so in a
`# review:` comment (harness.scenario.importers.draft writes the text).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import url2pathname

import yaml
from jsonschema_path import SchemaPath
from referencing.exceptions import PointerToNowhere, Unresolvable

from harness.errors import UsageError
from harness.scenario.importers.draft import Auth, Draft, Journey, Route, Step, literal
from harness.scenario.importers.guess import (
    body_template,
    guess_kind,
    id_placeholder,
    route_name,
    unique_name,
    words,
)
from harness.scenario.templates import placeholders

__all__ = ["draft_from_openapi", "read_spec"]

_SEPARATOR = "\x00"  # jsonschema-path splits a key on its separator: none in a real key
_OPERATIONS = ("get", "post", "put", "patch", "delete", "head", "options")
_MAX_NODES = 400  # values drafted for one body: a wide, deep or recursive schema stops here
_MAX_DEPTH = 6
_MAX_PROPERTIES = 30
_LIST_FIELDS = ("items", "data", "results", "records", "entries", "list", "content", "values", "objects")
_TOKEN_FIELDS = ("access_token", "accessToken", "token", "jwt", "id_token", "idToken", "auth_token", "authToken")
_CLIENT_ID_ENV, _CLIENT_SECRET_ENV = "HARNESS_OAUTH_CLIENT_ID", "HARNESS_OAUTH_CLIENT_SECRET"


def _fail(path: Path, message: str) -> UsageError:
    return UsageError(f"{path}: {message}")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- reading and checking ------------------------------------------------------------------------------


def read_spec(path: Path) -> tuple[dict[str, Any], str]:
    """(the document, its OpenAPI version) or a one-line UsageError naming what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "file not found (pass the path of an OpenAPI document, .json or .yaml)") from None
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text: an OpenAPI document is JSON or YAML") from None
    data = _parse(path, text)
    if not isinstance(data, dict):
        raise _fail(path, f"not an OpenAPI document: expected a mapping with `openapi: 3.x`, got {type(data).__name__}")
    if "swagger" in data:
        raise _fail(
            path, "a Swagger 2.0 document, not OpenAPI 3: convert it (e.g. with swagger2openapi), then import that"
        )
    version = data.get("openapi")
    if not (isinstance(version, str) and re.fullmatch(r"3\.\d+(\.\d+)?(-.+)?", version)):
        raise _fail(path, f"not an OpenAPI 3 document: expected `openapi: 3.0.x` or `3.1.x`, got {version!r}")
    return data, version


def _parse(path: Path, text: str) -> Any:
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(path, f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except RecursionError:
            raise _fail(path, "not usable JSON: nested too deeply") from None
    try:
        return _plain(yaml.safe_load(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise _fail(path, f"not valid JSON or YAML: {where}{exc.problem or exc}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise _fail(path, f"not valid JSON or YAML: {_short(str(exc)) or type(exc).__name__}") from None


def _plain(value: Any, seen: dict[int, Any] | None = None) -> Any:
    """YAML as JSON would have it: `200:` is the key "200", a date is its ISO text. Shared (aliased)
    parts stay shared, so an alias bomb costs no more memory than YAML gave it."""
    seen = {} if seen is None else seen
    if id(value) in seen:
        return seen[id(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        seen[id(value)] = out
        out.update((str(k), _plain(v, seen)) for k, v in value.items())
        return out
    if isinstance(value, list):
        items: list[Any] = []
        seen[id(value)] = items
        items.extend(_plain(v, seen) for v in value)
        return items
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _validated(path: Path, data: dict[str, Any], version: str) -> SchemaPath:
    """The document as a SchemaPath that follows $refs to files beside it (never a URL), once the
    validator found nothing wrong; else its first finding, on one line."""
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator, OpenAPIV32SpecValidator

    validators = {"3.0": OpenAPIV30SpecValidator, "3.1": OpenAPIV31SpecValidator, "3.2": OpenAPIV32SpecValidator}
    minor = ".".join(version.split(".")[:2])
    if minor not in validators:
        raise _fail(path, f"OpenAPI {version} is not supported: expected 3.0, 3.1 or 3.2")
    refuse = _Refuse()
    handlers = {"file": _BesideSpec(path), **{scheme: refuse for scheme in ("http", "https", "ftp", "data")}}
    spec = SchemaPath.from_dict(data, separator=_SEPARATOR, base_uri=path.resolve().as_uri(), handlers=handlers)
    try:
        first = next(iter(validators[minor](spec).iter_errors()), None)
    except Unresolvable as exc:
        raise _fail(path, _unresolvable(exc)) from None
    except Exception as exc:  # the validator on a hostile document: one line, whatever it raised
        raise _fail(
            path, f"not a usable OpenAPI {version} document: {_short(str(exc)) or type(exc).__name__}"
        ) from None
    if first is not None:  # the first finding (later ones may follow from it), at its most precise
        error = _precise(first)
        where = ".".join(str(p) for p in error.absolute_path) or "top level"
        raise _fail(path, f"not a valid OpenAPI {version} document: {_short(where, 100)}: {_short(error.message)}")
    return spec


def _precise(error: Any) -> Any:
    """The most relevant error under `error` (a oneOf names which branch failed how), else itself."""
    from jsonschema.exceptions import best_match

    try:
        return best_match([error]) or error
    except AttributeError:  # an error the spec validator made itself carries no type checker to rank with
        return error


class _BesideSpec:
    """Reads what a `$ref` names in a file in the document's folder (or below it), never elsewhere:
    a document from a third party must not pull another of the user's files into the draft."""

    def __init__(self, spec: Path) -> None:
        self.folder = spec.resolve().parent

    def __call__(self, uri: str) -> Any:
        target = Path(url2pathname(urlsplit(uri).path)).resolve()
        if not target.is_relative_to(self.folder):
            raise ValueError(f"{target} is outside the document's folder {self.folder}")
        return _parse(target, target.read_text(encoding="utf-8-sig"))


class _Refuse:
    """A `$ref` to a URL: a draft is made offline, from the files the user gave."""

    def __call__(self, uri: str) -> Any:
        raise ValueError(f"{uri} is a URL")


def _unresolvable(exc: Unresolvable) -> str:
    ref = _short(exc.ref, 100)
    if isinstance(exc, PointerToNowhere):
        return f"$ref {ref}: points to nothing in the document (a typo, or a component that is not there)"
    reason = next((str(c) for c in _causes(exc) if isinstance(c, (ValueError, OSError)) and str(c)), "cannot be read")
    return (
        f"cannot follow $ref {ref}: {_short(reason, 120)}; harness init follows $refs inside the document and to "
        "files beside it, never to a URL (save that document beside this one and refer to the file)"
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """What led to `exc`, nearest first (a few levels: referencing wraps the handler's error twice)."""
    seen = exc.__cause__ or exc.__context__
    for _ in range(10):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


# --- walking the document -------------------------------------------------------------------------------


def _get(node: SchemaPath, *keys: str | int) -> SchemaPath | None:
    """node / keys..., or None where a key is missing (each step follows a $ref)."""
    for key in keys:
        if isinstance(key, str) and _SEPARATOR in key:
            return None
        if isinstance(key, int):
            value = node.read_value()
            if not isinstance(value, list) or key >= len(value):
                return None
        elif key not in node:
            return None
        node = node / key
    return node


def _value(node: SchemaPath | None, *keys: str | int, default: Any = None) -> Any:
    """The plain value at node / keys... unless it is missing or a mapping: then `default`."""
    found = _get(node, *keys) if node is not None else None
    if found is None:
        return default
    value = found.read_value()
    return value if not isinstance(value, dict) else default


def _mapping(node: SchemaPath | None, *keys: str) -> Iterator[tuple[str, SchemaPath]]:
    found = _get(node, *keys) if node is not None else None
    if found is None or not isinstance(found.read_value(), dict):
        return
    for key in found.keys():
        if isinstance(key, str) and _SEPARATOR not in key:
            yield key, found / key


def _items(node: SchemaPath | None, *keys: str) -> Iterator[SchemaPath]:
    found = _get(node, *keys) if node is not None else None
    if found is None or not isinstance(found.read_value(), list):
        return
    for i in range(len(found.read_value())):
        yield found / i


# --- schemas: sample values, list shapes ----------------------------------------------------------------


def _types(schema: SchemaPath) -> list[str]:
    declared = _value(schema, "type")
    types = declared if isinstance(declared, list) else [declared] if isinstance(declared, str) else []
    if not types and _get(schema, "properties") is not None:
        types = ["object"]
    if not types and _get(schema, "items") is not None:
        types = ["array"]
    return [t for t in types if t != "null"]


def _properties(schema: SchemaPath, depth: int = 0) -> dict[str, SchemaPath]:
    """An object's properties, those of its allOf parts included (Pet = allOf [NewPet, {id}])."""
    found: dict[str, SchemaPath] = {}
    if depth > _MAX_DEPTH:
        return found
    for part in _items(schema, "allOf"):
        found.update(_properties(part, depth + 1))
    found.update(_mapping(schema, "properties"))
    return found


class _Sampler:
    """A value for a schema: its example, default or first enum value, else one a person recognises
    ("string", 1, false); bounded in nodes and depth, so a recursive schema ends."""

    def __init__(self) -> None:
        self.nodes = _MAX_NODES

    def sample(self, schema: SchemaPath, depth: int = 0) -> Any:
        self.nodes -= 1
        if self.nodes < 0 or depth > _MAX_DEPTH:
            return None
        for key in ("example", "default", "const"):
            if _get(schema, key) is not None:
                return schema.read_value()[key]
        examples = _value(schema, "examples")
        if isinstance(examples, list) and examples:
            return examples[0]
        enum = _value(schema, "enum")
        if isinstance(enum, list) and [v for v in enum if v is not None]:
            return next(v for v in enum if v is not None)
        for key in ("oneOf", "anyOf"):
            first = next(_items(schema, key), None)
            if first is not None:
                return self.sample(first, depth + 1)
        types = _types(schema)
        if "object" in types or _get(schema, "allOf") is not None:
            return self._object(schema, depth)
        if "array" in types:
            items = _get(schema, "items")
            item = self.sample(items, depth + 1) if items is not None else "string"
            count = min(max(_value(schema, "minItems", default=1) or 1, 1), 3)
            return [item] * count if item is not None else []
        if "integer" in types or "number" in types:
            minimum = _value(schema, "minimum")
            return minimum if isinstance(minimum, (int, float)) and not isinstance(minimum, bool) else 1
        if "boolean" in types:
            return False
        return _string(_value(schema, "format", default=""))

    def _object(self, schema: SchemaPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, prop in list(_properties(schema).items())[:_MAX_PROPERTIES]:
            if _value(prop, "readOnly") is True:
                continue
            value = self.sample(prop, depth + 1)
            if value is not None:
                out[name] = value
        return out


def _string(fmt: str) -> str:
    return {
        "email": "user@example.com",
        "date-time": "2024-01-01T00:00:00Z",
        "date": "2024-01-01",
        "uuid": "00000000-0000-4000-8000-000000000000",
        "uri": "https://example.com/",
        "url": "https://example.com/",
    }.get(fmt, "string")


def _list_shape(schema: SchemaPath | None) -> tuple[str, str] | None:
    """(list_field, id_field) when an answer is a list of items ("" = a top-level array), else None.

    Items are objects: a list route hands read routes the ids its items carry."""
    if schema is None:
        return None
    if "array" in _types(schema):
        items = _get(schema, "items")
        return ("", _id_field(items)) if _is_object(items) else None
    arrays = {n: p for n, p in _properties(schema).items() if "array" in _types(p) and _is_object(_get(p, "items"))}
    named = [n for n in _LIST_FIELDS if n in arrays]
    name = named[0] if named else (next(iter(arrays)) if len(arrays) == 1 else None)
    return (name, _id_field(_get(arrays[name], "items"))) if name is not None else None


def _is_object(schema: SchemaPath | None) -> bool:
    return schema is not None and ("object" in _types(schema) or bool(_properties(schema)))


def _id_field(items: SchemaPath | None) -> str:
    names = list(_properties(items)) if items is not None else []
    if "id" in names:
        return "id"
    return next((n for n in names if words(n) and words(n)[-1] in ("id", "uuid")), "id")


def _json_media(content: SchemaPath | None) -> tuple[str, SchemaPath] | None:
    for media, node in _mapping(content):
        base = media.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json") or base == "*/*":
            return base, node
    return None


# --- operations -----------------------------------------------------------------------------------------


class _Operation:
    """What the draft needs of one operation, read once."""

    def __init__(self, spec: SchemaPath, raw_path: str, method: str, item: SchemaPath, op: SchemaPath) -> None:
        self.raw_path, self.method, self.op = raw_path, method.upper(), op
        self.operation_id = str(_value(op, "operationId", default="") or "")
        params = {(_value(p, "name"), _value(p, "in")): p for p in _items(item, "parameters")}
        params.update({(_value(p, "name"), _value(p, "in")): p for p in _items(op, "parameters")})
        self.parameters = params
        security = _get(op, "security")  # `security: []` (a public route) is an empty, so falsy, SchemaPath
        security = _get(spec, "security") if security is None else security
        self.security = [dict(_mapping(req)) for req in _items(security)] if security is not None else []
        self.answer = self._answer()

    def _answer(self) -> tuple[set[str], SchemaPath | None]:
        """(content types of the success answers, the JSON schema of the first)."""
        media: set[str] = set()
        schema = None
        for code, response in _mapping(self.op, "responses"):
            if not code.upper().startswith("2"):
                continue
            media |= {m.split(";")[0].strip().lower() for m, _ in _mapping(response, "content")}
            found = _json_media(_get(response, "content"))
            if schema is None and found is not None:
                schema = _get(found[1], "schema")
        return media, schema

    @property
    def streams(self) -> bool:
        return "text/event-stream" in self.answer[0]

    def schemes(self) -> set[str]:
        return {name for requirement in self.security for name in requirement}


def _path(base: str, raw_path: str, op: _Operation) -> str:
    """The route's path: the server's base path, then the template with {NAME_id} placeholders and
    the required query parameters; what is not printable ASCII percent-encoded."""
    parts = []
    previous = ""
    for segment in raw_path.strip("/").split("/"):
        pieces = re.split(r"(\{[^{}]*\})", segment)
        out = ""
        for piece in pieces:
            if piece.startswith("{") and piece.endswith("}"):
                out += id_placeholder(piece[1:-1], previous)
            else:
                out += quote(literal(piece), safe="-._~!$&'()*+,;=:@%")
        parts.append(out)
        if not segment.startswith("{"):
            previous = segment
    path = base.rstrip("/") + "/" + "/".join(parts)
    query = [
        f"{quote(name, safe='')}={quote(str(_query_value(param)), safe='')}"
        for (name, where), param in op.parameters.items()
        if where == "query" and isinstance(name, str) and _value(param, "required") is True
    ]
    return path + ("?" + "&".join(query) if query else "")


def _query_value(param: SchemaPath) -> Any:
    for key in ("example", "default"):
        if (value := _value(param, key)) is not None:
            return literal(value)
    schema = _get(param, "schema")
    value = _Sampler().sample(schema) if schema is not None else "string"
    return literal(value if isinstance(value, (str, int, float)) else "string")


def _operations(spec: SchemaPath) -> tuple[list[_Operation], list[str]]:
    found: list[_Operation] = []
    left_out: list[str] = []
    for raw_path, item in _mapping(spec, "paths"):
        for method, op in _mapping(item):
            if method in _OPERATIONS:
                found.append(_Operation(spec, raw_path, method, item, op))
            elif method in ("trace", "query", "additionalOperations"):
                left_out.append(f"{raw_path}: {method}: not a method the harness sends")
    if not found:
        raise UsageError("no operation under `paths`: nothing to draft")
    return found, left_out


def _route(op: _Operation, name: str, base: str) -> Route:
    lists = _list_shape(op.answer[1]) if op.method in ("GET", "HEAD") else None
    kind, why = guess_kind(op.method, op.raw_path, op.operation_id, lists=lists is not None)
    notes = [
        f"the route needs the {where} parameter {pname!r}: the harness sends no per-route {where} values"
        for (pname, where), param in op.parameters.items()
        if where in ("header", "cookie") and _value(param, "required") is True
    ]
    body = None
    request = _get(op.op, "requestBody")
    if request is not None and op.method not in ("GET", "HEAD"):
        body, body_notes = _body(request, kind, op.streams)
        notes += body_notes
    stream, stream_why = "none", ""
    if kind == "chat" and op.streams:
        openai = "completions" in words(op.raw_path) or "completion" in words(op.operation_id)
        stream = "sse-openai" if openai else "sse"
        stream_why = "the route declares text/event-stream" + (
            "; OpenAI chat-completions chunks guessed from its path" if openai else "; set its event format"
        )
    elif kind == "chat":
        stream, stream_why = "json", "an LLM route that declares no text/event-stream: its answer is read as JSON"
    return Route(
        name=name,
        method=op.method,
        path=_path(base, op.raw_path, op),
        kind=kind,
        why=why,
        body=body,
        auth=any(op.security) and kind != "login",
        stream=stream,
        stream_why=stream_why,
        list_field=lists[0] if lists and kind == "list" else None,
        id_field=lists[1] if lists and kind == "list" else "id",
        notes=tuple(notes),
    )


def _body(request: SchemaPath, kind: str, streams: bool) -> tuple[Any, list[str]]:
    """The body template from the request's JSON example or schema, and the review lines about it."""
    found = _json_media(_get(request, "content"))
    if found is None:
        types = ", ".join(m for m, _ in _mapping(request, "content")) or "none"
        return None, [f"the route takes {types}, not JSON: the harness sends JSON bodies only (no body drafted)"]
    _, media = found
    example = _get(media, "example")
    if example is None:
        example = next((_get(e, "value") for _, e in _mapping(media, "examples") if _get(e, "value") is not None), None)
    schema = _get(media, "schema")
    if example is not None:
        value, source = example.read_value(), "its example"
    elif schema is not None:
        value, source = _Sampler().sample(schema), "its schema"
    else:
        return None, ["the request body has no schema or example: draft one"]
    body, notes = body_template(literal(value), kind)
    if kind == "chat" and isinstance(body, dict) and "stream" in body:
        body["stream"] = streams
    return body, [f"body drafted from {source}: literal values are examples, check them", *notes]


# --- auth -----------------------------------------------------------------------------------------------


def _auth(spec: SchemaPath, ops: list[_Operation], login: tuple[_Operation, Route] | None, servers: list[str]) -> Auth:
    """[auth] from the security scheme the operations use most (the document's default first) that
    the harness can drive; the others are named in review lines."""
    schemes = dict(_mapping(spec, "components", "securitySchemes"))
    if not schemes:
        return Auth("none", "the document declares no security scheme")
    usage: Counter[str] = Counter(name for op in ops for name in op.schemes())
    default = [name for req in _items(spec, "security") for name, _ in _mapping(req)]
    order = sorted(schemes, key=lambda n: (n not in default, -usage[n], list(schemes).index(n)))
    skipped: list[str] = []
    for name in order:
        found = _scheme_auth(name, schemes[name], ops, login, servers)
        if isinstance(found, Auth):
            others = [n for n in order if n != name]
            also = (f"also declared: {', '.join(others)} (the harness drives one scheme)",) if others else ()
            notes = (*found.notes, *also)
            return Auth(found.style, found.why, found.fields, found.oauth2, found.account_columns, notes)
        skipped.append(found)
    return Auth("none", "no declared security scheme is one the harness can drive", notes=tuple(skipped))


_KEY_NOTE = "each account's key is the api_key column of the accounts file"


def _scheme_auth(
    name: str, scheme: SchemaPath, ops: list[_Operation], login: tuple[_Operation, Route] | None, servers: list[str]
) -> Auth | str:
    """The Auth for one security scheme, or why the harness cannot drive it."""
    kind = str(_value(scheme, "type", default="")).lower()
    where = f"securitySchemes.{name}"
    if kind == "http" and str(_value(scheme, "scheme", default="")).lower() == "bearer":
        if login is not None:
            return Auth(
                "bearer",
                f"{where} (http bearer): the token comes from the login route {login[1].name}",
                fields=(
                    ("token_from", "body", ""),
                    ("token_field", _token_field(login[0]), "the dot path of the token in the login answer"),
                    ("header", "Authorization", ""),
                    ("scheme", "Bearer", ""),
                ),
            )
        return Auth(
            "api_key",
            f"{where} (http bearer) and no login route: a static token per account, sent as Authorization: Bearer",
            fields=(("key_in", "header", ""), ("header", "Authorization", ""), ("scheme", "Bearer", "")),
            account_columns=("api_key",),
            notes=(_KEY_NOTE,),
        )
    if kind == "http":
        return (
            f"scheme {name!r} is HTTP {_value(scheme, 'scheme')}: for basic auth pass --host https://USER:PASSWORD@HOST"
        )
    if kind == "apikey":
        return _api_key(name, str(_value(scheme, "name", default="")), str(_value(scheme, "in", default="")), login)
    if kind == "oauth2":
        for flow, grant in (("clientCredentials", "client_credentials"), ("password", "password")):
            node = _get(scheme, "flows", flow)
            if node is not None:
                return _oauth2(name, node, grant, ops, servers)
        flows = ", ".join(f for f, _ in _mapping(scheme, "flows"))
        return f"scheme {name!r} is OAuth2 with {flows} only: a browser flow the harness cannot drive"
    return f"scheme {name!r} ({kind or 'no type'}) is not one the harness can drive"


def _api_key(name: str, key_name: str, key_in: str, login: tuple[_Operation, Route] | None) -> Auth | str:
    where = f"securitySchemes.{name}"
    fields: tuple[tuple[str, Any, str], ...]
    if key_in == "header":
        fields = (("key_in", "header", ""), ("header", key_name, ""), ("scheme", "", "the key is sent bare"))
        return Auth("api_key", f"{where} (apiKey in header {key_name})", fields, (), ("api_key",), (_KEY_NOTE,))
    if key_in == "query":
        fields = (("key_in", "query", ""), ("query_param", key_name, ""))
        return Auth(
            "api_key", f"{where} (apiKey in query parameter {key_name})", fields, (), ("api_key",), (_KEY_NOTE,)
        )
    if key_in == "cookie":
        if login is None:
            notes: tuple[str, ...] = ('no login route found: add the route that sets the cookie (kind = "login")',)
            why = f"{where} (apiKey in cookie {key_name})"
        else:
            notes, why = (), f"{where} (apiKey in cookie {key_name}): the login route {login[1].name} sets it"
        return Auth("cookie", why, (("session_cookie", key_name, ""),), notes=notes)
    return f"scheme {name!r} is an apiKey in {key_in or 'nowhere'}: not a place the harness sends keys"


def _oauth2(name: str, flow: SchemaPath, grant: str, ops: list[_Operation], servers: list[str]) -> Auth:
    parts = urlsplit(str(_value(flow, "tokenUrl", default="")))
    api_hosts = {urlsplit(s).netloc for s in servers} - {""}
    notes: tuple[str, ...] = ()
    if parts.netloc and api_hosts and parts.netloc not in api_hosts:
        notes = (f"the token URL is on {parts.netloc}, not on the API's host: token_path is taken on the API's host",)
    return Auth(
        "oauth2",
        f"securitySchemes.{name} (OAuth2 {grant.replace('_', ' ')} grant)",
        oauth2=(
            ("grant", grant, ""),
            ("token_path", quote(parts.path or "/oauth/token", safe="/-._~%"), "from the flow's tokenUrl"),
            ("client_id_env", _CLIENT_ID_ENV, "the environment variable that holds the client id"),
            ("client_secret_env", _CLIENT_SECRET_ENV, "the environment variable that holds the client secret"),
            ("scope", " ".join(_scopes(ops, name)), "the scopes the operations ask for"),
        ),
        notes=notes,
    )


def _scopes(ops: list[_Operation], scheme: str) -> list[str]:
    found: set[str] = set()
    for op in ops:
        for requirement in op.security:
            value = requirement[scheme].read_value() if scheme in requirement else []
            found.update(s for s in value if isinstance(s, str))
    return sorted(found)


def _token_field(login: _Operation) -> str:
    """Where the login answer's schema keeps a token (one level deep at most), else access_token."""
    schema = login.answer[1]
    props = _properties(schema) if schema is not None else {}
    nested = [(f"{outer}.", _properties(prop)) for outer, prop in props.items()]
    for prefix, fields in [("", props), *nested]:
        found = next((f for f in _TOKEN_FIELDS if f in fields), None)
        if found:
            return prefix + found
    return "access_token"


# --- the draft ------------------------------------------------------------------------------------------


def _server_urls(spec: SchemaPath) -> list[str]:
    """Each server's URL with its variables at their defaults."""
    urls = []
    for server in _items(spec, "servers"):
        url = str(_value(server, "url", default=""))
        for var, node in _mapping(server, "variables"):
            url = url.replace("{" + var + "}", str(_value(node, "default", default="")))
        urls.append(url)
    return urls


def _journey(routes: list[Route]) -> Journey:
    """Read and list routes only: a draft never writes or deletes. A route that needs an id from an
    earlier answer, and a chat route (it spends tokens), are there commented out for a person to enable."""
    steps = []
    for route in routes:
        needs = [p for p in placeholders([route.path, route.body]) if p not in _FILLED]
        if route.kind in ("list", "read") and not needs:
            steps.append(Step(route.name, 1.0))
        elif route.kind in ("list", "read"):
            wanted = ", ".join("{" + p + "}" for p in needs)
            steps.append(Step(route.name, 1.0, f"needs {wanted} from an earlier answer: extract it in a step before"))
        elif route.kind == "chat":
            steps.append(Step(route.name, 1.0, "an LLM call (spends tokens): enable it to load the model"))
    return Journey("browse", "drafted over read and list routes only (a draft never writes or deletes)", tuple(steps))


_FILLED = {"email", "password", "username", "api_key", "message", "messages"}  # what every call has


def draft_from_openapi(path: Path, command: str = "") -> Draft:
    """The draft for an OpenAPI document, or a one-line UsageError naming what is wrong with it."""
    data, version = read_spec(path)
    spec = _validated(path, data, version)
    try:
        return _draft(spec, version, command or f"harness init --openapi {path.name}")
    except UsageError as exc:
        raise _fail(path, str(exc)) from None
    except Unresolvable as exc:
        raise _fail(path, _unresolvable(exc)) from None
    except (LookupError, ValueError, TypeError, OSError, RecursionError) as exc:  # a $ref the validator let by
        raise _fail(path, f"cannot read part of it: {_short(str(exc)) or type(exc).__name__}") from None


def _draft(spec: SchemaPath, version: str, command: str) -> Draft:
    title = str(_value(spec, "info", "title", default="") or "API")
    api_version = str(_value(spec, "info", "version", default="") or "")
    servers = _server_urls(spec)
    base = urlsplit(servers[0]).path.rstrip("/") if servers else ""
    ops, left_out = _operations(spec)
    taken: set[str] = set()
    pairs = [
        (op, _route(op, unique_name(route_name(op.operation_id or f"{op.method} {op.raw_path}"), taken), base))
        for op in ops
    ]
    routes = [route for _, route in pairs]
    login = next(((op, r) for op, r in pairs if r.kind == "login"), None)
    auth = _auth(spec, ops, login, servers)
    journey = _journey(routes)
    notes = []
    if base:
        notes.append(f"the paths start with the server's base path {base}")
    if auth.oauth2:
        notes.append(f"set {_CLIENT_ID_ENV} and {_CLIENT_SECRET_ENV} in the environment of the run")
    if not any(not step.skip for step in journey.steps):
        notes.append("the journey `browse` has no step that runs as drafted: enable one, or write your own")
    webhooks = [name for name, _ in _mapping(spec, "webhooks")]
    if webhooks:
        left_out.append(f"the document's webhooks ({', '.join(webhooks)}): calls the API makes, not routes it serves")
    hosts = tuple(
        (f"{parts.scheme}://{parts.netloc}", f"the document's server {url}: load only a host you may test")
        for url in servers
        if (parts := urlsplit(url)).scheme in ("http", "https") and parts.netloc
    )
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "draft"
    return Draft(
        name=slug,
        description=f"{title} {api_version} (OpenAPI {version})".replace("  ", " "),
        command=command,
        auth=auth,
        routes=tuple(routes),
        journeys=(journey,),
        hosts=hosts[:3],
        notes=tuple(notes),
        left_out=tuple(left_out),
    )
