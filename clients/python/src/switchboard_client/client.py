"""The control plane of a switchboard server (everything under `/_switchboard/`), from Python."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pathlib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from . import server as _server
from .errors import SwitchboardError, VerificationError

Json = Any
"""A decoded JSON value."""

PREFIX = "/_switchboard"


class Switchboard:
    """A switchboard server: one this object started (`Switchboard.start`) or a running one
    (`Switchboard.attach`). Every method is a control-plane call as the admin (Basic, or the
    admin token when given); refusals raise `SwitchboardError`."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str = "admin",
        password: str = "admin",
        token: str | None = None,
        timeout: float = 30,
        process: _server.Process | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.password = password
        self.token = token
        self.timeout = timeout
        self._process = process

    # -- starting and stopping ------------------------------------------------------------

    @classmethod
    def start(
        cls,
        binary: str | os.PathLike[str] | None = None,
        *,
        database: str | None = None,
        fixtures: Sequence[str | os.PathLike[str]] = (),
        demo: bool = False,
        admin_password: str = "admin",
        admin_token: str | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        startup_timeout: float = 60,
    ) -> Switchboard:
        """Starts the binary (see `server.start`) and returns a client for it, ready: its
        database answers. Stop it with `stop()`, or use it as a context manager."""
        process = _server.start(
            binary,
            database=database,
            fixtures=fixtures,
            demo=demo,
            admin_password=admin_password,
            admin_token=admin_token,
            args=args,
            env=env,
            startup_timeout=startup_timeout,
        )
        client = cls(
            process.base_url,
            password="admin" if demo else admin_password,
            token=admin_token,
            process=process,
        )
        try:
            client.wait_ready(startup_timeout)
        except Exception:
            process.stop()
            raise
        return client

    @classmethod
    def attach(
        cls,
        base_url: str,
        *,
        user: str = "admin",
        password: str = "admin",
        token: str | None = None,
        timeout: float = 30,
    ) -> Switchboard:
        """A client for a server that is already running (it is left running)."""
        return cls(base_url, user=user, password=password, token=token, timeout=timeout)

    def stop(self) -> None:
        """Stops the server if this client started it."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    @property
    def log(self) -> list[str]:
        """What the server this client started has printed (stdout and stderr)."""
        return list(self._process.log) if self._process else []

    def __enter__(self) -> Switchboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self.base_url + path

    def wait_ready(self, timeout: float = 30) -> None:
        """Waits until `/_switchboard/health/ready` answers 200 (the database answers)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._call("GET", "/health/ready", auth=False)
                return
            except (SwitchboardError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    # -- the world --------------------------------------------------------------------------

    def load_fixture(self, fixture: str | os.PathLike[str], *, name: str | None = None) -> Json:
        """Loads a fixture file (a path) or fixture text (YAML or JSON); what the load did.
        A refused fixture raises `SwitchboardError` (400) whose detail names the line."""
        if isinstance(fixture, os.PathLike) or (
            isinstance(fixture, str) and "\n" not in fixture and pathlib.Path(fixture).is_file()
        ):
            path = pathlib.Path(fixture)
            text, name = path.read_text(encoding="utf-8"), name or path.name
        else:
            text = str(fixture)
        query = "?" + urllib.parse.urlencode({"name": name}) if name else ""
        return self._call(
            "POST",
            "/fixtures" + query,
            data=text.encode("utf-8"),
            content_type="application/yaml",
        )

    def reset(self) -> Json:
        """Puts the world back as the server started (its `--demo` and `--fixtures`)."""
        return self._call("POST", "/reset")

    def save_snapshot(self, name: str) -> Json:
        """Saves the world as `name` (replacing a snapshot of that name)."""
        return self._call("POST", "/snapshots", body={"name": name})

    def restore_snapshot(self, name: str) -> Json:
        """Puts the world back as snapshot `name` holds it."""
        return self._call("POST", f"/snapshots/{urllib.parse.quote(name, safe='')}/restore")

    def delete_snapshot(self, name: str) -> None:
        self._call("DELETE", f"/snapshots/{urllib.parse.quote(name, safe='')}")

    def snapshots(self) -> list[Json]:
        """Every saved snapshot (`name`, `created_on`, `records`), oldest first."""
        return self._call("GET", "/snapshots")

    # -- the request journal -----------------------------------------------------------------

    def requests(self, **filters: Any) -> list[Json]:
        """Journal entries matching `filters` (`method`, `path` glob, `status` or `"5xx"`,
        `user`, `api`, `kind`, `since`, `until`, `after_id`, `unmatched`, `limit`), oldest first."""
        return self._call("GET", "/journal" + _query(filters))

    def count(self, **filters: Any) -> int:
        """How many journal entries match `filters`."""
        return int(self._call("GET", "/journal/count" + _query(filters))["count"])

    def clear_journal(self) -> None:
        self._call("DELETE", "/journal")

    def verify(
        self,
        *,
        count: int | None = None,
        at_least: int | None = None,
        at_most: int | None = None,
        **filters: Any,
    ) -> int:
        """Checks, in one call, that the journal holds exactly `count` (or `at_least` /
        `at_most`) requests matching `filters`; raises `VerificationError` with switchboard's
        account otherwise. Returns how many matched."""
        if count is None and at_least is None and at_most is None:
            at_least = 1
        body = {k: v for k, v in filters.items() if v is not None}
        for key, value in (("count", count), ("at_least", at_least), ("at_most", at_most)):
            if value is not None:
                body[key] = value
        try:
            return int(self._call("POST", "/journal/verify", body=body)["count"])
        except SwitchboardError as refused:
            if refused.status == 409:
                raise VerificationError(refused.detail or refused.message, refused.body) from None
            raise

    # -- fault injection ---------------------------------------------------------------------

    def add_fault(self, **rule: Any) -> Json:
        """Adds a fault rule (`api`, `method`, `path`, `user`, `provider`, `latency_ms`,
        `status`, `retry_after`, `message`, `action`, `probability`, `times`); the rule, with
        its `id`."""
        return self._call("POST", "/faults", body={k: v for k, v in rule.items() if v is not None})

    def faults(self) -> list[Json]:
        return self._call("GET", "/faults")

    def remove_fault(self, rule_id: Any) -> None:
        self._call("DELETE", f"/faults/{urllib.parse.quote(str(rule_id), safe='')}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    @contextlib.contextmanager
    def fault(self, **rule: Any) -> Iterator[Json]:
        """A fault rule for the duration of a `with` block."""
        added = self.add_fault(**rule)
        try:
            yield added
        finally:
            with contextlib.suppress(SwitchboardError):
                self.remove_fault(added["id"])

    # -- the wire ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Json = None,
        data: bytes | None = None,
        content_type: str = "application/json",
        auth: bool = True,
    ) -> Json:
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url(PREFIX + path), data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if auth:
            request.add_header("Authorization", self._authorization())
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as refused:
            raw = refused.read()
            decoded = _decode(raw)
            error = decoded.get("error", {}) if isinstance(decoded, dict) else {}
            raise SwitchboardError(
                refused.code,
                error.get("message") or refused.reason,
                error.get("detail"),
                decoded,
            ) from None
        decoded = _decode(raw)
        return decoded.get("result") if isinstance(decoded, dict) else decoded

    def _authorization(self) -> str:
        if self.token:
            return f"Bearer {self.token}"
        pair = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


# switchboard is local: a proxy in the environment must not carry these requests.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _decode(raw: bytes) -> Json:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _query(filters: dict[str, Any]) -> str:
    pairs = {
        k: ("true" if v is True else "false" if v is False else v)
        for k, v in filters.items()
        if v is not None
    }
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""
