"""The curl snippets of docs/clients.md, run as written (through bash) against the test server.

Each snippet reads `$SN` (the base URL) and the variables the page tells the reader to set.
"""

import json
import shutil
import subprocess

import pytest

from conftest import ADMIN_SYS_ID, unique

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def sh(script, **env):
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{script}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done.stdout


def test_register_an_application_and_use_the_password_grant(server):
    client_id, client_secret = unique("curl-client"), unique("curl-secret")
    env = dict(SN=server.base_url, CLIENT_ID=client_id, CLIENT_SECRET=client_secret)

    # docs/clients.md: "Register an OAuth application"
    registered = json.loads(sh(
        """curl -s -u admin:admin -H 'Content-Type: application/json' \\
  -d "{\\"name\\":\\"my integration\\",\\"client_id\\":\\"$CLIENT_ID\\",\\"client_secret\\":\\"$CLIENT_SECRET\\"}" \\
  "$SN/api/now/table/oauth_entity"
""", **env))
    assert registered["result"]["client_id"] == client_id
    assert "client_secret" not in registered["result"]

    # docs/clients.md: "Get a token (password grant)"
    token = json.loads(sh(
        """curl -s "$SN/oauth_token.do" \\
  -d grant_type=password -d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET" \\
  -d username=admin -d password=admin
""", **env))
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "useraccount"
    assert token["expires_in"] == 1799
    env.update(ACCESS_TOKEN=token["access_token"], REFRESH_TOKEN=token["refresh_token"])

    # docs/clients.md: "Use it"
    users = json.loads(sh(
        """curl -s -H "Authorization: Bearer $ACCESS_TOKEN" \\
  "$SN/api/now/table/sys_user?sysparm_query=user_name=admin&sysparm_fields=sys_id,user_name"
""", **env))
    assert users == {"result": [{"sys_id": ADMIN_SYS_ID, "user_name": "admin"}]}

    # docs/clients.md: "Refresh it"
    refreshed = json.loads(sh(
        """curl -s "$SN/oauth_token.do" \\
  -d grant_type=refresh_token -d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET" \\
  -d refresh_token="$REFRESH_TOKEN"
""", **env))
    assert set(refreshed) == {"access_token", "scope", "token_type", "expires_in"}
    assert refreshed["access_token"] != token["access_token"]

    # docs/clients.md: "Revoke it"
    assert sh(
        """curl -s -o /dev/null -w '%{http_code}' "$SN/oauth_revoke_token.do" \\
  -d token="$ACCESS_TOKEN" -d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET"
""", **env) == "200"
    assert sh(
        """curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ACCESS_TOKEN" \\
  "$SN/api/now/table/sys_user?sysparm_limit=1"
""", **env) == "401"


def test_client_credentials_grant(server, admin):
    agent = admin.user("interaction_agent", prefix="curlapp")
    app = admin.oauth_application(user=agent.user_name)
    env = dict(SN=server.base_url, CLIENT_ID=app.client_id, CLIENT_SECRET=app.client_secret)

    # docs/clients.md: "client_credentials"
    token = json.loads(sh(
        """curl -s -u "$CLIENT_ID:$CLIENT_SECRET" "$SN/oauth_token.do" -d grant_type=client_credentials
""", **env))
    assert "refresh_token" not in token
    env["ACCESS_TOKEN"] = token["access_token"]

    created = json.loads(sh(
        """curl -s -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' \\
  -d '{"channel":"28a59893873103002ae97e2526cb0b5d"}' "$SN/api/now/interaction"
""", **env))
    assert admin.get("interaction", created["result"]["sys_id"])["opened_by"] == agent.sys_id
