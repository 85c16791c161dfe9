"""`harness init --openapi`: two third-party documents (tests/fixtures/openapi, see its NOTICE) and small
hand-made ones for each security scheme, stream, body and error case."""

from __future__ import annotations

import json
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import UsageError
from harness.scenario import parse_scenario
from harness.scenario.importers.draft import render_draft
from harness.scenario.importers.openapi import draft_from_openapi
from tests.helpers import REPO

FIXTURES = REPO / "tests" / "fixtures" / "openapi"
PETSTORE = FIXTURES / "petstore-expanded.yaml"
TICTACTOE = FIXTURES / "tictactoe.json"
OK = {"200": {"description": "ok"}}


def drafted(path: Path) -> tuple[str, dict[str, Any]]:
    text = render_draft(draft_from_openapi(path))
    return text, tomllib.loads(text)


def write_spec(tmp_path: Path, paths: dict[str, Any], name: str = "spec.yaml", **extra: Any) -> Path:
    doc = {"openapi": "3.0.3", "info": {"title": "Test API", "version": "1"}, "paths": paths, **extra}
    path = tmp_path / name
    path.write_text(json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc, sort_keys=False))
    return path


def json_answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def review_of(text: str, line_start: str) -> str:
    """The `# review:` comment on the first line that starts with `line_start`."""
    line = next(line for line in text.splitlines() if line.startswith(line_start))
    assert "# review: " in line, line
    return line.split("# review: ", 1)[1]


def test_the_petstore_draft_maps_each_operation_with_its_kind_marked_for_review() -> None:
    text, data = drafted(PETSTORE)
    endpoints = data["endpoints"]
    assert {name: (ep["method"], ep["path"], ep["kind"]) for name, ep in endpoints.items()} == {
        "find_pets": ("GET", "/v2/pets", "list"),  # the server's base path /v2 leads every path
        "add_pet": ("POST", "/v2/pets", "write"),
        "find_pet_by_id": ("GET", "/v2/pets/{pet_id}", "read"),
        "delete_pet": ("DELETE", "/v2/pets/{pet_id}", "delete"),
    }
    assert text.count('kind = "') == 4  # every kind line carries its reason:
    assert review_of(text, 'kind = "list"') == "GET /pets (findPets): GET on a collection that answers an array"
    assert endpoints["find_pets"]["list_field"] == "" and endpoints["find_pets"]["id_field"] == "id"
    assert endpoints["add_pet"]["body"] == {"name": "string", "tag": "string"}  # NewPet, from its schema
    assert all(ep["auth"] is False for ep in endpoints.values())  # the document declares no security
    assert data["auth"] == {"style": "none"}
    assert data["accounts"] == {"source": "file", "file": "accounts.csv"}
    assert data["journeys"] == {"browse": {"steps": [{"route": "find_pets", "think": "1s"}]}}
    assert '# { route = "find_pet_by_id", think = "1s" },  # review: needs {pet_id}' in text
    assert '# host = "https://petstore.swagger.io"' in text and "host =" not in text.replace("# host =", "")
    assert text.startswith("# Drafted by `harness init --openapi petstore-expanded.yaml`")


def test_the_tictactoe_draft_reads_openapi_3_1_json_and_its_security_schemes() -> None:
    text, data = drafted(TICTACTOE)
    endpoints = data["endpoints"]
    assert {n: (ep["path"], ep["kind"]) for n, ep in endpoints.items()} == {
        "get_board": ("/board", "read"),  # answers an object holding a 3x3 array: not a list of items
        "get_square": ("/board/{row_id}/{column_id}", "read"),
        "put_square": ("/board/{row_id}/{column_id}", "write"),
    }
    assert endpoints["put_square"]["body"] == "."  # the `mark` schema's example
    # bearer (2 operations) is the scheme used most; with no login route, the token is a static one per account
    assert data["auth"] == {"style": "api_key", "key_in": "header", "header": "Authorization", "scheme": "Bearer"}
    assert "also declared: user2AppOauth, defaultApiKey, app2AppOauth, basicHttpAuthentication" in text
    assert all(ep.get("auth", True) for ep in endpoints.values())


