"""The outside of Tierline stays put: every route (path, methods, OpenAPI operation id,
permission, whether the OpenAPI document shows it) and every ``tierline`` command with its
options are compared with the recorded tables in ``interfaces/``.

A change of shape must leave both tables as they are. A deliberate change (a new page, a new
command) updates them: run the tests with ``RECORD_INTERFACES=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from litestar import Litestar

from tierline.platform.access import declared_permission

RECORDED = Path(__file__).parent / "interfaces"


def _compare(name: str, current: list[dict[str, Any]]) -> None:
    path = RECORDED / name
    if os.environ.get("RECORD_INTERFACES") == "1":
        path.write_text(json.dumps(current, indent=1) + "\n")
    assert current == json.loads(path.read_text())


def route_table(app: Litestar) -> list[dict[str, Any]]:
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            operation_id = getattr(handler, "operation_id", None)
            rows.append(
                {
                    "path": route.path,
                    "methods": sorted(getattr(handler, "http_methods", []) or []),
                    "operation_id": operation_id if isinstance(operation_id, str) else None,
                    "permission": declared_permission(handler),
                    "in_schema": bool(handler.resolve_include_in_schema()),
                }
            )
    return sorted(rows, key=lambda r: (r["path"], r["methods"]))


def command_table() -> list[dict[str, Any]]:
    from tierline.platform.cli import app

    rows: list[dict[str, Any]] = []

    def walk(command: Any, words: list[str]) -> None:
        ignored = ("install_completion", "show_completion")
        params = sorted(p.name for p in command.params if p.name not in ignored)
        if hasattr(command, "commands"):
            if params:
                rows.append({"command": " ".join(words), "params": params})
            for name, sub in sorted(command.commands.items()):
                walk(sub, [*words, name])
        else:
            rows.append({"command": " ".join(words), "params": params})

    walk(typer.main.get_command(app), [])
    return rows


def test_routes_are_the_recorded_ones(app: Litestar) -> None:
    _compare("routes.json", route_table(app))


def test_the_openapi_document_names_the_recorded_operations(app: Litestar) -> None:
    documented = {
        operation["operationId"]
        for path, item in app.openapi_schema.to_schema()["paths"].items()
        if not path.startswith("/schema")  # the document's own routes, named by Litestar
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    recorded = {
        r["operation_id"]
        for r in json.loads((RECORDED / "routes.json").read_text())
        if r["in_schema"] and r["operation_id"]
    }
    assert documented == recorded


def test_commands_are_the_recorded_ones() -> None:
    _compare("cli.json", command_table())
