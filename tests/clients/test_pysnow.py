"""pysnow against switchboard, used as its documentation shows.

pysnow reaches switchboard through its own options: `host="127.0.0.1:PORT"` with
`use_ssl=False`. Its OAuthClient needs `OAUTHLIB_INSECURE_TRANSPORT=1` in the environment to send
credentials over plain http (oauthlib's own switch for local testing); nothing else is changed.
Custom APIs (the three seed APIs) go through `client.resource(base_path=..., api_path=...)` and
`Resource.request(method, path_append=..., json=...)`, pysnow's generic request.
"""

import datetime
import re
import time

import pysnow
import pytest
import requests
from pysnow.exceptions import NoResults, TokenCreateError

from conftest import ADMIN, ADMIN_SYS_ID, DEMO_CONNECTOR, unique

SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def status(response):
    """The HTTP status of a pysnow Response (pysnow keeps the requests response it wraps)."""
    return response._response.status_code


def http_error(excinfo):
    """The status and JSON body of the requests.HTTPError a pysnow call raised."""
    return excinfo.value.response.status_code, excinfo.value.response.json()


@pytest.fixture
def client(server):
    c = pysnow.Client(host=server.host, user=ADMIN[0], password=ADMIN[1], use_ssl=False)
    yield c
    c.close()


def client_for(server, user):
    return pysnow.Client(host=server.host, user=user.user_name, password=user.password, use_ssl=False)


def names(records):
    return [r["user_name"] for r in records]


# -- Table API: reads and the query builder --------------------------------------------------


def test_get_one_record_with_query_builder(client):
    users = client.resource(api_path="/table/sys_user")
    query = pysnow.QueryBuilder().field("user_name").equals("admin")

    record = users.get(query=query).one()

    assert record["sys_id"] == ADMIN_SYS_ID
    assert record["user_name"] == "admin"
    assert record["name"] == "System Administrator"
    assert record["roles"] == "admin"
    assert record["active"] == "true"
    assert "user_password" not in record


def test_query_builder_and_starts_with_and_ordering(client, admin):
    prefix = unique("qb")
    for suffix, first in (("b", "Bea"), ("a", "Ann"), ("c", "Cal")):
        admin.insert("sys_user", user_name=prefix + suffix, first_name=first, last_name="Q")
    admin.insert("sys_user", user_name=prefix + "d", first_name="Dee", active=False)
    users = client.resource(api_path="/table/sys_user")

    ascending = (
        pysnow.QueryBuilder()
        .field("user_name").starts_with(prefix)
        .AND().field("active").equals("true")
        .AND().field("user_name").order_ascending()
    )
    descending = (
        pysnow.QueryBuilder()
        .field("user_name").starts_with(prefix)
        .AND().field("active").equals("true")
        .AND().field("user_name").order_descending()
    )

    assert str(ascending) == f"user_nameSTARTSWITH{prefix}^active=true^ORDERBYuser_name"
    assert names(users.get(query=ascending).all()) == [prefix + "a", prefix + "b", prefix + "c"]
    assert names(users.get(query=descending).all()) == [prefix + "c", prefix + "b", prefix + "a"]
    ordered_by_first_name = (
        pysnow.QueryBuilder()
        .field("user_name").starts_with(prefix)
        .AND().field("first_name").order_descending()
    )
    assert [r["first_name"] for r in users.get(query=ordered_by_first_name).all()] == [
        "Dee", "Cal", "Bea", "Ann"
    ]


def test_query_builder_operators(client, admin):
    prefix = unique("ops")
    admin.insert("sys_user", user_name=prefix + "1", first_name="Ada", email="ada@example.com")
    admin.insert("sys_user", user_name=prefix + "2", first_name="Bob", email="")
    admin.insert("sys_user", user_name=prefix + "3", first_name="Cy", email="cy@example.org")
    users = client.resource(api_path="/table/sys_user")

    def matching(q):
        return sorted(names(users.get(query=q).all()))

    def mine():
        return pysnow.QueryBuilder().field("user_name").starts_with(prefix).AND()

    # equals() with a list is IN, not_equals() with a list is NOT IN
    assert matching(mine().field("first_name").equals(["Ada", "Cy"])) == [prefix + "1", prefix + "3"]
    assert matching(mine().field("first_name").not_equals(["Ada", "Cy"])) == [prefix + "2"]
    assert matching(mine().field("first_name").not_equals("Bob")) == [prefix + "1", prefix + "3"]
    assert matching(mine().field("email").contains("example")) == [prefix + "1", prefix + "3"]
    assert matching(mine().field("email").not_contains(".com")) == [prefix + "2", prefix + "3"]
    assert matching(mine().field("email").ends_with(".org")) == [prefix + "3"]
    assert matching(mine().field("email").is_empty()) == [prefix + "2"]
    assert matching(mine().field("email").is_not_empty()) == [prefix + "1", prefix + "3"]
    # OR binds to the condition before it: prefix AND (first_name=Ada OR first_name=Cy)
    either = mine().field("first_name").equals("Ada").OR().field("first_name").equals("Cy")
    assert matching(either) == [prefix + "1", prefix + "3"]
    # NQ adds a second query's results
    nq = (
        pysnow.QueryBuilder().field("user_name").equals(prefix + "1")
        .NQ().field("user_name").equals(prefix + "2")
    )
    assert matching(nq) == [prefix + "1", prefix + "2"]