def test_the_api_map_and_accounts_of_each_draft_pass_the_parser_on_main() -> None:
    """Until the auth styles and TOML journeys land (other helpers of issue 13), the parser on main
    knows neither `[auth] style` nor `[journeys.NAME] steps`; with those two tables swapped for what it
    knows, everything else a draft holds (paths, placeholders, bodies, kinds, accounts) must pass."""
    for path in (PETSTORE, TICTACTOE):
        _, data = drafted(path)
        data["auth"] = {}
        data["journeys"] = {"webhook": 1}
        data["endpoints"]["webhook"] = {"method": "POST", "path": "/hook", "kind": "webhook", "auth": False}
        scenario = parse_scenario(data, str(path))
        assert len(scenario.endpoints) == len(data["endpoints"])


def test_a_bearer_scheme_with_a_login_route_reads_the_token_where_the_login_answer_keeps_it(tmp_path: Path) -> None:
    token = {"type": "object", "properties": {"data": {"type": "object", "properties": {"jwt": {"type": "string"}}}}}
    paths = {
        "/auth/login": {
            "post": {
                "operationId": "login",
                "security": [],
                "requestBody": json_body(
                    {"type": "object", "properties": {"email": {"type": "string"}, "password": {"type": "string"}}}
                ),
                "responses": json_answer(token),
            }
        },
        "/profile": {"get": {"responses": json_answer({"type": "object"})}},
        "/status": {"get": {"security": [], "responses": OK}},  # public, though the document's default is not
    }
    schemes = {"securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}
    text, data = drafted(write_spec(tmp_path, paths, components=schemes, security=[{"jwt": []}]))
    assert data["auth"] == {
        "style": "bearer",
        "token_from": "body",
        "token_field": "data.jwt",
        "header": "Authorization",
        "scheme": "Bearer",
    }
    assert "the login route login" in review_of(text, "style =")
    login = data["endpoints"]["login"]
    assert login["kind"] == "login" and login["auth"] is False
    assert login["body"] == {"email": "{email}", "password": "{password}"}
    assert data["endpoints"]["get_profile"].get("auth", True) is True
    assert data["endpoints"]["get_status"]["auth"] is False


@pytest.mark.parametrize(
    ("scheme", "auth"),
    [
        (
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {"style": "api_key", "key_in": "header", "header": "X-API-Key", "scheme": ""},
        ),
        (
            {"type": "apiKey", "in": "query", "name": "api_key"},
            {"style": "api_key", "key_in": "query", "query_param": "api_key"},
        ),
        ({"type": "apiKey", "in": "cookie", "name": "sid"}, {"style": "cookie", "session_cookie": "sid"}),
        ({"type": "http", "scheme": "basic"}, {"style": "none"}),
        (
            {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "https://a.example/auth", "scopes": {}}}},
            {"style": "none"},
        ),
        ({"type": "openIdConnect", "openIdConnectUrl": "https://a.example/.well-known"}, {"style": "none"}),
    ],
)
def test_each_security_scheme_gives_its_auth_style(
    tmp_path: Path, scheme: dict[str, Any], auth: dict[str, Any]
) -> None:
    paths = {"/things": {"get": {"responses": OK}}}
    text, data = drafted(
        write_spec(tmp_path, paths, components={"securitySchemes": {"s": scheme}}, security=[{"s": []}])
    )
    assert data["auth"] == auth
    if auth["style"] == "none":  # why the scheme could not be driven, for the person who reads the draft
        assert "# review: scheme 's'" in text
    if auth["style"] == "api_key":
        assert "api_key column" in text


