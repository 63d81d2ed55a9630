"""Fixtures for the client-library suite: one switchboard per session, and fresh records per test.

The server is the real binary (`SWITCHBOARD_BIN`, default `target/debug/switchboard` under the
repository root), started with `serve --demo` on a free port and a database of its own, and stopped
with SIGTERM at the end. Tests never rely on each other's order: each one creates the users,
connectors, interactions, members, provider identities and OAuth applications it needs, with
unique names, through the Table API as `admin` (plain `requests`, so that a library under test is
never also the one that prepared its own data).
"""

import datetime
import ipaddress
import os
import pathlib
import queue
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The clients talk to 127.0.0.1 only; a proxy configured in the environment must not intercept it.
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(
        p for p in (os.environ.get(_name, ""), "127.0.0.1", "localhost") if p
    )

# Demo facts (src/demo.rs) that the tests may rely on: they are restored at every start.
ADMIN = ("admin", "admin")
ADMIN_SYS_ID = "6816f79cc0a8016401c5a33be04be441"
DEMO_CONNECTOR = "28a59893873103002ae97e2526cb0b5d"  # third-party chat
DEMO_QUEUE = "f3a50867b30303002186a72256a8dcb7"

INTEGRATION_ROLES = ("awa_integration_user", "interaction_agent", "interaction_admin")


def unique(prefix="t"):
    """A name no other test (or earlier run on the same database) uses."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@dataclass
class Server:
    base_url: str  # http://127.0.0.1:PORT (https:// with TLS)
    host: str  # 127.0.0.1:PORT, as pysnow's `host=` takes it
    log: pathlib.Path
    ca: pathlib.Path | None = None  # with TLS: the self-signed certificate, to trust


def _binary():
    configured = pathlib.Path(os.environ.get("SWITCHBOARD_BIN") or "target/debug/switchboard")
    path = configured if configured.is_absolute() else ROOT / configured
    if not path.is_file():
        pytest.exit(
            f"switchboard binary not found at {path}: run `cargo build` or set SWITCHBOARD_BIN",
            returncode=2,
        )
    return path


def start_switchboard(tmp, extra_args=()):
    """Starts `switchboard serve --demo` (and `extra_args`) on a free port with its database in
    `tmp`; returns the process and a `Server` once it listens."""
    log_path = tmp / "server.log"
    # Flags decide everything; SWITCHBOARD_* variables of the caller's shell must not.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(_binary()),
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--database",
                f"sqlite://{tmp}/db.sqlite",
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp,
        )

    lines = queue.Queue()

    def drain():
        # The first line goes to the caller; the rest (the demo banner) is read and dropped so
        # that the server never blocks on a full pipe.
        for i, raw in enumerate(proc.stdout):
            if i == 0:
                lines.put(raw.decode("utf-8", "replace").strip())
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        first = lines.get(timeout=120)
    except queue.Empty:
        first = None
    prefix = "listening on "
    if not first or not first.startswith((prefix + "http://", prefix + "https://")):
        proc.kill()
        proc.wait()
        pytest.exit(
            f"switchboard did not start (first stdout line {first!r}); log:\n"
            + log_path.read_text(errors="replace")[-4000:],
            returncode=3,
        )
    base_url = first[len(prefix):]
    return proc, Server(base_url=base_url, host=base_url.split("://", 1)[1], log=log_path)


def stop_switchboard(proc, log_path):
    """SIGTERM, and a clean exit."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("switchboard did not stop within 30 s of SIGTERM")
    assert code == 0, f"switchboard exited with {code} on SIGTERM; log: {log_path}"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    proc, started = start_switchboard(tmp_path_factory.mktemp("switchboard"))
    yield started
    stop_switchboard(proc, started.log)


