"""What the client raises."""

from __future__ import annotations

from typing import Any


class SwitchboardError(Exception):
    """switchboard refused a control-plane request: its status and the platform's error envelope
    (`{"error": {"message", "detail"}, "status": "failure"}`)."""

    def __init__(self, status: int, message: str, detail: str | None, body: Any = None):
        self.status = status
        self.message = message
        self.detail = detail
        self.body = body
        super().__init__(f"{status} {message}" + (f": {detail}" if detail else ""))


class VerificationError(AssertionError):
    """The journal did not hold the requests a test expected (an `AssertionError`, so pytest
    shows it as a failed assertion). `detail` is switchboard's account: expected, found, and the
    requests that matched."""

    def __init__(self, detail: str, body: Any = None):
        self.detail = detail
        self.body = body
        super().__init__(detail)