def test_query_builder_date_time_comparisons(client, admin):
    prefix = unique("dt")
    admin.insert("sys_user", user_name=prefix)
    users = client.resource(api_path="/table/sys_user")
    mine = pysnow.QueryBuilder().field("user_name").equals(prefix).AND().field("sys_created_on")
    now = datetime.datetime.now(datetime.timezone.utc)

    # pysnow renders a datetime as "YYYY-MM-DD HH:MM:SS" in UTC
    since_yesterday = users.get(query=mine.greater_than(now - datetime.timedelta(days=1)))
    assert names(since_yesterday.all()) == [prefix]
    mine = pysnow.QueryBuilder().field("user_name").equals(prefix).AND().field("sys_created_on")
    before_yesterday = users.get(query=mine.less_than(now - datetime.timedelta(days=1)))
    assert before_yesterday.all() == []
    window = (
        pysnow.QueryBuilder().field("user_name").equals(prefix)
        .AND().field("sys_created_on").greater_than_or_equal(now - datetime.timedelta(hours=1))
        .AND().field("sys_created_on").less_than_or_equal(now + datetime.timedelta(hours=1))
    )
    assert names(users.get(query=window).all()) == [prefix]


def test_between_two_datetimes(client, admin):
    """pysnow writes between(datetime, datetime) as javascript:gs.dateGenerate("...") values,
    which switchboard reads as data (UTC), never running them (docs/table-api.md)."""
    prefix = unique("between")
    admin.insert("sys_user", user_name=prefix)
    users = client.resource(api_path="/table/sys_user")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def created_between(start, end):
        query = (
            pysnow.QueryBuilder().field("user_name").equals(prefix)
            .AND().field("sys_created_on").between(start, end)
        )
        assert 'javascript:gs.dateGenerate("' in str(query)
        return names(users.get(query=query).all())

    hour = datetime.timedelta(hours=1)
    assert created_between(now - hour, now + hour) == [prefix]
    assert created_between(now - 3 * hour, now - 2 * hour) == []


def test_attachments_upload_list_and_delete(client, admin, tmp_path):
    """pysnow's attachment helper: upload through /attachment/file, list by record, delete."""
    queue = admin.insert("awa_queue", name=unique("queue "))["sys_id"]
    attachments = client.resource(api_path="/table/awa_queue").attachments
    source = tmp_path / "notes.txt"
    source.write_bytes(b"hello from pysnow\n")

    uploaded = attachments.upload(sys_id=queue, file_path=str(source)).one()
    assert uploaded["file_name"] == "notes.txt"
    assert uploaded["table_name"] == "awa_queue"
    assert uploaded["table_sys_id"] == queue
    assert uploaded["size_bytes"] == "18"

    listed = list(attachments.get(sys_id=queue))
    assert [a["sys_id"] for a in listed] == [uploaded["sys_id"]]

    attachments.delete(uploaded["sys_id"])
    assert list(attachments.get(sys_id=queue)) == []


def test_dict_and_encoded_string_queries(client):
    users = client.resource(api_path="/table/sys_user")

    assert users.get(query={"user_name": "admin"}).one()["sys_id"] == ADMIN_SYS_ID
    assert users.get(query="user_name=admin^active=true").one()["sys_id"] == ADMIN_SYS_ID
    assert users.get(query={"user_name": unique("nobody")}).one_or_none() is None
    with pytest.raises(NoResults):
        users.get(query={"user_name": unique("nobody")}).one()


