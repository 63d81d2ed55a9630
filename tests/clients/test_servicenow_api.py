"""servicenow-api (PyPI `servicenow-api`) against switchboard, used as its users use it.

`Api(url=...)` takes the instance URL, scheme included, so `http://127.0.0.1:PORT` works as is.
With `username`, `password`, `client_id` and `client_secret` it runs the OAuth password grant
against `{url}/oauth_token.do` in its constructor (client credentials in the form body) and then
sends `Authorization: Bearer`; with only `username` and `password` it sends Basic auth. The seed
APIs go through its generic `api_request(method, endpoint, json=...)`, where `endpoint` is relative
to `{url}/api`. Every call raises `requests.HTTPError` on a 4xx/5xx (it calls raise_for_status).
"""

import re

import pytest
from agent_utilities.core.exceptions import AuthError
import requests
from servicenow_api.api_client import Api

from conftest import ADMIN, ADMIN_SYS_ID, DEMO_CONNECTOR, unique

SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def http_error(excinfo):
    return excinfo.value.response.status_code, excinfo.value.response.json()


@pytest.fixture
def basic(server):
    return Api(url=server.base_url, username=ADMIN[0], password=ADMIN[1])


def basic_for(server, user):
    return Api(url=server.base_url, username=user.user_name, password=user.password)


def oauth_for(server, app, user_name, password, **kwargs):
    return Api(
        url=server.base_url,
        username=user_name,
        password=password,
        client_id=app.client_id,
        client_secret=app.client_secret,
        **kwargs,
    )


# -- Table API -------------------------------------------------------------------------------


def test_basic_auth_get_table(basic):
    assert basic.headers["Authorization"].startswith("Basic ")
    response = basic.get_table(table="sys_user", sysparm_query="user_name=admin")

    assert response.response.status_code == 200
    (admin,) = response.result
    assert (admin.sys_id, admin.user_name, admin.roles) == (ADMIN_SYS_ID, "admin", "admin")


def test_basic_auth_wrong_password(server):
    """The constructor probes GET /api/subscribers and raises AuthError on a 401: switchboard, like
    the platform, authenticates a request before it looks for the resource, so wrong Basic
    credentials are caught at once."""
    with pytest.raises(AuthError):
        Api(url=server.base_url, username="admin", password="wrong")


def test_get_table_query_fields_and_paging(basic, admin):
    prefix = unique("sna")
    for i in range(4):
        admin.insert("sys_user", user_name=f"{prefix}{i}", first_name=f"N{i}")

    response = basic.get_table(
        table="sys_user",
        sysparm_query=f"user_nameSTARTSWITH{prefix}^ORDERBYDESCuser_name",
        sysparm_fields="user_name,first_name",
        sysparm_limit=2,
        sysparm_offset=1,
        sysparm_display_value=False,
    )

    assert [r.model_dump(exclude={"base_type"}) for r in response.result] == [
        {"user_name": f"{prefix}2", "first_name": "N2"},
        {"user_name": f"{prefix}1", "first_name": "N1"},
    ]
    assert response.response.headers["X-Total-Count"] == "4"


def test_table_record_create_read_update(basic):
    name = unique("sna queue ")

    created = basic.add_table_record(table="awa_queue", data={"name": name, "active": True})
    assert created.response.status_code == 201
    sys_id = created.result.sys_id
    assert SYS_ID.match(sys_id)
    assert (created.result.name, created.result.active) == (name, "true")

    read = basic.get_table_record(table="awa_queue", table_record_sys_id=sys_id)
    assert read.result.name == name

    patched = basic.patch_table_record(table="awa_queue", table_record_sys_id=sys_id, data={"active": False})
    assert (patched.result.active, patched.result.sys_mod_count) == ("false", "1")

    put = basic.update_table_record(table="awa_queue", table_record_sys_id=sys_id, data={"name": name + "!"})
    assert (put.result.name, put.result.active) == (name + "!", "false")


def test_delete_table_record_cannot_read_the_204(basic, admin):
    """delete_table_record parses a JSON body from the DELETE's 204 No Content (the platform's
    answer too), so it raises after the record is deleted. Documented in docs/clients.md."""
    sys_id = admin.insert("awa_queue", name=unique("doomed "))["sys_id"]

    with pytest.raises(requests.JSONDecodeError):
        basic.delete_table_record(table="awa_queue", table_record_sys_id=sys_id)

    assert admin.query("awa_queue", f"sys_id={sys_id}") == []


