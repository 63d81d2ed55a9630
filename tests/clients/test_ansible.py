"""The Ansible collection servicenow.itsm 2.15.1 against switchboard: its generic `api` and
`api_info` modules, run as their users run them, with ansible-playbook and with ad-hoc
`ansible localhost -m ...`, asserting on the JSON the modules return.

The collection is not on PyPI. Its packed copy is ../shared/clients/servicenow.itsm-2.15.1.tar.gz
beside the checkout; it is unpacked at test time into a temporary directory named by
ANSIBLE_COLLECTIONS_PATH, and never copied into the repository. Without it these tests are
skipped. ansible-core comes from PyPI (requirements.txt).

The modules run as a fresh admin whose password is unlike any value they return: Ansible masks
every returned string equal to a no_log parameter such as `password` ("admin"'s password is
"admin", so its own user name would come back as VALUE_SPECIFIED_IN_NO_LOG_PARAMETER).
"""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import ROOT, unique

TARBALL = ROOT.parent / "shared" / "clients" / "servicenow.itsm-2.15.1.tar.gz"

pytestmark = pytest.mark.skipif(
    not TARBALL.is_file(),
    reason=f"the servicenow.itsm collection is not there: {TARBALL} is missing",
)

BIN = Path(sys.executable).parent


class Ansible:
    """ansible-playbook and ansible, with the unpacked collection and nothing from the machine's
    own Ansible configuration."""

    def __init__(self, home, instance):
        self.home = home
        self.instance = instance  # the `instance` option: host, username, password
        config = home / "ansible.cfg"
        config.write_text("[defaults]\n")
        self.env = {
            "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "ANSIBLE_CONFIG": str(config),
            "ANSIBLE_COLLECTIONS_PATH": str(home / "collections"),
            "ANSIBLE_HOME": str(home / ".ansible"),
            "ANSIBLE_LOCAL_TEMP": str(home / ".ansible" / "tmp"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_PIPELINING": "true",  # modules fed on stdin: no temporary files, fewer processes
        }

    def run(self, args, env=None):
        done = subprocess.run(
            args,
            cwd=self.home,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done

    def playbook(self, tasks, **variables):
        """Runs a play on localhost whose `tasks` (YAML text, each registering a result) may use
        `{{ sn }}` for the instance and `variables`; returns the registered results by name."""
        name = unique("play")
        out = self.home / f"{name}.json"
        registered = [
            line.split("register:")[1].strip() for line in tasks.splitlines() if "register:" in line
        ]
        play = (
            "- hosts: localhost\n"
            "  gather_facts: false\n"
            "  tasks:\n"
            + "".join(f"    {line}\n" if line.strip() else "\n" for line in tasks.strip("\n").splitlines())
            + "    - name: write the results\n"
            "      ansible.builtin.copy:\n"
            f"        dest: {out}\n"
            "        content: \"{{ {"
            + ", ".join(f"'{r}': {r}" for r in registered)
            + "} | to_json }}\"\n"
        )
        (self.home / f"{name}.yml").write_text(play)
        (self.home / f"{name}.vars.json").write_text(json.dumps(dict(variables, sn=self.instance)))
        done = self.run(
            [str(BIN / "ansible-playbook"), f"{name}.yml", "-e", f"@{name}.vars.json"]
        )
        assert done.returncode == 0, f"{play}\nstdout: {done.stdout[-6000:]}\nstderr: {done.stderr[-3000:]}"
        return json.loads(out.read_text())

    def ad_hoc(self, module, args, env=None):
        """`ansible localhost -m MODULE -a ARGS --tree DIR`: the module's result."""
        tree = self.home / unique("tree")
        done = self.run(
            [str(BIN / "ansible"), "localhost", "-m", module, "-a", args, "--tree", str(tree)],
            env=env,
        )
        assert done.returncode == 0, f"stdout: {done.stdout[-6000:]}\nstderr: {done.stderr[-3000:]}"
        return json.loads((tree / "localhost").read_text())


@pytest.fixture(scope="module")
def ansible_admin(admin):
    return admin.user("admin", prefix="ansible", password=unique("pw-"))


@pytest.fixture(scope="module")
def ansible(tmp_path_factory, server, ansible_admin):
    home = tmp_path_factory.mktemp("ansible")
    with tarfile.open(TARBALL) as packed:
        packed.extractall(home / "collections", filter="data")
    assert (home / "collections" / "ansible_collections" / "servicenow" / "itsm").is_dir()
    return Ansible(
        home,
        {"host": server.base_url, "username": ansible_admin.user_name, "password": ansible_admin.password},
    )


def test_create_query_update_delete(ansible, admin, ansible_admin):
    name = unique("ansible queue ")

    results = ansible.playbook(
        """
- name: Create a queue
  servicenow.itsm.api:
    instance: "{{ sn }}"
    resource: awa_queue
    action: post
    data:
      name: "{{ queue_name }}"
      active: true
  register: created

- name: Find it
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: awa_queue
    sysparm_query: "name={{ queue_name }}"
  register: found

- name: Deactivate it
  servicenow.itsm.api:
    instance: "{{ sn }}"
    resource: awa_queue
    action: patch
    sys_id: "{{ created.record.sys_id }}"
    data:
      active: false
  register: updated

- name: Delete it
  servicenow.itsm.api:
    instance: "{{ sn }}"
    resource: awa_queue
    action: delete
    sys_id: "{{ created.record.sys_id }}"
  register: deleted

- name: Find it again
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: awa_queue
    sysparm_query: "name={{ queue_name }}"
  register: gone
""",
        queue_name=name,
    )

    created = results["created"]
    assert created["changed"] is True
    record = created["record"]
    assert (record["name"], record["active"], record["sys_created_by"]) == (
        name, "true", ansible_admin.user_name,
    )
    assert created["diff"] == {"before": None, "after": record}

    assert results["found"]["changed"] is False
    assert results["found"]["record"] == [record]

    updated = results["updated"]
    assert updated["changed"] is True
    assert (updated["record"]["active"], updated["record"]["sys_mod_count"]) == ("false", "1")
    assert updated["diff"]["before"] == record

    deleted = results["deleted"]
    assert (deleted["changed"], deleted["record"]) == (True, None)
    assert deleted["diff"]["before"]["active"] == "false"
    assert results["gone"]["record"] == []
    assert admin.query("awa_queue", f"sys_id={record['sys_id']}") == []


def test_api_info_queries(ansible, admin, server):
    prefix = unique("ans")
    users = [
        admin.user("interaction_agent", prefix=prefix + suffix) for suffix in ("a", "b", "c")
    ]

    results = ansible.playbook(
        """
- name: Users by encoded query, some columns
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: sys_user
    sysparm_query: "user_nameSTARTSWITH{{ prefix }}^user_name!={{ skip }}^ORDERBYDESCuser_name"
    columns:
      - user_name
      - last_name
  register: by_query

- name: One user by sys_id
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: sys_user
    sys_id: "{{ one }}"
    columns: [user_name]
  register: by_sys_id

- name: A role grant with display values and links
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: sys_user_has_role
    sysparm_query: "user={{ one }}"
    display_value: "all"
    columns: [user, role]
  register: both

- name: The same, display values only, no links
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: sys_user_has_role
    sysparm_query: "user={{ one }}"
    display_value: "true"
    exclude_reference_link: true
    columns: [user, role]
  register: shown

- name: Nothing matches
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: sys_user
    sysparm_query: "user_name={{ prefix }}-nobody"
  register: nothing
""",
        prefix=prefix,
        skip=users[1].user_name,
        one=users[0].sys_id,
    )

    assert results["by_query"]["record"] == [
        {"user_name": users[2].user_name, "last_name": users[2].user_name},
        {"user_name": users[0].user_name, "last_name": users[0].user_name},
    ]
    assert results["by_sys_id"]["record"] == [{"user_name": users[0].user_name}]
    (grant,) = results["both"]["record"]
    assert grant["user"] == {
        "display_value": f"Test {users[0].user_name}",
        "value": users[0].sys_id,
        "link": f"{server.base_url}/api/now/table/sys_user/{users[0].sys_id}",
    }
    assert grant["role"]["display_value"] == "interaction_agent"
    assert results["shown"]["record"] == [
        {"user": f"Test {users[0].user_name}", "role": "interaction_agent"}
    ]
    assert results["nothing"]["record"] == []


def test_api_path_query_params_and_check_mode(ansible, admin):
    name = unique("ansible path ")

    results = ansible.playbook(
        """
- name: Create through api_path, asking for two fields back
  servicenow.itsm.api:
    instance: "{{ sn }}"
    api_path: api/now/table/awa_queue
    action: post
    query_params:
      sysparm_fields: sys_id,name
    data:
      name: "{{ queue_name }}"
  register: created

- name: Read it through api_path
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    api_path: api/now/table/awa_queue
    sysparm_query: "name={{ queue_name }}"
    columns: [name, active]
  register: found

- name: Create in check mode
  servicenow.itsm.api:
    instance: "{{ sn }}"
    resource: awa_queue
    action: post
    data:
      name: "{{ queue_name }} (check)"
  check_mode: true
  register: checked
""",
        queue_name=name,
    )

    record = results["created"]["record"]
    assert set(record) == {"sys_id", "name"} and record["name"] == name
    assert results["found"]["record"] == [{"name": name, "active": "true"}]
    assert results["checked"]["changed"] is True
    assert results["checked"]["record"] == {"name": f"{name} (check)"}
    assert admin.query("awa_queue", f"name={name} (check)") == []


def test_failures(ansible):
    missing = "0" * 32
    results = ansible.playbook(
        """
- name: A table switchboard does not have
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: change_request
  register: unknown_table
  ignore_errors: true

- name: A bad query
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: sys_user
    sysparm_query: "user_nameNOPEadmin"
  register: bad_query
  ignore_errors: true

- name: Update a record that is not there
  servicenow.itsm.api:
    instance: "{{ sn }}"
    resource: awa_queue
    action: patch
    sys_id: "{{ missing }}"
    data:
      active: false
  register: update_missing

- name: Delete a record that is not there
  servicenow.itsm.api:
    instance: "{{ sn }}"
    resource: awa_queue
    action: delete
    sys_id: "{{ missing }}"
  register: delete_missing

- name: Wrong password
  servicenow.itsm.api_info:
    instance:
      host: "{{ sn.host }}"
      username: "{{ sn.username }}"
      password: wrong
    resource: sys_user
  register: unauthenticated
  ignore_errors: true
""",
        missing=missing,
    )

    assert results["unknown_table"]["failed"] is True
    assert results["unknown_table"]["msg"].startswith("Unexpected response - 400 ")
    assert "Invalid table" in results["unknown_table"]["msg"]
    assert results["bad_query"]["failed"] is True
    assert "Invalid query" in results["bad_query"]["msg"]
    # the modules read the 404 of the record as "nothing to do"
    assert (results["update_missing"]["changed"], results["update_missing"]["record"]) == (False, None)
    assert (results["delete_missing"]["changed"], results["delete_missing"]["record"]) == (False, None)
    assert results["unauthenticated"]["failed"] is True
    assert "401" in results["unauthenticated"]["msg"]


def test_oauth(ansible, admin, ansible_admin):
    app = admin.oauth_application(user=ansible_admin.user_name)

    results = ansible.playbook(
        """
- name: Password grant
  servicenow.itsm.api_info:
    instance:
      host: "{{ sn.host }}"
      username: "{{ sn.username }}"
      password: "{{ sn.password }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
    resource: sys_user
    sys_id: "{{ me }}"
    columns: [user_name]
  register: password_grant

- name: Client credentials grant (acting as the application's user)
  servicenow.itsm.api:
    instance:
      host: "{{ sn.host }}"
      grant_type: client_credentials
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
    resource: awa_queue
    action: post
    data:
      name: "{{ queue_name }}"
  register: client_credentials

- name: A wrong client secret
  servicenow.itsm.api_info:
    instance:
      host: "{{ sn.host }}"
      username: "{{ sn.username }}"
      password: "{{ sn.password }}"
      client_id: "{{ client_id }}"
      client_secret: wrong
    resource: sys_user
  register: wrong_secret
  ignore_errors: true
""",
        client_id=app.client_id,
        client_secret=app.client_secret,
        me=ansible_admin.sys_id,
        queue_name=unique("oauth queue "),
    )

    assert results["password_grant"]["record"] == [{"user_name": ansible_admin.user_name}]
    assert results["client_credentials"]["record"]["sys_created_by"] == ansible_admin.user_name
    assert results["wrong_secret"]["failed"] is True
    assert results["wrong_secret"]["msg"].startswith("Failed to authenticate with the instance: 401")


def test_ad_hoc_with_the_environment(ansible, admin, server, ansible_admin):
    user = admin.user(prefix="adhoc")
    env = {
        "SN_HOST": server.base_url,
        "SN_USERNAME": ansible_admin.user_name,
        "SN_PASSWORD": ansible_admin.password,
    }

    result = ansible.ad_hoc(
        "servicenow.itsm.api_info",
        f"resource=sys_user sysparm_query=user_name={user.user_name} columns=user_name,sys_id",
        env=env,
    )

    assert result["changed"] is False
    assert result["record"] == [{"user_name": user.user_name, "sys_id": user.sys_id}]


def test_a_long_query_goes_through_tinyurl(ansible, admin):
    prefix = unique("tiny")
    for i in range(3):
        admin.insert("awa_queue", name=f"{prefix}{i}")
    # 150 names that match nothing: the GET URL passes the collection's 2048 characters, so it
    # POSTs the URL to /api/now/tinyurl and GETs the table with sysparm_tiny instead
    names = [f"{prefix}{i}" for i in range(3)] + [unique("nothing") for _ in range(150)]
    query = "nameIN" + ",".join(names) + "^ORDERBYname"
    assert len(query) > 2048

    results = ansible.playbook(
        """
- name: A long query
  servicenow.itsm.api_info:
    instance: "{{ sn }}"
    resource: awa_queue
    sysparm_query: "{{ long_query }}"
  register: found
""",
        long_query=query,
    )

    assert [r["name"] for r in results["found"]["record"]] == [f"{prefix}{i}" for i in range(3)]
    # and it did go the long way: the query string is kept in sys_tiny_url
    assert len(admin.query("sys_tiny_url", f"dataLIKE{prefix}")) == 1