@pytest.mark.parametrize(("flow", "grant"), [("clientCredentials", "client_credentials"), ("password", "password")])
def test_an_oauth2_scheme_gives_its_grant_the_token_path_and_scopes(tmp_path: Path, flow: str, grant: str) -> None:
    flows = {
        flow: {"tokenUrl": "https://auth.example.com/oauth/token", "scopes": {"read": "r", "write": "w"}},
        "authorizationCode": {"authorizationUrl": "https://auth.example.com/a", "tokenUrl": "/t", "scopes": {}},
    }
    paths = {
        "/a": {"get": {"responses": OK, "security": [{"cc": ["read"]}]}},
        "/b": {"post": {"responses": OK, "security": [{"cc": ["write", "read"]}]}},
    }
    components = {"securitySchemes": {"cc": {"type": "oauth2", "flows": flows}}}
    text, data = drafted(
        write_spec(tmp_path, paths, components=components, servers=[{"url": "https://api.example.com"}])
    )
    assert data["auth"] == {
        "style": "oauth2",
        "oauth2": {
            "grant": grant,
            "token_path": "/oauth/token",
            "client_id_env": "HARNESS_OAUTH_CLIENT_ID",
            "client_secret_env": "HARNESS_OAUTH_CLIENT_SECRET",
            "scope": "read write",
        },
    }
    assert "the token URL is on auth.example.com" in text
    assert "set HARNESS_OAUTH_CLIENT_ID and HARNESS_OAUTH_CLIENT_SECRET" in text


def test_a_chat_route_that_declares_event_streams_streams_with_the_chat_history(tmp_path: Path) -> None:
    request = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "example": "gpt-4o-mini"},
            "messages": {"type": "array", "items": {"type": "object"}},
            "stream": {"type": "boolean"},
            "temperature": {"type": "number", "minimum": 0},
        },
    }
    answer = {
        "200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"type": "object"}}, "text/event-stream": {}},
        }
    }
    paths = {
        "/v1/chat/completions": {
            "post": {"operationId": "createChatCompletion", "requestBody": json_body(request), "responses": answer}
        }
    }
    text, data = drafted(write_spec(tmp_path, paths))
    chat = data["endpoints"]["create_chat_completion"]
    assert chat["kind"] == "chat" and chat["stream"] == "sse-openai"
    assert chat["body"] == {"model": "gpt-4o-mini", "messages": "{messages}", "stream": True, "temperature": 0}
    assert "text/event-stream" in review_of(text, "stream =")
    # an LLM call spends tokens: in the journey, but only for a person to enable
    assert '# { route = "create_chat_completion", think = "1s" },  # review: an LLM call' in text


def test_parameters_bodies_and_what_the_harness_cannot_send_are_marked(tmp_path: Path) -> None:
    paths = {
        "/search": {
            "get": {
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": "{email} x",
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "responses": json_answer(
                    {
                        "type": "object",
                        "properties": {
                            "results": {
                                "type": "array",
                                "items": {"type": "object", "properties": {"uuid": {"type": "string"}}},
                            }
                        },
                    }
                ),
            }
        },
        "/upload": {
            "post": {
                "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
                "responses": OK,
            }
        },
        "/notes": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"text": {"type": "string"}}},
                            "example": {"text": "hello {password}", "client_secret": "abc"},
                        }
                    }
                },
                "responses": OK,
            }
        },
    }
    text, data = drafted(write_spec(tmp_path, paths))
    search = data["endpoints"]["get_search"]
    # the example's braces are made inert: a document's text never asks the harness for an account's e-mail
    assert search["path"] == "/search?q=%28email%29%20x"
    assert search["kind"] == "list" and search["list_field"] == "results" and search["id_field"] == "uuid"
    assert "header parameter 'X-Tenant'" in text
    assert "body" not in data["endpoints"]["post_upload"]
    assert "takes multipart/form-data, not JSON" in text
    assert data["endpoints"]["post_notes"]["body"] == {"text": "hello (password)", "client_secret": "REDACTED"}
    assert "body.client_secret is a secret" in text


