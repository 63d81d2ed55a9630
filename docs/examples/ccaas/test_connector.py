"""An example suite a contact-center team could copy (docs/testing.md): the connector's code
against switchboard, each test from a known world, every call verified in the journal, and the
platform failing on purpose to prove the retries."""

import pytest
import requests

from connector import PlatformClient

CHAT = "c4a7e2f0b1d24c3e9f8a7b6c5d4e3f21"  # world.yaml's connector
QUEUE = "9b3d5f7a1c2e4d6f8a0b2c4d6e8f0a12"  # and queue
INTERACTIONS = "/api/now/interaction"


@pytest.fixture
def connector(switchboard):
    """The code under test, pointed at switchboard as the integration user of world.yaml."""
    return PlatformClient(switchboard.base_url, "ccaas.integration", "integration-secret")


def interactions(switchboard):
    """The interactions as the platform holds them (Table API, as admin)."""
    response = requests.get(
        switchboard.url("/api/now/table/interaction?sysparm_fields=number,state,active"),
        auth=("admin", "admin"),
        headers={"Accept": "application/json"},
    )
    response.raise_for_status()
    return response.json()["result"]


def test_a_chat_opens_one_interaction_in_its_queue(switchboard, connector):
    opened = connector.open_chat(CHAT, QUEUE, customer="Ada")
    assert opened["state"] == "queued"
    assert opened["context"] == {"customer": "Ada"}
    # Exactly one create went to the platform, made by the integration user, and it worked.
    switchboard.verify(method="POST", path=INTERACTIONS, user="ccaas.integration", status=201, count=1)
    assert [i["number"] for i in interactions(switchboard)] == [opened["number"]]


def test_every_test_starts_from_the_fixture(switchboard):
    # The journal starts empty, and the previous test's interaction is gone: the `switchboard`
    # fixture reset the world.
    assert switchboard.count() == 0
    assert interactions(switchboard) == []


def test_closing_a_chat_closes_its_interaction(switchboard, connector):
    opened = connector.open_chat(CHAT, QUEUE, customer="Grace")
    closed = connector.close_chat(opened["sys_id"])
    assert closed["state"] == "closed_complete"
    switchboard.verify(method="POST", path=f"{INTERACTIONS}/*/close", count=1)


def test_a_503_is_retried_after_the_retry_after(switchboard, connector):
    # The platform is unavailable once: the connector must wait and send the create again.
    switchboard.add_fault(api="interaction", method="POST", status=503, retry_after=1, times=1)
    opened = connector.open_chat(CHAT, QUEUE, customer="Alan")
    assert opened["number"]
    refused, created = switchboard.requests(method="POST", path=INTERACTIONS)
    assert (refused["status"], created["status"]) == (503, 201)
    assert refused["fault"], "the journal marks the injected fault"
    assert len(interactions(switchboard)) == 1


def test_a_rate_limit_is_retried(switchboard, connector):
    switchboard.add_fault(api="interaction", method="POST", status=429, retry_after=1, times=2)
    connector.open_chat(CHAT, QUEUE, customer="Barbara")
    switchboard.verify(method="POST", path=INTERACTIONS, status=429, count=2)
    switchboard.verify(method="POST", path=INTERACTIONS, status=201, count=1)


def test_a_slow_platform_is_retried_after_the_timeout(switchboard):
    # The first create answers after 3 s; the connector gives up after 1 s and sends it again.
    switchboard.add_fault(api="interaction", method="POST", latency_ms=3000, times=1)
    impatient = PlatformClient(switchboard.base_url, "ccaas.integration", "integration-secret", timeout=1.0)
    opened = impatient.open_chat(CHAT, QUEUE, customer="Edsger")
    assert opened["number"]
    # The journal holds both: the first, unanswered (the connector left; its fault named), and
    # the retry. Its entry appears once the server notices the closed connection.
    gave_up, created = switchboard.requests(method="POST", path=INTERACTIONS)
    assert gave_up["status"] is None and "delay" in gave_up["fault"]
    assert created["status"] == 201
    # Left unanswered, the first create made nothing: one interaction.
    assert len(interactions(switchboard)) == 1


def test_a_platform_that_stays_down_is_reported(switchboard, connector):
    # A rule without `times` stays until it is removed: here, at the end of the block.
    with switchboard.fault(api="interaction", method="POST", status=503):
        with pytest.raises(requests.exceptions.RetryError):
            connector.open_chat(CHAT, QUEUE, customer="Tony")
    # One try and three retries, then the connector gave up.
    switchboard.verify(method="POST", path=INTERACTIONS, status=503, count=4)


@pytest.fixture(scope="module")
def busy_queue(switchboard_server):
    """A world prepared once for several tests (three chats waiting), saved as a snapshot. It is
    made before the test's own `switchboard` fixture runs, so it clears what came before."""
    switchboard_server.reset()
    switchboard_server.clear_faults()
    client = PlatformClient(switchboard_server.base_url, "ccaas.integration", "integration-secret")
    for customer in ("Ada", "Alan", "Grace"):
        client.open_chat(CHAT, QUEUE, customer=customer)
    switchboard_server.save_snapshot("busy-queue")
    yield "busy-queue"
    switchboard_server.delete_snapshot("busy-queue")


def test_a_snapshot_starts_a_test_from_a_prepared_world(switchboard, busy_queue, connector):
    switchboard.restore_snapshot(busy_queue)
    assert len(interactions(switchboard)) == 3
    opened = connector.open_chat(CHAT, QUEUE, customer="Linus")
    # Numbers continue from the snapshot's: the fourth chat of the world.
    numbers = sorted(i["number"] for i in interactions(switchboard))
    assert numbers[-1] == opened["number"] and len(numbers) == 4


def test_the_same_snapshot_again_knows_nothing_of_the_last_test(switchboard, busy_queue):
    switchboard.restore_snapshot(busy_queue)
    assert len(interactions(switchboard)) == 3
