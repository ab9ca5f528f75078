"""The OpenAPI description: a valid OpenAPI 3.1 document that documents every API route."""

from __future__ import annotations

from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.definitions import OPENAPI_31

from engine.web.api import routes
from engine.web.openapi import openapi_document


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    errors = sorted(Draft202012Validator(OPENAPI_31).iter_errors(document), key=str)
    assert not errors, [error.message for error in errors]
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)


def test_every_api_route_is_documented() -> None:
    documented = {(path, method) for path, item in openapi_document()["paths"].items()
                  for method in item}
    served = {(route.path, method.lower()) for route in routes for method in route.methods
              if method != "HEAD" and route.path.startswith("/api/v1/")}
    assert served == documented


def test_every_reference_resolves() -> None:
    document = openapi_document()
    names = set(document["components"]["schemas"])

    def refs(value):  # type: ignore[no-untyped-def]
        if isinstance(value, dict):
            if "$ref" in value:
                yield value["$ref"].rsplit("/", 1)[-1]
            for item in value.values():
                yield from refs(item)
        elif isinstance(value, list):
            for item in value:
                yield from refs(item)

    assert set(refs(document)) <= names
