"""switchboard_client against the real binary: every control-plane call it makes."""

import base64
import json
import time
import urllib.error
import urllib.request

import pytest

from switchboard_client import Switchboard, SwitchboardError, VerificationError


def call(sb, method, path, body=None, user=("admin", "admin"), headers=None):
    """A platform API call, as the code under test would make it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sb.url(path), data=data, method=method)
    request.add_header("Accept", "application/json")
    request.add_header("Content-Type", "application/json")
    pair = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {pair}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


def queues(sb):
    status, _, body = call(sb, "GET", "/api/now/table/awa_queue?sysparm_fields=name&sysparm_query=ORDERBYname")
    assert status == 200, body
    return [q["name"] for q in body["result"]]


def test_start_gives_a_ready_server_with_the_fixtures(sb):
    status, _, body = call(sb, "GET", "/api/now/table/sys_user?user_name=ana.agent", user=("ana.agent", "ana-password"))
    assert status == 200, body
    assert queues(sb) == ["Client queue"]


def test_attach_uses_a_running_server(sb):
    other = Switchboard.attach(sb.base_url)
    assert other.snapshots() == sb.snapshots()
    other.stop()  # attached: stopping leaves the server running
    assert call(sb, "GET", "/_switchboard/health")[0] == 200


def test_load_fixture_from_text_and_path_and_a_refusal_names_the_line(sb, tmp_path):
    sb.reset()
    loaded = sb.load_fixture("records:\n  awa_queue:\n    - name: From text\n")
    assert loaded["created"] == 1
    path = tmp_path / "more.yaml"
    path.write_text("records:\n  awa_queue:\n    - name: From a file\n")
    assert sb.load_fixture(path)["created"] == 1
    assert queues(sb) == ["Client queue", "From a file", "From text"]
    with pytest.raises(SwitchboardError) as refused:
        sb.load_fixture("records:\n  awa_queue:\n    - name: x\n      colour: red\n", name="bad.yaml")
    assert refused.value.status == 400
    assert refused.value.detail.startswith("bad.yaml:4: "), refused.value.detail


def test_reset_and_snapshots(sb):
    sb.reset()
    call(sb, "POST", "/api/now/table/awa_queue", {"name": "Before"})
    sb.save_snapshot("client-test")
    call(sb, "POST", "/api/now/table/awa_queue", {"name": "After"})
    assert queues(sb) == ["After", "Before", "Client queue"]
    sb.restore_snapshot("client-test")
    assert queues(sb) == ["Before", "Client queue"]
    assert "client-test" in [s["name"] for s in sb.snapshots()]
    sb.reset()
    assert queues(sb) == ["Client queue"]
    sb.delete_snapshot("client-test")
    with pytest.raises(SwitchboardError) as refused:
        sb.restore_snapshot("client-test")
    assert refused.value.status == 404


def test_the_journal_lists_counts_and_verifies(sb):
    sb.clear_journal()
    call(sb, "POST", "/api/now/table/awa_queue", {"name": "Journaled"})
    call(sb, "GET", "/api/now/table/no_such_table")
    entries = sb.requests(method="POST", path="/api/now/table/*")
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/api/now/table/awa_queue", 201)
    ]
    assert entries[0]["user"] == "admin"
    assert sb.count(status="4xx") >= 1
    assert sb.verify(method="POST", path="/api/now/table/awa_queue", count=1) == 1
    with pytest.raises(VerificationError) as failed:
        sb.verify(method="POST", path="/api/now/table/awa_queue", count=2)
    assert "2" in str(failed.value)
    sb.clear_journal()
    assert sb.count() == 0


def test_faults_refuse_slow_down_and_are_removed(sb):
    sb.clear_faults()
    with sb.fault(api="table", method="GET", path="/api/now/table/awa_queue", status=503, retry_after=1, times=1) as rule:
        assert rule["id"]
        status, headers, body = call(sb, "GET", "/api/now/table/awa_queue")
        assert status == 503, body
        assert body["status"] == "failure"
        assert headers.get("Retry-After") == "1"
        # Spent after one: the next is answered.
        assert call(sb, "GET", "/api/now/table/awa_queue")[0] == 200
    assert sb.faults() == []
    sb.add_fault(api="table", path="/api/now/table/awa_queue", latency_ms=300, times=1)
    started = time.monotonic()
    assert call(sb, "GET", "/api/now/table/awa_queue")[0] == 200
    assert time.monotonic() - started >= 0.3
    sb.clear_faults()
    assert sb.faults() == []