def test_a_recursive_schema_ends_and_references_across_files_are_followed(tmp_path: Path) -> None:
    (tmp_path / "schemas.yaml").write_text(
        yaml.safe_dump(
            {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {"type": "array", "items": {"$ref": "#/Node"}},
                    },
                }
            }
        )
    )
    paths = {"/nodes": {"post": {"requestBody": json_body({"$ref": "schemas.yaml#/Node"}), "responses": OK}}}
    _, data = drafted(write_spec(tmp_path, paths))
    body = data["endpoints"]["post_nodes"]["body"]
    depth = 0
    while body.get("children"):
        body, depth = body["children"][0], depth + 1
    assert 2 <= depth <= 6


def test_yaml_integer_keys_dates_and_webhooks(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        """openapi: 3.1.0
info: {title: Dated, version: 2024-05-01}
paths:
  /items:
    get:
      responses:
        200:
          description: ok
webhooks:
  newItem:
    post:
      responses:
        200: {description: ok}
"""
    )
    text, data = drafted(tmp_path / "spec.yaml")
    assert data["scenario"]["description"] == "Dated 2024-05-01 (OpenAPI 3.1.0)"
    assert "the document's webhooks (newItem): calls the API makes" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        (b"{not json", "not valid JSON: line 1 column 2"),
        (b"a: [unclosed", "not valid JSON or YAML: line"),
        (b"- just\n- a list\n", "not an OpenAPI document: expected a mapping"),
        (b'{"swagger": "2.0", "info": {}}', "a Swagger 2.0 document, not OpenAPI 3: convert it"),
        (b'{"openapi": "4.0.0"}', "not an OpenAPI 3 document"),
        (b"title: no version\n", "not an OpenAPI 3 document"),
        (
            b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}',
            "not a valid OpenAPI 3.0.3 document: top level: 'paths'",
        ),
        (
            b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {}}}}',
            "not a valid OpenAPI 3.0.3 document: paths./a.get: 'responses' is a required property",
        ),
        (
            b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"responses": '
            b'{"200": {"description": "x", "content": {"application/json": {"schema": {"type": "objekt"}}}}}}}}}',
            "paths./a.get.responses.200.content.application/json.schema.type: 'objekt' is not one of",
        ),
        (
            b'{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"responses": '
            b'{"200": {"description": "x", "content": {"application/json": {"schema": '
            b'{"$ref": "#/components/schemas/Nope"}}}}}}}}}',
            "$ref /components/schemas/Nope: points to nothing in the document",
        ),
        (
            b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}',
            "no operation under `paths`: nothing to draft",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(UsageError) as err:
        draft_from_openapi(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_reference_to_a_url_is_refused_without_fetching_it(tmp_path: Path) -> None:
    with socket.socket() as listener:  # a real listener: a fetch would connect to it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/schema.json#/X"
        paths = {"/a": {"post": {"requestBody": json_body({"$ref": url}), "responses": OK}}}
        path = write_spec(tmp_path, paths)
        with pytest.raises(UsageError) as err:
            draft_from_openapi(path)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert str(err.value).startswith(f"{path}: cannot follow $ref http://127.0.0.1:")
    assert "never to a URL" in str(err.value) and "\n" not in str(err.value)


def test_a_reference_outside_the_documents_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "private.yaml").write_text("Secret: {type: object, properties: {key: {example: hunter2}}}\n")
    folder = tmp_path / "spec"
    folder.mkdir()
    paths = {"/a": {"post": {"requestBody": json_body({"$ref": "../private.yaml#/Secret"}), "responses": OK}}}
    with pytest.raises(UsageError) as err:
        draft_from_openapi(write_spec(folder, paths))
    assert "cannot follow $ref ../private.yaml#/Secret" in str(err.value)