def test_fields_limit_offset_and_paging_headers(client, admin):
    prefix = unique("page")
    for i in range(5):
        admin.insert("sys_user", user_name=f"{prefix}{i}", first_name=f"P{i}")
    users = client.resource(api_path="/table/sys_user")
    query = (
        pysnow.QueryBuilder()
        .field("user_name").starts_with(prefix)
        .AND().field("user_name").order_ascending()
    )

    page = users.get(query=query, limit=2, offset=2, fields=["user_name", "first_name"])
    records = page.all()

    assert records == [
        {"user_name": f"{prefix}2", "first_name": "P2"},
        {"user_name": f"{prefix}3", "first_name": "P3"},
    ]
    assert page.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in page.headers["Link"] and 'rel="prev"' in page.headers["Link"]


def test_streamed_responses(client, admin):
    prefix = unique("stream")
    for i in range(3):
        admin.insert("sys_user", user_name=f"{prefix}{i}")
    users = client.resource(api_path="/table/sys_user")
    query = pysnow.QueryBuilder().field("user_name").starts_with(prefix).AND().field("user_name").order_ascending()

    assert users.get(query=query, stream=True).first()["user_name"] == f"{prefix}0"
    assert names(users.get(query=query, stream=True).all()) == [f"{prefix}{i}" for i in range(3)]


def test_display_values_and_reference_links(client, admin):
    user = admin.user("interaction_agent", prefix="refs")
    grants = client.resource(api_path="/table/sys_user_has_role")
    query = pysnow.QueryBuilder().field("user").equals(user.sys_id)

    plain = grants.get(query=query).one()
    assert plain["user"]["value"] == user.sys_id
    assert plain["user"]["link"].endswith(f"/api/now/table/sys_user/{user.sys_id}")

    grants.parameters.display_value = True
    shown = grants.get(query=query).one()
    assert shown["user"]["display_value"] == f"Test {user.user_name}"
    assert shown["role"]["display_value"] == "interaction_agent"

    grants.parameters.display_value = False
    grants.parameters.exclude_reference_link = True
    assert grants.get(query=query).one()["user"] == user.sys_id


# -- Table API: writes -------------------------------------------------------------------------


def test_create_update_delete_through_a_resource(client):
    queues = client.resource(api_path="/table/awa_queue")
    name = unique("queue ")

    created = queues.create(payload={"name": name, "active": True})
    assert status(created) == 201
    record = created.one()
    assert SYS_ID.match(record["sys_id"])
    assert (record["name"], record["active"], record["sys_created_by"]) == (name, "true", "admin")

    updated = queues.update(query={"sys_id": record["sys_id"]}, payload={"active": False})
    assert updated["active"] == "false"
    assert updated["sys_mod_count"] == "1"

    # Response.update: update the record a query found
    renamed = queues.get(query={"name": name}).update({"name": name + " (renamed)"})
    assert renamed["name"] == name + " (renamed)"

    assert queues.delete(query={"sys_id": record["sys_id"]}) == {"status": "record deleted"}
    assert queues.get(query={"sys_id": record["sys_id"]}).one_or_none() is None


def test_references_by_display_value_and_derived_fields(client):
    users = client.resource(api_path="/table/sys_user")
    grants = client.resource(api_path="/table/sys_user_has_role")
    name = unique("agent")

    created = users.create(
        payload={"user_name": name, "first_name": "Ada", "last_name": "Agent", "user_password": "pw"}
    ).one()
    assert created["name"] == "Ada Agent"
    assert "user_password" not in created
    grants.create(payload={"user": name, "role": "awa_manager"})

    roles = users.get(query={"user_name": name}, fields=["roles"]).one()["roles"]
    assert roles == "awa_manager,interaction_agent"


def test_writes_need_admin(server, admin):
    reader = admin.user("interaction_agent", prefix="reader")
    with client_for(server, reader) as c:
        queues = c.resource(api_path="/table/awa_queue")
        with pytest.raises(requests.HTTPError) as excinfo:
            queues.create(payload={"name": unique("queue ")}).one()

    code, body = http_error(excinfo)
    assert code == 403
    assert body["error"]["message"] == "Operation Failed"


def test_wrong_password_is_401(server):
    c = pysnow.Client(host=server.host, user="admin", password="wrong", use_ssl=False)
    with pytest.raises(requests.HTTPError) as excinfo:
        c.resource(api_path="/table/sys_user").get(query={"user_name": "admin"}).one()

    code, body = http_error(excinfo)
    assert code == 401
    assert excinfo.value.response.headers["WWW-Authenticate"] == 'BASIC realm="Service-now"'
    assert body["error"]["message"] == "User Not Authenticated"


