"""pysnc, ServiceNow's own Python client, against switchboard, used as its documentation shows.

pysnc takes an instance name or an https:// URL and refuses http:// ("Must provide https:// url
not http://"), so these tests run against a second switchboard serving TLS with a self-signed
certificate (`tls_server`). The client trusts it with `verify=<certificate>` and with
REQUESTS_CA_BUNDLE pointing at the same file: requests lets that variable (often set machine-wide)
override a session's `verify`, and pysnc's client-credentials flow fetches its token with a bare
`requests.post` that only the variable reaches.

Which requests pysnc sent is read from the `requests` session it exposes (`client.session`),
through requests' own response hooks.
"""

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pysnc
import pytest
from oauthlib.oauth2.rfc6749.errors import ServerError
from pysnc.auth import ServiceNowClientCredentialsFlow, ServiceNowPasswordGrantFlow
from pysnc.exceptions import AuthenticationException, RoleException

from conftest import ADMIN, ADMIN_SYS_ID, unique



@pytest.fixture
def trusted(tls_server, monkeypatch):
    """The test certificate's path, trusted by requests for this test (see the module doc)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.ca))
    return str(tls_server.ca)


def connect(tls_server, trusted, auth):
    return pysnc.ServiceNowClient(tls_server.base_url, auth, verify=trusted)


@pytest.fixture
def client(tls_server, trusted):
    c = connect(tls_server, trusted, ADMIN)
    yield c
    c.session.close()


def sent(client):
    """A list that fills with (method, path, query parameters) of every request `client` sends."""
    seen = []

    def hook(response, *args, **kwargs):
        url = urlsplit(response.request.url)
        seen.append((response.request.method, url.path, parse_qs(url.query)))

    client.session.hooks["response"].append(hook)
    return seen


def queues(admin, prefix, count):
    """`count` fresh awa_queue records named prefix0, prefix1, ...; returns their sys_ids."""
    return [admin.insert("awa_queue", name=f"{prefix}{i}", active=True)["sys_id"] for i in range(count)]


def names(gr, field="name"):
    return [record.get_value(field) for record in gr]


# -- Queries -------------------------------------------------------------------------------------


def test_query_pages_through_every_record(client, tls_admin):
    prefix = unique("page")
    queues(tls_admin, prefix, 7)
    requests_sent = sent(client)

    gr = client.GlideRecord("awa_queue", batch_size=3)
    gr.add_query("name", "STARTSWITH", prefix)
    gr.order_by_desc("name")
    gr.query()

    assert gr.get_row_count() == 7  # X-Total-Count
    assert names(gr) == [f"{prefix}{i}" for i in reversed(range(7))]
    # one GET per page of 3, at offsets 0, 3 and 6
    assert [(method, path) for method, path, _ in requests_sent] == [
        ("GET", "/api/now/table/awa_queue")
    ] * 3
    assert [params["sysparm_offset"] for _, _, params in requests_sent] == [["0"], ["3"], ["6"]]
    assert {params["sysparm_limit"][0] for _, _, params in requests_sent} == {"3"}
    # iterating again rewinds, without asking the server again
    assert len(names(gr)) == 7
    assert len(requests_sent) == 3


def test_limit_stops_paging(client, tls_admin):
    prefix = unique("limit")
    queues(tls_admin, prefix, 7)

    gr = client.GlideRecord("awa_queue", batch_size=3)
    gr.add_query("name", "STARTSWITH", prefix)
    gr.order_by("name")
    gr.limit = 4
    gr.query()

    assert names(gr) == [f"{prefix}{i}" for i in range(4)]
    assert gr.get_row_count() == 7


def test_add_query_operators_and_encoded_query(client, tls_admin):
    prefix = unique("ops")
    tls_admin.insert("sys_user", user_name=prefix + "1", first_name="Ada", email="ada@example.com")
    tls_admin.insert("sys_user", user_name=prefix + "2", first_name="Bob", email="")
    tls_admin.insert("sys_user", user_name=prefix + "3", first_name="Cy", email="cy@example.org")
    tls_admin.insert("sys_user", user_name=prefix + "4", first_name="Di", active=False)

    def matching(build):
        gr = client.GlideRecord("sys_user")
        gr.add_query("user_name", "STARTSWITH", prefix)
        build(gr)
        gr.order_by("user_name")
        gr.query()
        return [name[len(prefix):] for name in names(gr, "user_name")]

    assert matching(lambda gr: None) == ["1", "2", "3", "4"]
    assert matching(lambda gr: gr.add_active_query()) == ["1", "2", "3"]
    assert matching(lambda gr: gr.add_query("first_name", "Bob")) == ["2"]
    assert matching(lambda gr: gr.add_query("first_name", "!=", "Bob")) == ["1", "3", "4"]
    assert matching(lambda gr: gr.add_query("first_name", "IN", "Ada,Cy")) == ["1", "3"]
    assert matching(lambda gr: gr.add_query("first_name", "NOT IN", "Ada,Cy")) == ["2", "4"]
    assert matching(lambda gr: gr.add_query("email", "ENDSWITH", ".org")) == ["3"]
    assert matching(lambda gr: gr.add_query("email", "LIKE", "example")) == ["1", "3"]
    assert matching(lambda gr: gr.add_query("email", "NOT LIKE", ".com")) == ["2", "3", "4"]
    assert matching(lambda gr: gr.add_query("first_name", ">=", "Bz")) == ["3", "4"]
    assert matching(lambda gr: gr.add_null_query("email")) == ["2", "4"]
    assert matching(lambda gr: gr.add_not_null_query("email")) == ["1", "3"]
    # an OR condition joins the condition it hangs on: first_name=Ada OR first_name=Cy
    assert matching(
        lambda gr: gr.add_query("first_name", "Ada").add_or_condition("first_name", "Cy")
    ) == ["1", "3"]
    # an encoded query comes after the add_query conditions
    assert matching(lambda gr: gr.add_encoded_query("active=true^first_name!=Ada")) == ["2", "3"]


def test_order_by(client, tls_admin):
    prefix = unique("order")
    for suffix, first in (("a", "Cal"), ("b", "Ann"), ("c", "Bea")):
        tls_admin.insert("sys_user", user_name=prefix + suffix, first_name=first)

    def ordered(order):
        gr = client.GlideRecord("sys_user")
        gr.add_query("user_name", "STARTSWITH", prefix)
        order(gr)
        gr.query()
        return names(gr, "first_name")

    assert ordered(lambda gr: gr.order_by("first_name")) == ["Ann", "Bea", "Cal"]
    assert ordered(lambda gr: gr.order_by_desc("first_name")) == ["Cal", "Bea", "Ann"]
    assert ordered(lambda gr: gr.order_by_desc("user_name")) == ["Bea", "Ann", "Cal"]
    # without an order pysnc sends ORDERBYsys_id, so that pages never overlap
    gr = client.GlideRecord("sys_user")
    gr.add_query("user_name", "STARTSWITH", prefix)
    gr.query()
    sys_ids = names(gr, "sys_id")
    assert sys_ids == sorted(sys_ids) and len(sys_ids) == 3


def test_get_by_sys_id_and_by_field(client):
    gr = client.GlideRecord("sys_user")
    assert gr.get(ADMIN_SYS_ID) is True
    assert gr.user_name == "admin"
    assert gr.get_value("name") == "System Administrator"
    assert gr.active.get_value() == "true"
    assert "user_password" not in gr

    by_field = client.GlideRecord("sys_user")
    assert by_field.get("user_name", "admin") is True
    assert by_field.sys_id == ADMIN_SYS_ID

    assert client.GlideRecord("sys_user").get("0" * 32) is False
    assert client.GlideRecord("sys_user").get("user_name", unique("nobody")) is False


def test_fields_display_values_and_links(client, tls_server, tls_admin):
    user = tls_admin.user("interaction_agent", prefix="refs")

    gr = client.GlideRecord("sys_user_has_role")
    gr.fields = "user,role"
    gr.add_query("user", user.sys_id)
    gr.query()
    assert gr.next()

    # pysnc asks for display_value=all: value and display value of every field
    assert sorted(gr.fields) == ["role", "sys_id", "user"]
    assert gr.get_value("user") == user.sys_id
    assert gr.get_display_value("user") == f"Test {user.user_name}"
    assert gr.role.get_display_value() == "interaction_agent"
    assert gr.user.get_link() is None  # pysnc excludes reference links by default

    linked = client.GlideRecord("sys_user_has_role")
    linked.exclude_reference_link = False
    linked.add_query("user", user.sys_id)
    linked.query()
    assert linked.next()
    assert linked.user.get_link() == f"{tls_server.base_url}/api/now/table/sys_user/{user.sys_id}"

    values_only = client.GlideRecord("sys_user_has_role")
    values_only.display_value = False
    values_only.add_query("user", user.sys_id)
    values_only.query()
    assert values_only.next()
    assert values_only.get_display_value("user") == user.sys_id


def test_dot_walked_fields(client, tls_admin):
    user = tls_admin.user("interaction_agent", prefix="walk")

    gr = client.GlideRecord("sys_user_has_role")
    gr.fields = "user,user.user_name"
    gr.add_query("user.user_name", user.user_name)
    gr.query()

    assert gr.next()
    assert gr.user.user_name == user.user_name  # pysnc's dot-walk: the field "user.user_name"


# -- Writes --------------------------------------------------------------------------------------


def test_insert_update_delete(client, tls_admin):
    name = unique("queue ")

    gr = client.GlideRecord("awa_queue")
    gr.initialize()
    gr.name = name
    gr.active = False
    sys_id = gr.insert()

    assert sys_id and len(sys_id) == 32
    assert (gr.name, gr.active, gr.sys_created_by) == (name, "false", "admin")
    assert tls_admin.get("awa_queue", sys_id)["name"] == name

    found = client.GlideRecord("awa_queue")
    assert found.get(sys_id)
    found.name = name + " (renamed)"
    found.active = True
    assert found.update() == sys_id
    assert (found.name, found.active, found.sys_mod_count) == (name + " (renamed)", "true", "1")
    stored = tls_admin.get("awa_queue", sys_id)
    assert (stored["name"], stored["active"]) == (name + " (renamed)", "true")

    assert found.delete() is True
    assert client.GlideRecord("awa_queue").get(sys_id) is False


def test_insert_with_a_reference_by_display_value(client, tls_admin):
    user = tls_admin.user(prefix="grant")

    gr = client.GlideRecord("sys_user_has_role")
    gr.initialize()
    gr.user = user.sys_id
    gr.role = "awa_manager"  # a reference accepts the display value
    assert gr.insert()

    assert gr.get_display_value("role") == "awa_manager"
    roles = tls_admin.get("sys_user", user.sys_id)["roles"]
    assert roles == "awa_manager,interaction_agent"


def test_writes_without_the_role_are_refused(tls_server, trusted, tls_admin):
    reader = tls_admin.user("interaction_agent", prefix="reader")
    (sys_id,) = queues(tls_admin, unique("ro"), 1)
    c = connect(tls_server, trusted, (reader.user_name, reader.password))

    gr = c.GlideRecord("awa_queue")
    assert gr.get(sys_id)  # reading is allowed
    gr.name = "changed"
    with pytest.raises(RoleException) as excinfo:
        gr.update()
    assert excinfo.value.args[0]["error"]["message"] == "Operation Failed"
    with pytest.raises(RoleException):
        gr.delete()

    new = c.GlideRecord("awa_queue")
    new.initialize()
    new.name = unique("queue ")
    with pytest.raises(RoleException):
        new.insert()
    assert tls_admin.get("awa_queue", sys_id)["sys_mod_count"] == "0"


def test_wrong_password(tls_server, trusted, tls_admin):
    user = tls_admin.user(prefix="wrongpw")
    c = connect(tls_server, trusted, (user.user_name, "wrong"))

    gr = c.GlideRecord("sys_user")
    with pytest.raises(AuthenticationException) as excinfo:
        gr.query()
    assert excinfo.value.args[0]["error"]["message"] == "User Not Authenticated"


# -- The Batch API: update_multiple, delete_multiple, long queries ---------------------------------


def test_update_multiple(client, tls_admin):
    prefix = unique("upd")
    sys_ids = queues(tls_admin, prefix, 5)
    requests_sent = sent(client)

    gr = client.GlideRecord("awa_queue", batch_size=2)
    gr.add_query("name", "STARTSWITH", prefix)
    gr.query()
    for record in gr:
        record.active = False
        if record.get_value("name").endswith("0"):
            record.name = f"{prefix}0 (renamed)"

    assert gr.update_multiple() is True

    stored = [tls_admin.get("awa_queue", sys_id) for sys_id in sys_ids]
    assert [s["active"] for s in stored] == ["false"] * 5
    assert stored[0]["name"] == f"{prefix}0 (renamed)"
    assert [s["name"] for s in stored[1:]] == [f"{prefix}{i}" for i in range(1, 5)]
    # three pages read, then one batch of five PATCHes
    assert [(m, p) for m, p, _ in requests_sent] == [("GET", "/api/now/table/awa_queue")] * 3 + [
        ("POST", "/api/now/v1/batch")
    ]


def test_update_multiple_with_a_custom_handler(client, tls_admin):
    prefix = unique("handler")
    queues(tls_admin, prefix, 3)
    answers = []

    gr = client.GlideRecord("awa_queue")
    gr.add_query("name", "STARTSWITH", prefix)
    gr.order_by("name")
    gr.query()
    for record in gr:
        record.name = record.get_value("name") + "!"
    assert gr.update_multiple(custom_handler=answers.append) is True

    # each handler gets the PATCH's own answer, as pysnc rebuilds it from the batch response
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert sorted(r.json()["result"]["name"]["value"] for r in answers) == [
        f"{prefix}{i}!" for i in range(3)
    ]


def test_delete_multiple(client, tls_admin):
    prefix = unique("del")
    queues(tls_admin, prefix, 7)
    keep = queues(tls_admin, unique("keep"), 1)[0]
    requests_sent = sent(client)

    gr = client.GlideRecord("awa_queue", batch_size=3)
    gr.add_query("name", "STARTSWITH", prefix)
    assert gr.delete_multiple() is True

    assert tls_admin.query("awa_queue", f"nameSTARTSWITH{prefix}") == []
    assert tls_admin.get("awa_queue", keep)["sys_id"] == keep
    # the query (sys_id only, three pages), then one batch of seven DELETEs
    assert [(m, p) for m, p, _ in requests_sent] == [("GET", "/api/now/table/awa_queue")] * 3 + [
        ("POST", "/api/now/v1/batch")
    ]
    assert requests_sent[0][2]["sysparm_fields"] == ["sys_id"]


def test_multiple_writes_without_the_role_report_failure(tls_server, trusted, tls_admin):
    reader = tls_admin.user("interaction_agent", prefix="batchreader")
    prefix = unique("robatch")
    sys_ids = queues(tls_admin, prefix, 3)
    c = connect(tls_server, trusted, (reader.user_name, reader.password))

    gr = c.GlideRecord("awa_queue")
    gr.add_query("name", "STARTSWITH", prefix)
    gr.query()
    for record in gr:
        record.active = False
    assert gr.update_multiple() is False

    gr = c.GlideRecord("awa_queue")
    gr.add_query("name", "STARTSWITH", prefix)
    assert gr.delete_multiple() is False

    assert [tls_admin.get("awa_queue", s)["active"] for s in sys_ids] == ["true"] * 3


def test_a_long_query_goes_through_the_batch_api(client, tls_admin):
    prefix = unique("long")
    queues(tls_admin, prefix, 3)
    # 400 names that match nothing make the query longer than pysnc's limit of 10,000 characters
    wanted = [f"{prefix}{i}" for i in range(3)] + [uuid.uuid4().hex for _ in range(400)]
    requests_sent = sent(client)

    gr = client.GlideRecord("awa_queue", batch_size=2)
    gr.add_query("name", "IN", ",".join(wanted))
    gr.order_by("name")
    gr.query()

    assert len(gr.get_encoded_query()) > 10_000
    assert names(gr) == [f"{prefix}{i}" for i in range(3)]
    assert gr.get_row_count() == 3  # X-Total-Count, from the header inside the batch answer
    # both pages of 2 went as GETs inside batches: nothing else was sent
    assert [(m, p) for m, p, _ in requests_sent] == [("POST", "/api/now/v1/batch")] * 2


# -- OAuth ---------------------------------------------------------------------------------------


def test_oauth_password_grant(tls_server, trusted, tls_admin):
    app = tls_admin.oauth_application()
    agent = tls_admin.user("admin", prefix="oauthadmin")

    c = connect(
        tls_server,
        trusted,
        ServiceNowPasswordGrantFlow(agent.user_name, agent.password, app.client_id, app.client_secret),
    )

    token = c.session.token
    assert token["token_type"] == "Bearer"
    assert token["scope"] == ["useraccount"]
    assert token["expires_in"] == 1799
    assert token["access_token"] and token["refresh_token"]
    gr = c.GlideRecord("sys_user")
    assert gr.get("user_name", "admin") and gr.sys_id == ADMIN_SYS_ID
    new = c.GlideRecord("awa_queue")
    new.initialize()
    new.name = unique("oauth queue ")
    assert new.insert()
    assert new.sys_created_by == agent.user_name


def test_oauth_client_credentials(tls_server, trusted, tls_admin):
    agent = tls_admin.user("admin", prefix="ccadmin")
    app = tls_admin.oauth_application(user=agent.user_name)

    c = connect(tls_server, trusted, ServiceNowClientCredentialsFlow(app.client_id, app.client_secret))

    new = c.GlideRecord("awa_queue")
    new.initialize()
    new.name = unique("cc queue ")
    assert new.insert()
    assert new.sys_created_by == agent.user_name  # the token acts as the application's user
    gr = c.GlideRecord("sys_user")
    assert gr.get(agent.sys_id) and gr.user_name == agent.user_name


def test_oauth_expired_token_is_refreshed(tls_server, trusted, tls_admin):
    app = tls_admin.oauth_application()
    c = connect(
        tls_server, trusted, ServiceNowPasswordGrantFlow("admin", "admin", app.client_id, app.client_secret)
    )
    old = dict(c.session.token)
    c.session.token = dict(old, expires_at=time.time() - 60)

    # pysnc runs the refresh grant, but sends the request that noticed the expiry without any
    # credentials (it does not put the new token on it): that one request is a 401.
    with pytest.raises(AuthenticationException):
        c.GlideRecord("sys_user").get("user_name", "admin")

    new = c.session.token
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] == old["refresh_token"]  # the refresh grant issues none
    assert new["expires_at"] > time.time()
    gr = c.GlideRecord("sys_user")
    assert gr.get("user_name", "admin") and gr.sys_id == ADMIN_SYS_ID


def test_oauth_wrong_credentials(tls_server, trusted, tls_admin):
    app = tls_admin.oauth_application()
    user = tls_admin.user(prefix="oauthwrong")

    for flow in (
        ServiceNowPasswordGrantFlow(user.user_name, "wrong", app.client_id, app.client_secret),
        ServiceNowPasswordGrantFlow(user.user_name, user.password, app.client_id, "wrong"),
    ):
        with pytest.raises(ServerError) as excinfo:
            connect(tls_server, trusted, flow)
        # oauthlib reads the platform's {"error": "server_error", "error_description": "access_denied"}
        assert (excinfo.value.error, excinfo.value.description) == ("server_error", "access_denied")

    with pytest.raises(AuthenticationException) as excinfo:
        connect(tls_server, trusted, ServiceNowClientCredentialsFlow(app.client_id, "wrong"))
    assert "401" in str(excinfo.value) and "access_denied" in str(excinfo.value)


# -- Attachments (the Attachment API, issue 14 item 4) --------------------------------------------


@pytest.fixture
def queue_record(client, tls_admin):
    (sys_id,) = queues(tls_admin, unique("attach"), 1)
    gr = client.GlideRecord("awa_queue")
    assert gr.get(sys_id)
    return gr


def test_add_and_read_an_attachment(client, tls_server, queue_record):
    location = queue_record.add_attachment("notes.txt", b"hello\nworld", content_type="text/plain")
    assert location.startswith(f"{tls_server.base_url}/api/now/")

    attachments = queue_record.get_attachments()
    assert len(attachments) == 1
    (attachment,) = list(attachments)
    assert attachment.file_name == "notes.txt"
    assert attachment.content_type == "text/plain"
    assert attachment.size_bytes == "11"
    assert attachment.table_name == "awa_queue"
    assert attachment.table_sys_id == queue_record.sys_id
    assert attachment.read() == b"hello\nworld"
    assert attachment.readlines() == ["hello", "world"]
    assert location.endswith(attachment.sys_id)

    by_id = client.Attachment("awa_queue")
    assert by_id.get(attachment.sys_id) is True
    assert by_id.file_name == "notes.txt"


def test_write_an_attachment_to_a_file_and_delete_it(queue_record, tmp_path):
    queue_record.add_attachment("data.bin", bytes(range(256)) * 64)

    (attachment,) = list(queue_record.get_attachments())
    written = attachment.write_to(tmp_path)
    assert written == tmp_path / "data.bin"
    assert written.read_bytes() == bytes(range(256)) * 64
    assert attachment.content_type == "application/octet-stream"

    attachment.delete()
    assert len(queue_record.get_attachments()) == 0


def test_attachments_go_with_their_record(client, queue_record):
    queue_record.add_attachment("a.txt", b"a", content_type="text/plain")
    queue_record.add_attachment("b.txt", b"bb", content_type="text/plain")
    assert sorted(a.file_name for a in queue_record.get_attachments()) == ["a.txt", "b.txt"]

    assert queue_record.delete() is True
    remaining = client.Attachment("awa_queue")
    remaining.add_query("table_sys_id", queue_record.sys_id)
    remaining.query()
    assert len(remaining) == 0