def test_table_errors_raise_http_error(server, admin, basic):
    with pytest.raises(requests.HTTPError) as excinfo:
        basic.get_table_record(table="awa_queue", table_record_sys_id="0" * 32)
    code, body = http_error(excinfo)
    assert (code, body["error"]["message"]) == (404, "No Record found")

    reader = basic_for(server, admin.user("interaction_agent", prefix="reader"))
    with pytest.raises(requests.HTTPError) as excinfo:
        reader.add_table_record(table="awa_queue", data={"name": unique("q")})
    code, body = http_error(excinfo)
    assert (code, body["error"]["message"]) == (403, "Operation Failed")


# -- The three seed APIs through api_request ---------------------------------------------------


def check_create_and_close(api, admin, caller):
    channel, queue = admin.third_party_connector(), admin.queue()
    created = api.api_request(
        "POST", "now/interaction", json={"channel": channel, "queue": queue, "short_description": "call"}
    )
    assert created.response.status_code == 201
    result = created.result["result"]
    assert (result["channel"], result["queue"], result["state"]) == (channel, queue, "queued")
    assert re.match(r"^IMS\d{7}$", result["number"])
    assert result["context"] == {"present": True}
    interaction = result["sys_id"]

    closed = api.api_request("POST", f"now/interaction/{interaction}/close")
    assert closed.response.status_code == 200
    closed = closed.result["result"]
    assert (closed["sys_id"], closed["state"], closed["closed_by"]) == (interaction, "closed_complete", caller)
    assert admin.get("interaction", interaction)["active"] == "false"


def check_drop_and_update(api, admin):
    agent = admin.user(prefix="agent")
    supervisor = admin.user("awa_manager", prefix="supervisor")
    chat = admin.chat((agent, "public_fulfiller"), (supervisor, "observer"))

    dropped = api.api_request(
        "PUT", f"now/conversation/member/{agent.sys_id}/drop", json={"interaction_id": chat.interaction}
    )
    assert dropped.response.status_code == 200
    assert dropped.result == {"result": {
        "conversation_member": {"active": False, "memberType": "public_fulfiller",
                                "conversation_id": chat.interaction},
        "success": True,
        "message": "Request to drop agent processed successfully.",
    }}

    updated = api.api_request(
        "POST",
        f"now/v1/conversation/member/{supervisor.sys_id}/update",
        json={"interaction_id": chat.interaction, "member_type": "public_fulfiller"},
    )
    assert updated.response.status_code == 200
    assert updated.result["result"]["message"] == "Request to update agent member type processed successfully."
    assert updated.result["result"]["conversation_member"]["memberType"] == "public_fulfiller"
    assert [m["member_type"] for m in admin.members(chat, supervisor)] == ["public_fulfiller"]


def check_agent_mapping(api, admin):
    agent = admin.user(prefix="voice")
    inbound_id = admin.provider_application()
    endpoint = f"sn_ct_ctr_it_core/agent_mapping/agent/{agent.sys_id}/inboundId/{inbound_id}"

    inserted = api.api_request("PUT", endpoint, json={"external_agent_id": "ext-7", "active": True})
    assert inserted.response.status_code == 201
    assert inserted.result["result"]["message"] == "Agent Id mapping record inserted"
    (mapping_id,) = inserted.result["result"]["mappingIds"]

    updated = api.api_request("PUT", endpoint, json={"external_agent_id": "ext-8", "active": False})
    assert updated.response.status_code == 200
    assert updated.result == {"result": {
        "message": "Agent Id mapping record updated", "status": "success", "mappingIds": [mapping_id],
    }}
    mapping = admin.get("external_agent_mapping", mapping_id)
    assert (mapping["external_agent_id"], mapping["active"]) == ("ext-8", "false")


def test_seed_apis_with_basic_auth(server, admin, integration_user):
    api = basic_for(server, integration_user)
    check_create_and_close(api, admin, integration_user.sys_id)
    check_drop_and_update(api, admin)
    check_agent_mapping(api, admin)