def test_unknown_record_is_404(client):
    queues = client.resource(api_path="/table/awa_queue")
    with pytest.raises(requests.HTTPError) as excinfo:
        queues.request("GET", path_append="/" + "0" * 32).one()

    code, body = http_error(excinfo)
    assert code == 404
    assert body["error"]["message"] == "No Record found"


# -- The three seed APIs through Resource.request ------------------------------------------------


def interactions_of(c):
    return c.resource(api_path="/interaction")


def members_of(c):
    return c.resource(api_path="/conversation/member")


def agent_mapping(c, agent, inbound_id):
    return c.resource(
        base_path="/api/sn_ct_ctr_it_core",
        api_path=f"/agent_mapping/agent/{agent}/inboundId/{inbound_id}",
    )


def check_create_and_close(c, admin, caller):
    channel, queue = admin.third_party_connector(), admin.queue()
    created = interactions_of(c).request(
        "POST",
        json={"channel": channel, "queue": queue, "context": {"customer": "Ada"}, "type": "chat"},
    )
    assert status(created) == 201
    result = created.one()
    assert set(result) == {
        "channel", "context", "queue", "state", "number", "contextDocument", "contextTable",
        "channelMetadataDocument", "channelMetadataTable", "channel_metadata", "sys_id",
        "assigned_to", "closed_by", "opened_for",
    }
    assert (result["channel"], result["queue"], result["state"]) == (channel, queue, "queued")
    assert re.match(r"^IMS\d{7}$", result["number"])
    assert result["context"] == {"customer": "Ada"}
    assert result["channel_metadata"] == {"present": True}
    assert result["contextTable"] == "interaction_json_blob"
    assert result["closed_by"] == ""
    interaction = result["sys_id"]

    closed = interactions_of(c).request("POST", path_append=f"/{interaction}/close")
    assert status(closed) == 200
    closed = closed.one()
    assert (closed["sys_id"], closed["state"], closed["closed_by"]) == (
        interaction, "closed_complete", caller,
    )
    stored = admin.get("interaction", interaction)
    assert (stored["active"], stored["opened_by"], stored["closed_by"]) == ("false", caller, caller)
    (conversation,) = admin.query("sys_cs_conversation", f"interaction={interaction}")
    assert conversation["state"] == "closed"

    # closing again changes nothing
    again = interactions_of(c).request("POST", path_append=f"/{interaction}/close").one()
    assert again["state"] == "closed_complete"
    assert admin.get("interaction", interaction)["sys_mod_count"] == stored["sys_mod_count"]


def check_drop_and_update(c, admin):
    agent = admin.user(prefix="agent")
    supervisor = admin.user("awa_manager", prefix="supervisor")
    chat = admin.chat((agent, "public_fulfiller"), (supervisor, "observer"))

    dropped = members_of(c).request(
        "POST", path_append=f"/{agent.sys_id}/drop", json={"interaction_id": chat.interaction}
    )
    assert status(dropped) == 200
    assert dropped.one() == {
        "conversation_member": {
            "active": False, "memberType": "public_fulfiller", "conversation_id": chat.interaction,
        },
        "success": True,
        "message": "Request to drop agent processed successfully.",
    }
    assert [m["active"] for m in admin.members(chat, agent)] == ["false"]

    updated = members_of(c).request(
        "PUT",
        path_append=f"/{supervisor.sys_id}/update",
        json={"interaction_id": chat.interaction, "member_type": "public_fulfiller"},
    )
    assert status(updated) == 200
    assert updated.one() == {
        "conversation_member": {
            "active": True, "memberType": "public_fulfiller", "conversation_id": chat.interaction,
        },
        "success": True,
        "message": "Request to update agent member type processed successfully.",
    }
    assert [m["member_type"] for m in admin.members(chat, supervisor)] == ["public_fulfiller"]