def self_signed_certificate(directory):
    """A fresh self-signed certificate for 127.0.0.1 and localhost (EC P-256, one day), written
    as cert.pem and key.pem in `directory`; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory):
    """A second switchboard, serving HTTPS only with a self-signed certificate (`ca` names it):
    for clients that refuse plain http (pysnc)."""
    tmp = tmp_path_factory.mktemp("switchboard-tls")
    cert, key = self_signed_certificate(tmp)
    proc, started = start_switchboard(tmp, ["--tls-cert", str(cert), "--tls-key", str(key)])
    assert started.base_url.startswith("https://"), started.base_url
    started.ca = cert
    yield started
    stop_switchboard(proc, started.log)


class Admin:
    """Test setup through the Table API as admin, with plain `requests`."""

    def __init__(self, base_url, ca=None):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = ADMIN
        if ca is not None:
            # Trust the test certificate. requests lets REQUESTS_CA_BUNDLE (often set machine-wide)
            # override a session's `verify`, so the environment is not consulted here.
            self.session.verify = str(ca)
            self.session.trust_env = False

    def url(self, path):
        return f"{self.base_url}{path}"

    def insert(self, table, **fields):
        r = self.session.post(self.url(f"/api/now/table/{table}"), json=fields)
        assert r.status_code == 201, f"setup insert into {table} failed: {r.status_code} {r.text}"
        return r.json()["result"]

    def get(self, table, sys_id):
        r = self.session.get(
            self.url(f"/api/now/table/{table}/{sys_id}"),
            params={"sysparm_exclude_reference_link": "true"},
        )
        assert r.status_code == 200, f"setup read of {table}/{sys_id} failed: {r.text}"
        return r.json()["result"]

    def query(self, table, query):
        r = self.session.get(
            self.url(f"/api/now/table/{table}"),
            params={"sysparm_query": query, "sysparm_exclude_reference_link": "true"},
        )
        assert r.status_code == 200, f"setup query of {table} failed: {r.text}"
        return r.json()["result"]

    # -- the records tests need --------------------------------------------------------------

    def user(self, *roles, prefix="user", password=None):
        """A fresh active user holding `roles`; its password is `password`, or its user name."""
        name = unique(prefix)
        password = password or name
        record = self.insert(
            "sys_user", user_name=name, first_name="Test", last_name=name, user_password=password
        )
        for role in roles:
            self.insert("sys_user_has_role", user=record["sys_id"], role=role)
        return User(user_name=name, password=password, sys_id=record["sys_id"])

    def third_party_connector(self):
        return self.insert(
            "interaction_connector",
            name=unique("chat connector "),
            type="chat",
            third_party=True,
            active=True,
        )["sys_id"]

    def plain_connector(self):
        return self.insert(
            "interaction_connector", name=unique("phone connector "), type="phone", active=True
        )["sys_id"]

    def queue(self):
        return self.insert("awa_queue", name=unique("queue "), active=True)["sys_id"]

    def chat(self, *members):
        """A fresh third-party chat interaction (made through POST /api/now/interaction) whose
        conversation holds `members`, given as (User, member_type) pairs."""
        r = self.session.post(
            self.url("/api/now/interaction"), json={"channel": self.third_party_connector()}
        )
        assert r.status_code == 201, f"setup interaction failed: {r.text}"
        interaction = r.json()["result"]["sys_id"]
        conversations = self.query("sys_cs_conversation", f"interaction={interaction}")
        assert len(conversations) == 1, conversations
        conversation = conversations[0]["sys_id"]
        for user, member_type in members:
            self.insert(
                "sys_cs_conversation_member",
                conversation=conversation,
                member=user.sys_id,
                member_type=member_type,
            )
        return Chat(interaction=interaction, conversation=conversation)

    def members(self, chat, user):
        return self.query(
            "sys_cs_conversation_member",
            f"conversation={chat.conversation}^member={user.sys_id}",
        )

    def provider_application(self, active=True):
        """A fresh provider channel identity with an inbound id of its own."""
        inbound_id = unique("inbound")
        self.insert(
            "sys_cs_provider_application",
            name=unique("identity "),
            inbound_id=inbound_id,
            provider="switchboard tests",
            active=active,
        )
        return inbound_id

    def oauth_application(self, user=None, **extra):
        """A fresh oauth_entity; `user` is the identity of its client_credentials tokens."""
        app = OAuthApp(client_id=unique("client"), client_secret=unique("secret"))
        fields = dict(name=unique("app "), client_id=app.client_id, client_secret=app.client_secret)
        if user is not None:
            fields["user"] = user
        fields.update(extra)
        app.sys_id = self.insert("oauth_entity", **fields)["sys_id"]
        return app


@dataclass
class User:
    user_name: str
    password: str
    sys_id: str


@dataclass
class Chat:
    interaction: str
    conversation: str


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    sys_id: str = ""


@pytest.fixture(scope="session")
def admin(server):
    return Admin(server.base_url)


@pytest.fixture(scope="session")
def tls_admin(tls_server):
    """Test setup on the TLS server."""
    return Admin(tls_server.base_url, ca=tls_server.ca)


@pytest.fixture
def integration_user(admin):
    """A fresh user with the roles a CCaaS provider's integration user holds."""
    return admin.user(*INTEGRATION_ROLES, prefix="integration")


@pytest.fixture
def oauth_app(admin):
    return admin.oauth_application()
