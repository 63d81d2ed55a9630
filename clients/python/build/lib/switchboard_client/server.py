"""Starting the switchboard binary as a subprocess on a free port."""

from __future__ import annotations

import os
import pathlib
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field


def find_binary(binary: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """The switchboard executable: `binary`, else `SWITCHBOARD_BIN`, else `switchboard` on PATH."""
    named = binary or os.environ.get("SWITCHBOARD_BIN") or shutil.which("switchboard")
    if not named:
        raise FileNotFoundError(
            "no switchboard binary: pass binary=, set SWITCHBOARD_BIN, or put switchboard on PATH "
            "(cargo build --release puts it in target/release/)"
        )
    path = pathlib.Path(named)
    if not path.is_file():
        raise FileNotFoundError(f"no switchboard binary at {path}")
    return path


@dataclass
class Process:
    """A running `switchboard serve`: its base URL, process, and what it logged."""

    base_url: str
    process: subprocess.Popen[bytes]
    directory: tempfile.TemporaryDirectory[str] | None
    log: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (requests in flight finish), then SIGKILL if it takes longer than `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.directory is not None:
            self.directory.cleanup()
            self.directory = None


def start(
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
) -> Process:
    """Starts `switchboard serve` on 127.0.0.1 and a free port and waits until it listens.

    Without `database`, the server gets a SQLite database in a temporary directory, removed when
    it stops. `SWITCHBOARD_*` variables of the caller's environment are not passed on: the
    arguments decide everything.
    """
    directory = None
    if database is None:
        directory = tempfile.TemporaryDirectory(prefix="switchboard-")
        database = f"sqlite://{directory.name}/switchboard.db"
    command = [str(find_binary(binary)), "serve", "--listen", "127.0.0.1:0", "--database", database]
    if demo:
        command.append("--demo")
    for fixture in fixtures:
        command += ["--fixtures", str(fixture)]
    command += list(args)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    environment["SWITCHBOARD_ADMIN_PASSWORD"] = admin_password
    if admin_token is not None:
        environment["SWITCHBOARD_ADMIN_TOKEN"] = admin_token
    environment.update(env or {})
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    log: list[str] = []
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream, keep: bool) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            log.append(line)
            if keep:
                lines.put(line)
        if keep:
            lines.put(None)

    threading.Thread(target=read, args=(process.stdout, True), daemon=True).start()
    threading.Thread(target=read, args=(process.stderr, False), daemon=True).start()
    try:
        first = lines.get(timeout=startup_timeout)
    except queue.Empty:
        first = None
    if first is None or not first.startswith("listening on "):
        process.kill()
        process.wait()
        if directory is not None:
            directory.cleanup()
        raise RuntimeError(
            "switchboard did not start: " + "\n".join(log[-20:] or ["(no output)"])
        )
    return Process(first.removeprefix("listening on ").strip(), process, directory, log)