def check_agent_mapping(c, admin):
    agent = admin.user(prefix="voice")
    inbound_id = admin.provider_application()
    resource = agent_mapping(c, agent.sys_id, inbound_id)

    inserted = resource.request("PUT", json={"external_agent_id": "ccaas-1"})
    assert status(inserted) == 201
    inserted = inserted.one()
    assert (inserted["status"], inserted["message"]) == ("success", "Agent Id mapping record inserted")
    assert len(inserted["mappingIds"]) == 1 and SYS_ID.match(inserted["mappingIds"][0])

    updated = resource.request("PUT", json={"external_agent_id": "ccaas-1", "active": "false"})
    assert status(updated) == 200
    assert updated.one() == {
        "message": "Agent Id mapping record updated",
        "status": "success",
        "mappingIds": inserted["mappingIds"],
    }
    mapping = admin.get("external_agent_mapping", inserted["mappingIds"][0])
    assert (mapping["user"], mapping["external_agent_id"], mapping["active"]) == (
        agent.sys_id, "ccaas-1", "false",
    )


def test_interaction_create_and_close(server, admin, integration_user):
    with client_for(server, integration_user) as c:
        check_create_and_close(c, admin, integration_user.sys_id)


def test_interaction_without_channel_is_400(client):
    with pytest.raises(requests.HTTPError) as excinfo:
        interactions_of(client).request("POST", json={"queue": "x"}).one()

    code, body = http_error(excinfo)
    assert code == 400
    assert body == {
        "error": {"message": "Invalid request", "detail": "Mandatory parameter 'channel' is missing"},
        "status": "failure",
    }


def test_conversation_member_drop_and_update(server, admin, integration_user):
    with client_for(server, integration_user) as c:
        check_drop_and_update(c, admin)


def test_conversation_member_failures(server, admin, integration_user):
    stranger = admin.user(prefix="stranger")
    agent = admin.user(prefix="agent")
    chat = admin.chat((agent, "public_fulfiller"))
    with client_for(server, integration_user) as c:
        members = members_of(c)

        with pytest.raises(requests.HTTPError) as excinfo:
            members.request(
                "PUT", path_append=f"/{stranger.sys_id}/drop", json={"interaction_id": chat.interaction}
            ).one()
        assert http_error(excinfo) == (
            400,
            {"result": {"success": False,
                        "message": "Invalid request. User is not a member of the interaction provided"}},
        )

        with pytest.raises(requests.HTTPError) as excinfo:
            members.request(
                "PUT",
                path_append=f"/{agent.sys_id}/update",
                json={"interaction_id": chat.interaction, "member_type": "public_fulfiller"},
            ).one()
        code, body = http_error(excinfo)
        assert code == 500
        assert body["result"]["success"] is False


def test_agent_mapping_put(server, admin, integration_user):
    with client_for(server, integration_user) as c:
        check_agent_mapping(c, admin)


def test_agent_mapping_unknown_inbound_id_is_400(client, admin):
    agent = admin.user(prefix="voice")
    with pytest.raises(requests.HTTPError) as excinfo:
        agent_mapping(client, agent.sys_id, unique("nowhere")).request(
            "PUT", json={"external_agent_id": "x"}
        ).one()

    code, body = http_error(excinfo)
    assert code == 400
    assert body["result"]["status"] == "failure"
    assert body["result"]["mappingIds"] == []


def test_seed_apis_need_their_roles(server, admin):
    nobody = admin.user(prefix="norole")
    with client_for(server, nobody) as c:
        with pytest.raises(requests.HTTPError) as excinfo:
            interactions_of(c).request("POST", json={"channel": DEMO_CONNECTOR}).one()

    code, body = http_error(excinfo)
    assert code == 403
    assert body["error"] == {"message": "User Not Authorized", "detail": "Failed API level ACL Validation"}


# -- OAuthClient: password grant, refresh, bearer tokens ---------------------------------------


