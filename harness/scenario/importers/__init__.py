"""Importers: a scenario drafted from what an API's owner already has, for a person to review.

`harness init --openapi SPEC` reads an OpenAPI 3 document (openapi.py), `harness init --har FILE` a
browser recording (har.py); both guess route kinds the same way (guess.py) and write the draft as
TOML text with its `# review:` comments (draft.py).
"""