def test_seed_api_failures_raise_http_error(basic, admin):
    agent = admin.user(prefix="agent")
    plain = admin.insert("interaction", channel=admin.plain_connector())["sys_id"]

    with pytest.raises(requests.HTTPError) as excinfo:
        basic.api_request("PUT", f"now/conversation/member/{agent.sys_id}/drop", json={"interaction_id": plain})
    assert http_error(excinfo) == (
        400, {"result": {"success": False, "message": "Provided interaction is not a third party interaction"}},
    )

    with pytest.raises(requests.HTTPError) as excinfo:
        basic.api_request("POST", "now/interaction/" + "0" * 32 + "/close")
    code, body = http_error(excinfo)
    assert (code, body["error"]["message"]) == (404, "No Record found")

    with pytest.raises(requests.HTTPError) as excinfo:
        basic.api_request(
            "PUT", f"sn_ct_ctr_it_core/agent_mapping/agent/{agent.sys_id}/inboundId/{unique('none')}",
            json={"external_agent_id": "x"},
        )
    code, body = http_error(excinfo)
    assert (code, body["result"]["status"]) == (400, "failure")


# -- OAuth password grant ----------------------------------------------------------------------


def test_oauth_password_grant_and_table_read(server, oauth_app):
    api = oauth_for(server, oauth_app, "admin", "admin")

    assert api.token and api.headers["Authorization"] == f"Bearer {api.token}"
    response = api.get_table(table="sys_user", sysparm_query="user_name=admin")
    assert [u.sys_id for u in response.result] == [ADMIN_SYS_ID]


def test_oauth_seed_apis(server, admin, oauth_app, integration_user):
    api = oauth_for(server, oauth_app, integration_user.user_name, integration_user.password)
    assert api.headers["Authorization"].startswith("Bearer ")

    check_create_and_close(api, admin, integration_user.sys_id)
    check_drop_and_update(api, admin)
    check_agent_mapping(api, admin)


def test_oauth_bad_credentials(server, oauth_app, capsys):
    """The constructor reads `access_token` from the error body and fails with a KeyError
    (after printing the body); that is servicenow-api's behaviour on any failed grant."""
    with pytest.raises(KeyError):
        oauth_for(server, oauth_app, "admin", "wrong")
    assert "access_denied" in capsys.readouterr().err

    with pytest.raises(KeyError):
        Api(url=server.base_url, username="admin", password="admin",
            client_id=oauth_app.client_id, client_secret="wrong")
    assert "access_denied" in capsys.readouterr().err


def test_oauth_tokens_carry_the_users_roles(server, admin, oauth_app):
    nobody = admin.user(prefix="norole")
    api = oauth_for(server, oauth_app, nobody.user_name, nobody.password)

    with pytest.raises(requests.HTTPError) as excinfo:
        api.api_request("POST", "now/interaction", json={"channel": DEMO_CONNECTOR})
    code, body = http_error(excinfo)
    assert (code, body["error"]["message"]) == (403, "User Not Authorized")


def test_refresh_auth_token_sends_the_access_token(server, oauth_app):
    """refresh_auth_token() sends the *access* token as `refresh_token` (servicenow-api keeps no
    refresh token), which the grant rightly refuses. Documented in docs/clients.md."""
    api = oauth_for(server, oauth_app, "admin", "admin")

    with pytest.raises(requests.HTTPError) as excinfo:
        api.refresh_auth_token()
    assert http_error(excinfo) == (401, {"error": "server_error", "error_description": "access_denied"})
    # the access token still works
    assert api.get_table(table="sys_user", sysparm_query="user_name=admin").result[0].sys_id == ADMIN_SYS_ID


def test_client_credentials_grant(server, admin):
    """The constructor's `grant_type` selects the grant; it still insists on a username and
    password (and sends them), which the client_credentials grant ignores."""
    agent = admin.user("interaction_agent", prefix="appuser")
    app = admin.oauth_application(user=agent.user_name)

    api = oauth_for(server, app, "ignored", "ignored", grant_type="client_credentials")
    created = api.api_request("POST", "now/interaction", json={"channel": admin.third_party_connector()})

    assert created.response.status_code == 201
    stored = admin.get("interaction", created.result["result"]["sys_id"])
    assert stored["opened_by"] == agent.sys_id