@pytest.fixture
def oauth(server, oauth_app, monkeypatch):
    """An OAuthClient for a fresh application. oauthlib refuses http:// token URLs unless
    OAUTHLIB_INSECURE_TRANSPORT is set (its documented switch for local testing)."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")

    def make(token_updater=None):
        return pysnow.OAuthClient(
            client_id=oauth_app.client_id,
            client_secret=oauth_app.client_secret,
            token_updater=token_updater,
            host=server.host,
            use_ssl=False,
        )

    return make


def test_oauth_generate_token_and_read(oauth):
    c = oauth()
    token = c.generate_token("admin", "admin")

    assert token["token_type"] == "Bearer"
    assert token["scope"] == ["useraccount"]  # oauthlib splits the scope string
    assert token["expires_in"] == 1799
    assert token["access_token"] and token["refresh_token"]
    assert token["access_token"] != token["refresh_token"]

    c.set_token(token)
    record = c.resource(api_path="/table/sys_user").get(query={"user_name": "admin"}).one()
    assert record["sys_id"] == ADMIN_SYS_ID


def test_oauth_writes_through_a_resource(oauth):
    c = oauth()
    c.set_token(c.generate_token("admin", "admin"))
    queues = c.resource(api_path="/table/awa_queue")
    name = unique("oauth queue ")

    created = queues.create(payload={"name": name}).one()
    assert created["sys_created_by"] == "admin"
    assert queues.update(query={"sys_id": created["sys_id"]}, payload={"active": False})["active"] == "false"
    assert queues.delete(query={"sys_id": created["sys_id"]}) == {"status": "record deleted"}


def test_oauth_seed_apis(oauth, admin, integration_user):
    c = oauth()
    c.set_token(c.generate_token(integration_user.user_name, integration_user.password))

    check_create_and_close(c, admin, integration_user.sys_id)
    check_drop_and_update(c, admin)
    check_agent_mapping(c, admin)


def test_oauth_expired_token_is_refreshed(oauth):
    refreshed = []
    c = oauth(token_updater=refreshed.append)
    token = c.generate_token("admin", "admin")
    # pysnow's documented token store: a token whose expiry has passed is refreshed on next use
    token["expires_at"] = time.time() - 60
    c.set_token(token)

    record = c.resource(api_path="/table/sys_user").get(query={"user_name": "admin"}).one()

    assert record["sys_id"] == ADMIN_SYS_ID
    assert len(refreshed) == 1
    new = refreshed[0]
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] == token["refresh_token"]  # the refresh grant issues no new one
    assert new["expires_in"] == 1799
    assert new["expires_at"] > time.time()


def test_oauth_wrong_password(oauth):
    with pytest.raises(TokenCreateError) as excinfo:
        oauth().generate_token("admin", "wrong")
    # pysnow passes on the error_description of the platform's {"error": "server_error", ...}
    assert "access_denied" in excinfo.value.args


def test_oauth_wrong_client_secret(server, oauth_app, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    c = pysnow.OAuthClient(
        client_id=oauth_app.client_id, client_secret="wrong", host=server.host, use_ssl=False
    )
    with pytest.raises(TokenCreateError) as excinfo:
        c.generate_token("admin", "admin")
    assert "access_denied" in excinfo.value.args


def test_oauth_tokens_carry_the_users_roles(oauth, admin):
    nobody = admin.user(prefix="norole")
    c = oauth()
    c.set_token(c.generate_token(nobody.user_name, nobody.password))

    # sys_user is readable by every authenticated user
    me = c.resource(api_path="/table/sys_user").get(query={"user_name": nobody.user_name}).one()
    assert me["sys_id"] == nobody.sys_id
    with pytest.raises(requests.HTTPError) as excinfo:
        interactions_of(c).request("POST", json={"channel": DEMO_CONNECTOR}).one()
    assert http_error(excinfo)[0] == 403
    with pytest.raises(requests.HTTPError) as excinfo:
        c.resource(api_path="/table/awa_queue").create(payload={"name": unique("q")}).one()
    assert http_error(excinfo)[0] == 403


def test_oauth_revoked_token_is_refused(server, oauth, oauth_app):
    c = oauth()
    token = c.generate_token("admin", "admin")
    c.set_token(token)
    users = c.resource(api_path="/table/sys_user")
    assert users.get(query={"user_name": "admin"}).one()["sys_id"] == ADMIN_SYS_ID

    # pysnow has no revocation call; the endpoint is plain form POST
    revoked = requests.post(
        f"{server.base_url}/oauth_revoke_token.do",
        data={
            "token": token["access_token"],
            "client_id": oauth_app.client_id,
            "client_secret": oauth_app.client_secret,
        },
    )
    assert revoked.status_code == 200

    with pytest.raises(requests.HTTPError) as excinfo:
        c.resource(api_path="/table/sys_user").get(query={"user_name": "admin"}).one()
    code, body = http_error(excinfo)
    assert code == 401
    assert body["error"]["message"] == "User Not Authenticated"


# -- Advanced Work Assignment: the routing loop a CCaaS connector runs -------------------------


def awa_agent_ready(admin, channel):
    """A fresh agent (awa_agent, awa_external_user) made Available on `channel` through the AWA
    Agent API, and the Available state's sys_id."""
    agent = admin.user("awa_agent", "awa_external_user", prefix="awa-agent")
    available = admin.insert("awa_presence_state", name=unique("Available "), available=True)
    r = admin.session.put(
        admin.url(f"/api/now/awa/agents/{agent.sys_id}"),
        json={"presence": {"sys_id": available["sys_id"],
                           "channels": [{"sys_id": channel, "available": True}]}},
    )
    assert r.status_code == 200, r.text
    return agent


