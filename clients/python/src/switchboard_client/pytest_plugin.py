"""pytest fixtures for switchboard, registered when the package is installed.

- `switchboard_server` (session): one server for the whole run. It attaches to `SWITCHBOARD_URL`
  when that is set (credentials from `SWITCHBOARD_ADMIN_USER` / `SWITCHBOARD_ADMIN_PASSWORD`, or
  `SWITCHBOARD_ADMIN_TOKEN`); otherwise it starts the binary (`SWITCHBOARD_BIN`, or
  `switchboard` on PATH) with the `switchboard_options` fixture's arguments.
- `switchboard` (each test): the same server, its world reset to how it started, its journal
  cleared and its fault rules removed, so that no test sees another's traces.
- `switchboard_options` (session): the arguments of `Switchboard.start`; by default from the
  ini options `switchboard_fixtures` (paths, relative to the ini file), `switchboard_demo` and
  `switchboard_args`. Override it in a conftest.py for anything else.
"""

from __future__ import annotations

import os
import pathlib
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from .client import Switchboard


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("switchboard_fixtures", "fixture files switchboard starts with", type="paths", default=[])
    parser.addini("switchboard_demo", "start switchboard with its demo data set", type="bool", default=False)
    parser.addini("switchboard_args", "more arguments of `switchboard serve`", default="")


@pytest.fixture(scope="session")
def switchboard_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    fixtures = [pathlib.Path(p) for p in pytestconfig.getini("switchboard_fixtures")]
    return {
        "fixtures": fixtures,
        "demo": bool(pytestconfig.getini("switchboard_demo")),
        "args": shlex.split(pytestconfig.getini("switchboard_args") or ""),
    }


@pytest.fixture(scope="session")
def switchboard_server(switchboard_options: dict[str, Any]) -> Iterator[Switchboard]:
    url = os.environ.get("SWITCHBOARD_URL")
    if url:
        yield Switchboard.attach(
            url,
            user=os.environ.get("SWITCHBOARD_ADMIN_USER", "admin"),
            password=os.environ.get("SWITCHBOARD_ADMIN_PASSWORD", "admin"),
            token=os.environ.get("SWITCHBOARD_ADMIN_TOKEN"),
        )
        return
    server = Switchboard.start(**switchboard_options)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def switchboard(switchboard_server: Switchboard) -> Switchboard:
    switchboard_server.reset()
    switchboard_server.clear_faults()
    switchboard_server.clear_journal()
    return switchboard_server
