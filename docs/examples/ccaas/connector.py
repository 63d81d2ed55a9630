"""The code under test: a CCaaS connector's platform client, as a contact-center team writes it.

It opens an interaction when a chat arrives and closes it when the chat ends, through the
Interaction Management API, and survives a platform that is briefly unavailable, rate limits it,
or answers slowly: 429 and 503 are retried (honouring `Retry-After`), and so is a request that
timed out.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class PlatformClient:
    def __init__(self, base_url: str, user: str, password: str, *, timeout: float = 2.0, retries: int = 3):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # the platform is local in tests: no proxy
        self.session.auth = (user, password)
        self.session.headers["Accept"] = "application/json"
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            status_forcelist=(429, 503),
            allowed_methods=None,  # POSTs too: the platform refused them before doing anything
            respect_retry_after_header=True,
            backoff_factor=0.1,
            raise_on_status=True,
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def open_chat(self, channel: str, queue: str, customer: str) -> dict:
        """Opens an interaction for a chat that arrived; its record (number, sys_id...)."""
        response = self.session.post(
            f"{self.base_url}/api/now/interaction",
            json={"channel": channel, "queue": queue, "context": {"customer": customer}},
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()["result"]

    def close_chat(self, interaction_id: str) -> dict:
        response = self.session.post(
            f"{self.base_url}/api/now/interaction/{interaction_id}/close",
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()["result"]