def test_awa_route_offer_accept_and_workload(server, admin, integration_user):
    channel = admin.insert("awa_service_channel", name=unique("Chat "), max_capacity=2)["sys_id"]
    queue = admin.insert(
        "awa_queue", name=unique("queue "), service_channel=channel,
        external_id=unique("provider-q-"), external_routing=True,
    )
    agent = awa_agent_ready(admin, channel)
    connector = admin.third_party_connector()
    with client_for(server, integration_user) as c:
        created = interactions_of(c).request(
            "POST", json={"channel": connector, "queue": queue["sys_id"]}
        ).one()
        interaction = created["sys_id"]

        # The queued work item, found as a contact center finds it: the Table API.
        items = c.resource(api_path="/table/awa_work_item")
        query = pysnow.QueryBuilder().field("document_id").equals(interaction)
        item = items.get(query=query).one()
        assert item["state"] == "queued"
        assert item["display_name"] == f"Interaction: {created['number']}"

        # Offer Work by the provider's queue id, then accept on the agent's behalf.
        offer = c.resource(api_path=f"/awa/documents/interaction/{interaction}/offer")
        offered = offer.request(
            "POST",
            json={"queue_id": queue["external_id"],
                  "assignment": {"agent_sys_id": agent.sys_id, "timeout": 60}},
        ).one()
        assert offered["success"] is True
        assert offered["message"] == "Manual assignment successfully requested."
        assert offered["work_item"]["sys_id"] == item["sys_id"]

        inbox = c.resource(api_path="/awa/inbox/actions")
        accepted = inbox.request(
            "POST", path_append="/accept",
            json={"agent_id": agent.sys_id, "work_item_id": item["sys_id"]},
        ).one()
        assert accepted == {"documentSysId": interaction, "documentTable": "interaction"}

        capacities = c.resource(api_path=f"/awa/agents/{agent.sys_id}/capacities")
        (chat,) = capacities.request("GET").one()["channels"]
        assert (chat["channel_sys_id"], chat["current_workload"]) == (channel, 1)

    stored = admin.get("interaction", interaction)
    assert (stored["assigned_to"], stored["state"]) == (agent.sys_id, "work_in_progress")
    (conversation,) = admin.query("sys_cs_conversation", f"interaction={interaction}")
    (member,) = admin.query(
        "sys_cs_conversation_member", f"conversation={conversation['sys_id']}"
    )
    assert (member["member"], member["member_type"], member["active"]) == (
        agent.sys_id, "public_fulfiller", "true",
    )


def test_awa_refusals_reach_pysnow_as_http_errors(server, admin, integration_user):
    with client_for(server, integration_user) as c:
        inbox = c.resource(api_path="/awa/inbox/actions")
        with pytest.raises(requests.HTTPError) as excinfo:
            inbox.request("POST", path_append="/accept", json={"work_item_id": "x"}).one()
        code, body = http_error(excinfo)
        assert code == 400
        assert body["error"]["detail"] == "Missing agent ID"
        assert body["status"] == "failure"


# -- Wrap Up API ---------------------------------------------------------------------------------


