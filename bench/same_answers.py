"""Do two builds answer alike? Starts each binary with `serve --demo` on a database of its own,
sends both the same requests (the Interaction, Conversation Member and Agent Mapping APIs'
successes and refusals, JSON and XML, the OAuth endpoints, and some of the Table API), and
compares status, content type and body bytes, after replacing generated sys_ids, interaction
numbers, tokens, timestamps and the port by placeholders. For restructurings that must not change an answer:

    python3 bench/same_answers.py OLD_BINARY NEW_BINARY

Prints each answer that differs, then a count; exits 1 if any differs."""
import base64, json, os, re, signal, socket, subprocess, sys, tempfile, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(binary, dbdir):
    port = free_port()
    os.makedirs(dbdir, exist_ok=True)
    p = subprocess.Popen([binary, "serve", "--demo", "--listen", f"127.0.0.1:{port}", "--database", f"sqlite://{dbdir}/x.db"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1); break
        except Exception: time.sleep(0.1)
    return p, f"http://127.0.0.1:{port}"

AUTH = {"admin": "admin:admin", "integration": "integration:integration", "agent": "chat.agent:chat.agent", "none": None}

def req(base, method, path, body=None, who="admin", ctype="application/json", accept=None):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = urllib.request.Request(base + path, data=data, method=method)
    if data is not None and ctype: r.add_header("Content-Type", ctype)
    if accept: r.add_header("Accept", accept)
    if AUTH[who]: r.add_header("Authorization", "Basic " + base64.b64encode(AUTH[who].encode()).decode())
    try:
        resp = urllib.request.urlopen(r, timeout=10); status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    return status, hdrs.get("Content-Type"), raw

def normalise(raw, seen):
    text = raw.decode("utf-8", "replace")
    def sub(pattern, tag, t):
        def f(m):
            v = m.group(0)
            if v not in seen: seen[v] = f"<{tag}{len(seen)}>"
            return seen[v]
        return re.sub(pattern, f, t)
    text = sub(r"\b[0-9a-f]{32}\b", "id", text)
    text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "<t>", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "<host>", text)
    text = sub(r"IMS\d{7}", "n", text)
    text = sub(r"\b[A-Za-z0-9_-]{43}\b", "tok", text)
    return text

