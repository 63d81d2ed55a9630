"""Drive a switchboard server from a test suite.

>>> from switchboard_client import Switchboard
>>> with Switchboard.start(fixtures=["world.yaml"]) as sb:      # doctest: +SKIP
...     sb.reset()
...     sb.verify(method="POST", path="/api/now/interaction", count=1)

See the package's README.md and switchboard's docs/control-plane.md.
"""

from .client import Switchboard
from .errors import SwitchboardError, VerificationError
from .server import find_binary

__all__ = ["Switchboard", "SwitchboardError", "VerificationError", "find_binary"]