def test_wrap_up_codes_and_a_segment_from_create_to_close(server, admin):
    """The page's call order through pysnow's generic resource: codes, create, update/ai,
    update, GET. Codes answer inside `result` (pysnow's `.one()`); segments answer bare, as the
    page prints them, so their body is read from the response pysnow wraps."""
    integration = admin.user("interaction_integration_user", prefix="wrapup-integration")
    agent = admin.user("interaction_agent", prefix="wrapup-agent")
    interaction = admin.insert("interaction", type="phone", state="work_in_progress")["sys_id"]
    label = unique("Billing ")
    with client_for(server, integration) as c:
        codes = c.resource(api_path="/wrapup/code")
        created = codes.request(
            "POST",
            json={"codes": [{"code": label, "description": "Billing",
                             "translations": [{"language": "de", "code": "Abrechnung",
                                               "description": "Abrechnung"}]}]},
        ).one()
        assert created["message"] == "All wrap up codes created successfully."
        (code,) = created["result_map"]["created_wrap_up_codes"]
        assert SYS_ID.match(code["sys_id"])
        assert code["translated_code"] == "Abrechnung"
        found = codes.request("GET", path_append=f"/{code['sys_id']}").one()
        assert found["result_map"]["wrap_up_code"] == code

        segments = c.resource(api_path="/wrapup/segment")
        response = segments.request(
            "POST", path_append="/create",
            json={"agent_sys_id": agent.sys_id, "interaction_sys_id": interaction,
                  "external": True, "external_segment_id": unique("EXT-"),
                  "configuration": {"enable_codes": True, "enable_ai_code": True,
                                    "use_third_party_ai": True,
                                    "allowed_codes": [{"code": label}], "default_code": label}},
        )
        assert status(response) == 200
        opened = response._response.json()
        assert opened["message"] == "Wrap-up segment created successfully."
        segment = opened["sys_id"]
        assert opened["segment"]["state"] == "open"

        response = segments.request(
            "PUT", path_append="/update/ai",
            json={"segment_sys_id": segment, "ai_wrap_up_code": label},
        )
        assert status(response) == 200
        assert response._response.json()["segment"]["ai_wrap_up_code"] == label

        # Closing without a code takes the AI's recommendation (use_ai_as_default is off, so
        # the configured default: the same code).
        # update names its segment in the query, as the page's sample does.
        update = c.resource(api_path="/wrapup/segment/update")
        update.parameters.add_custom({"segment_sys_id": segment})
        response = update.request(
            "PUT", json={"notes": "done", "confirmed_on": "2024-09-16 18:52:01"}
        )
        assert status(response) == 200
        closed = response._response.json()["segment"]
        assert (closed["state"], closed["code"]["sys_id"]) == ("closed", code["sys_id"])

        response = segments.request("GET", path_append=f"/{segment}")
        assert status(response) == 200
        assert response._response.json()["segment"] == closed

        # A second close is refused in the platform's error envelope.
        with pytest.raises(requests.HTTPError) as excinfo:
            update.request("PUT", json={}).one()
        code_, body = http_error(excinfo)
        assert code_ == 400
        assert body["error"]["message"] == f"Wrap up segment {segment} is already closed"
        assert body["status"] == "failure"


# -- Outbound events: providers and the supervisor's observe (docs/outbound-events.md) -----------


def test_external_provider_registered_and_read_back_without_its_secret(client):
    providers = client.resource(api_path="/table/awa_external_provider")
    name = unique("Contact center ")
    # Inactive: nothing is queued for it, so the shared server never tries to reach it.
    created = providers.create(payload={
        "name": name,
        "active": False,
        "endpoint_url": "http://127.0.0.1:9/events",
        "authentication": "hmac",
        "secret": "s3cret",
        "signature_header": "X-CC-Signature",
        "event_types": "interaction.queued,interaction.closed",
        "timeout": 5,
    }).one()
    assert SYS_ID.match(created["sys_id"]), created
    assert "secret" not in created, created

    query = pysnow.QueryBuilder().field("name").equals(name)
    record = providers.get(query=query).one()
    assert record["sys_id"] == created["sys_id"]
    assert "secret" not in record, record
    assert (record["active"], record["endpoint_url"], record["authentication"]) == (
        "false", "http://127.0.0.1:9/events", "hmac",
    )
    assert (record["signature_header"], record["event_types"]) == (
        "X-CC-Signature", "interaction.queued,interaction.closed",
    )
    # The defaults it was not given.
    assert (record["timeout"], record["max_attempts"]) == ("5", "10")

    # An event type the server does not know is refused when written.
    with pytest.raises(requests.HTTPError) as excinfo:
        providers.create(payload={"name": unique("cc "), "endpoint_url": "http://127.0.0.1:9/",
                                  "event_types": "work_item.opened"}).one()
    code, body = http_error(excinfo)
    assert code == 400
    assert "event_types" in body["error"]["message"] + body["error"].get("detail", "")


def test_observe_of_an_unknown_interaction_is_404_in_the_error_envelope(server):
    # /_switchboard/ is not under /api/now, where pysnow builds its URLs: plain requests.
    r = requests.post(
        f"{server.base_url}/_switchboard/conversations/{'f' * 32}/observe",
        json={"supervisor": ADMIN_SYS_ID},
        auth=ADMIN,
    )
    assert r.status_code == 404, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["status"] == "failure", body
    assert set(body["error"]) >= {"message", "detail"}, body
    assert "No interaction" in body["error"]["message"] + body["error"]["detail"], body