def scenario(base):
    out = []
    def call(*a, **k):
        s, ct, raw = req(base, *a, **k); out.append((a[0], a[1], s, ct, raw)); return s, raw
    demo_chat = None
    s, raw = call("GET", "/api/now/table/interaction_connector?sysparm_fields=sys_id,name,third_party")
    conns = json.loads(raw)["result"]
    third = [c["sys_id"] for c in conns if c["third_party"] == "true"][0]
    s, raw = call("POST", "/api/now/table/interaction_connector", {"name": "Plain", "type": "chat", "third_party": "false"})
    plain = json.loads(raw)["result"]["sys_id"]
    s, raw = call("POST", "/api/now/interaction", {"channel": third, "context": {"a": "b"}, "type": "chat"}, who="integration")
    inter = json.loads(raw)["result"]["sys_id"]
    call("POST", "/api/now/interaction", {"channel": third}, who="integration", accept="application/xml")
    call("POST", "/api/now/interaction", {"channel": plain, "channel_metadata": "{\"x\":1}", "short_description": 5}, who="integration")
    for bad in [{}, {"channel": ""}, {"channel": {"a": 1}}, {"channel": third, "context": [1]}, {"channel": third, "context_id": "x"},
                {"channel": "0"*32}, {"channel": third, "queue": "1"*32}, {"channel": third, "opened_for": "2"*32}, [1, 2], {"channel": "a\u0000b"}]:
        call("POST", "/api/now/interaction", bad, who="integration")
    call("POST", "/api/now/interaction", b"<request><channel>" + third.encode() + b"</channel></request>", who="integration", ctype="application/xml")
    call("POST", "/api/now/interaction", b"{not json", who="integration")
    call("POST", "/api/now/interaction", b"x", who="integration", ctype="text/plain")
    call("POST", "/api/now/interaction", {"channel": third}, who="none")
    call("POST", "/api/now/interaction", {"channel": third}, who="agent")
    call("POST", f"/api/now/interaction/{inter}/close", who="integration")
    call("POST", f"/api/now/interaction/{inter}/close", who="integration")
    call("POST", f"/api/now/interaction/{'f'*32}/close", who="integration")
    # members: demo data
    s, raw = call("GET", "/api/now/table/sys_cs_conversation_member?sysparm_fields=member,conversation.interaction,member_type,active&sysparm_display_value=false")
    s, raw = call("GET", "/api/now/table/sys_cs_conversation?sysparm_fields=sys_id,interaction&sysparm_exclude_reference_link=true")
    convs = json.loads(raw)["result"]
    s, raw = call("GET", "/api/now/table/sys_cs_conversation_member?sysparm_fields=member,conversation,member_type,active&sysparm_exclude_reference_link=true")
    members = json.loads(raw)["result"]
    conv_inter = {c["sys_id"]: c["interaction"] for c in convs}
    for m in members:
        i = conv_inter.get(m["conversation"])
        if not i: continue
        call("PUT", f"/api/now/conversation/member/{m['member']}/update", {"interaction_id": i, "member_type": "public_fulfiller"}, who="integration")
        call("PUT", f"/api/now/conversation/member/{m['member']}/update", {"interaction_id": i, "member_type": "public_fulfiller"}, who="integration", accept="application/xml")
        call("POST", f"/api/now/conversation/member/{m['member']}/drop", {"interaction_id": i}, who="integration")
        call("POST", f"/api/now/conversation/member/{m['member']}/drop", {"interaction_id": i}, who="integration")
    for bad in [{}, {"interaction_id": 5}, {"interaction_id": "x"}, {"interaction_id": inter}, {"interaction_id": inter, "member_type": "observer"}]:
        call("PUT", f"/api/now/conversation/member/{'a'*32}/update", bad, who="integration")
        call("PUT", f"/api/now/conversation/member/{'a'*32}/drop", bad, who="integration")
    call("PUT", f"/api/now/conversation/member/{'a'*32}/nope", {}, who="integration")
    call("PUT", f"/api/now/conversation/member/{'a'*32}/drop", b"<x", who="integration", ctype="application/xml")
    # mapping
    s, raw = call("GET", "/api/now/table/sys_user?sysparm_query=user_name=chat.agent&sysparm_fields=sys_id")
    agent = json.loads(raw)["result"][0]["sys_id"]
    for body in [{"external_agent_id": "e1"}, {"external_agent_id": "e1", "active": "false"}, {}, {"external_agent_id": 5}, {"external_agent_id": "e", "active": "yes"}, [1]]:
        call("PUT", f"/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/ServiceNowVoice", body, who="integration")
    call("PUT", f"/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/nope", {"external_agent_id": "e"}, who="integration")
    call("PUT", f"/api/sn_ct_ctr_it_core/agent_mapping/agent/{'b'*32}/inboundId/ServiceNowVoice", {"external_agent_id": "e"}, who="integration")
    call("PUT", f"/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/ServiceNowVoice", b"{bad", who="integration")
    call("PUT", f"/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/ServiceNowVoice", b"x", who="integration", ctype="text/plain")
    # table api
    call("GET", "/api/now/table/interaction?sysparm_limit=3")
    call("GET", "/api/now/table/interaction?sysparm_limit=2&sysparm_display_value=all", accept="application/xml")
    call("POST", "/api/now/table/awa_queue", {"name": "Q1"})
    call("POST", "/api/now/table/sys_user", {"user_name": "zed", "roles": "x", "user_password": "p"})
    call("POST", "/api/now/table/sys_user_has_role", {"user": "zed", "role": "itil"})
    call("POST", "/api/now/table/nope", {})
    call("GET", "/api/now/table/interaction?sysparm_query=bogus=1")
    call("DELETE", "/api/now/table/awa_queue/" + "c"*32)
    # oauth
    s, raw = call("GET", "/api/now/table/sys_user?sysparm_query=user_name=integration&sysparm_fields=sys_id")
    integration = json.loads(raw)["result"][0]["sys_id"]
    call("POST", "/api/now/table/oauth_entity", {"name": "app", "client_id": "app-id", "client_secret": "app-secret", "user": integration, "access_token_lifespan": 600})
    form = "application/x-www-form-urlencoded"
    def token(params, **k):
        return call("POST", "/oauth_token.do", "&".join(f"{a}={b}" for a, b in params).encode(), who="none", ctype=k.get("ctype", form))
    app = [("client_id", "app-id"), ("client_secret", "app-secret")]
    s, raw = token([("grant_type", "password"), ("username", "integration"), ("password", "integration")] + app)
    refresh = json.loads(raw)["refresh_token"]
    token([("grant_type", "refresh_token"), ("refresh_token", refresh)] + app)
    token([("grant_type", "client_credentials")] + app)
    for bad in [[], [("grant_type", "")], [("grant_type", "implicit")] + app, [("grant_type", "password")],
                [("grant_type", "password"), ("client_id", "app-id")], [("grant_type", "password")] + app,
                [("grant_type", "password"), ("username", "integration"), ("password", "wrong")] + app,
                [("grant_type", "client_credentials"), ("client_id", "app-id"), ("client_secret", "wrong")],
                [("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", "x")],
                [("grant_type", "refresh_token")] + app, [("grant_type", "refresh_token"), ("refresh_token", "nope")] + app,
                [("grant_type", "password%00")] + app]:
        token(bad)
    token([("grant_type", "client_credentials")] + app, ctype="application/json")
    call("POST", "/oauth_revoke_token.do", f"token={refresh}&client_id=app-id&client_secret=app-secret".encode(), who="none", ctype=form)
    call("POST", "/oauth_revoke_token.do", b"client_id=app-id&client_secret=app-secret", who="none", ctype=form)
    token([("grant_type", "refresh_token"), ("refresh_token", refresh)] + app)
    call("GET", "/api/now/nothing")
    call("PATCH", "/api/now/interaction")
    return out

old, new = sys.argv[1], sys.argv[2]
results = []
for i, binary in enumerate([old, new]):
    p, base = start(binary, os.path.join(tempfile.mkdtemp(prefix="same-answers-"), "db"))
    try: results.append(scenario(base))
    finally: p.send_signal(signal.SIGTERM); p.wait()
seen_a, seen_b = {}, {}
diffs = 0
for a, b in zip(*results):
    na, nb = normalise(a[4], seen_a), normalise(b[4], seen_b)
    if (a[0], a[2], a[3]) != (b[0], b[2], b[3]) or na != nb:
        diffs += 1
        print("DIFF", a[0], a[1], a[2], b[2], a[3], b[3]); print("  old:", na[:400]); print("  new:", nb[:400])
print(f"{len(results[0])} requests to each; {diffs} answers differ")
sys.exit(1 if diffs or len(results[0]) != len(results[1]) else 0)
