"""The client's own tests run against the real binary (SWITCHBOARD_BIN, default the checkout's
target/debug/switchboard), one server per test module."""

import os
import pathlib

import pytest

from switchboard_client import Switchboard

ROOT = pathlib.Path(__file__).resolve().parents[3]
os.environ.setdefault("SWITCHBOARD_BIN", str(ROOT / "target" / "debug" / "switchboard"))

WORLD = """
records:
  sys_user:
    - user_name: ana.agent
      user_password: ana-password
      first_name: Ana
      roles: [interaction_agent]
  interaction_connector:
    - name: Client chat
      type: chat
      third_party: true
  awa_queue:
    - name: Client queue
"""


@pytest.fixture(scope="module")
def world_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fixtures") / "world.yaml"
    path.write_text(WORLD)
    return path


@pytest.fixture(scope="module")
def sb(world_file):
    with Switchboard.start(fixtures=[world_file]) as server:
        yield server
