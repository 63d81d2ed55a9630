"""aiosnow (asyncio) against switchboard, used as its documentation shows: models declared with
aiosnow's fields, its query builder, and the models' create/get/update/delete.

`aiosnow.Client(address, basic_auth=..., use_ssl=False)` reaches plain http. Every test runs its
coroutine with asyncio.run, and builds its models inside it (aiosnow's attachment model needs a
running event loop).

Operators: the query builder's `contains()` sends `*`, `not_contains()` `!*`, a comparison with
another field `SAMEAS`, `NSAMEAS` or `GT_FIELD`..., a date's `on()`/`not_on()` `ON`/`NOTON`, and
`is_empty()`, `is_populated()`, `is_anything()` send `ISEMPTYNone`, `ISNOTEMPTYNone`,
`ANYTHINGNone` (aiosnow writes the missing value as "None", which switchboard ignores after an
operator that takes no value, as the platform does).
"""

import asyncio
import datetime
import time

import aiosnow
import pytest
from aiosnow import ModelSchema, Pluck, TableModel, fields
from aiosnow.exceptions import DeleteError, NoItems, RequestError

from conftest import ADMIN, DEMO_CONNECTOR, DEMO_QUEUE, unique



def case(name, condition, sent, *expected):
    """One query-builder case: what aiosnow sends, and the records it selects."""
    return pytest.param(condition, sent, *expected, id=name)


def sysparm_query(condition):
    """What aiosnow puts in sysparm_query for `condition` (and the conditions chained to it)."""
    return aiosnow.select(condition).sysparms


# -- Models, as an aiosnow user declares them ------------------------------------------------------


class Queue(TableModel):
    sys_id = fields.String(is_primary=True)
    name = fields.String()
    active = fields.Boolean()
    sys_created_by = fields.String()
    sys_mod_count = fields.Integer()


class QueueReference(ModelSchema):
    sys_id = fields.String(is_primary=True)
    name = fields.String()


class Interaction(TableModel):
    sys_id = fields.String(is_primary=True)
    number = fields.String()
    short_description = fields.String()
    type = fields.String()
    state = fields.String()
    active = fields.Boolean()
    opened_at = fields.DateTime()
    channel = fields.String(pluck=Pluck.DISPLAY_VALUE)
    queue = QueueReference  # a nested schema: aiosnow follows the reference's link


class OAuthEntity(TableModel):
    sys_id = fields.String(is_primary=True)
    name = fields.String()
    access_token_lifespan = fields.Integer()
    refresh_token_lifespan = fields.Integer()


def client_for(server, user=None):
    auth = ADMIN if user is None else (user.user_name, user.password)
    return aiosnow.Client(server.host, basic_auth=auth, use_ssl=False)


def run(coroutine):
    return asyncio.run(coroutine)


# -- Create, read, update, delete ------------------------------------------------------------------


def test_create_read_update_delete(server, admin):
    name = unique("queue ")

    async def scenario():
        async with Queue(client_for(server), table_name="awa_queue") as queues:
            created = await queues.create({"name": name, "active": True})
            assert created.status == 201
            record = created.data
            assert (record["name"], record["active"], record["sys_created_by"]) == (name, True, "admin")
            sys_id = record["sys_id"]

            found = await queues.get_one(Queue.name == name)
            assert found.data["sys_id"] == sys_id

            updated = await queues.update(Queue.sys_id == sys_id, {"active": False})
            assert updated.status == 200
            assert (updated.data["active"], updated.data["sys_mod_count"]) == (False, 1)
            renamed = await queues.update(sys_id, {"name": name + " (renamed)"})
            assert renamed.data["name"] == name + " (renamed)"

            deleted = await queues.delete(Queue.name == name + " (renamed)")
            assert deleted.status == 204
            assert len(await queues.get(Queue.sys_id == sys_id)) == 0
            with pytest.raises(NoItems):
                await queues.get_one(Queue.sys_id == sys_id)
            with pytest.raises(DeleteError):
                await queues.delete(Queue.sys_id == sys_id)
            return sys_id

    sys_id = run(scenario())
    assert admin.query("awa_queue", f"sys_id={sys_id}") == []


def test_ordering_limit_offset_and_streaming(server, admin):
    prefix = unique("stream")
    for i in range(5):
        admin.insert("awa_queue", name=f"{prefix}{i}")

    async def scenario():
        async with Queue(client_for(server), table_name="awa_queue") as queues:
            mine = Queue.name.starts_with(prefix)
            ascending = await queues.get(aiosnow.select(mine).order_asc(Queue.name))
            descending = await queues.get(
                aiosnow.select(Queue.name.starts_with(prefix)).order_desc(Queue.name)
            )
            window = await queues.get(
                aiosnow.select(Queue.name.starts_with(prefix)).order_asc(Queue.name),
                limit=2,
                offset=1,
            )
            # stream() pages through the records, page_size at a time, by the Link header
            streamed = [
                record["name"]
                async for _, record in queues.stream(
                    aiosnow.select(Queue.name.starts_with(prefix)).order_asc(Queue.name), page_size=2
                )
            ]
            return ascending, descending, window, streamed

    ascending, descending, window, streamed = run(scenario())
    names = [f"{prefix}{i}" for i in range(5)]
    assert [r["name"] for r in ascending] == names
    assert [r["name"] for r in descending] == names[::-1]
    # aiosnow's get(limit=2, offset=1) sends sysparm_offset=1 and sysparm_limit=3 (offset + limit)
    assert [r["name"] for r in window] == names[1:4]
    assert streamed == names


def test_references_display_values_and_nested_records(server, admin):
    connector = admin.insert(
        "interaction_connector", name=unique("connector "), type="chat", third_party=True
    )
    queue = admin.insert("awa_queue", name=unique("queue "))

    async def scenario():
        async with Interaction(client_for(server), table_name="interaction") as interactions:
            created = await interactions.create(
                {"channel": connector["sys_id"], "queue": queue["sys_id"], "short_description": "hi"}
            )
            return created.data, (await interactions.get_one(Interaction.sys_id == created.data["sys_id"])).data

    created, read = run(scenario())
    assert created["number"].startswith("IMS")
    assert read["channel"] == connector["name"]  # Pluck.DISPLAY_VALUE
    # the nested QueueReference was fetched through the reference's link
    assert read["queue"] == {"sys_id": queue["sys_id"], "name": queue["name"]}


def test_errors(server, admin):
    reader = admin.user("interaction_agent", prefix="aioreader")
    stranger = admin.user(prefix="aiowrong")
    stranger.password = "wrong"

    async def scenario():
        async with Queue(client_for(server, reader), table_name="awa_queue") as queues:
            with pytest.raises(RequestError) as refused:
                await queues.create({"name": unique("queue ")})
        async with Queue(client_for(server, stranger), table_name="awa_queue") as queues:
            with pytest.raises(RequestError) as unauthenticated:
                await queues.get(Queue.name == "x")
        async with Queue(client_for(server), table_name="no_such_table") as queues:
            with pytest.raises(RequestError) as unknown_table:
                await queues.get(Queue.name == "x")
        return refused.value, unauthenticated.value, unknown_table.value

    refused, unauthenticated, unknown_table = run(scenario())
    assert (refused.status, refused.message) == (
        403, "Operation Failed: ACL Exception Insert Failed due to security constraints"
    )
    assert unauthenticated.status == 401
    assert unauthenticated.message == "User Not Authenticated: Required to provide Auth information"
    assert unknown_table.status == 400
    assert unknown_table.message.startswith("Invalid table")


# -- The query builder -----------------------------------------------------------------------------
#
# Four interactions: A, B, C (every field filled in) and D (no short description, type or opening
# time). Each case is run scoped to A-D by sys_id; a case whose operator's treatment of an empty
# value is not this test's business is scoped to A-C.

OPENED_A = "2024-01-02 03:04:05"
OPENED_B = "2024-06-01 12:00:00"
TODAY = "Today@javascript:gs.daysAgoStart(0)@javascript:gs.daysAgoEnd(0)"  # the platform's form


def _not_near_midnight():
    """C is opened 'today' (UTC): keep its creation and the query on the same day."""
    now = datetime.datetime.now(datetime.timezone.utc)
    to_midnight = (datetime.datetime.combine(now.date(), datetime.time(), now.tzinfo)
                   + datetime.timedelta(days=1) - now).total_seconds()
    if to_midnight < 15:
        time.sleep(to_midnight + 1)
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def interactions(server, admin):
    """sys_ids of A, B, C and D, by letter."""
    common = dict(channel=DEMO_CONNECTOR, queue=DEMO_QUEUE)
    rows = {
        "A": dict(short_description="disk io-0 failure", type="new", state="new", opened_at=OPENED_A),
        "B": dict(short_description="network down", type="chat", state="closed", opened_at=OPENED_B,
                  active=False),
        "C": dict(short_description="printer jam", type="phone", state="work_in_progress",
                  opened_at=_not_near_midnight()),
        "D": dict(short_description="", type="", state="new", opened_at=""),
    }
    return {letter: admin.insert("interaction", **common, **row)["sys_id"] for letter, row in rows.items()}


S = Interaction.short_description  # for short case tables

STRING_CASES = [
    # name, condition, what aiosnow sends, the interactions matched, the interactions in scope
    case("equals", lambda: S == "network down", "short_description=network down", "B", "ABCD"),
    case("not_equals", lambda: S != "network down", "short_description!=network down", "AC", "ABC"),
    case("starts_with", lambda: S.starts_with("disk"), "short_descriptionSTARTSWITHdisk", "A", "ABCD"),
    case("ends_with", lambda: S.ends_with("jam"), "short_descriptionENDSWITHjam", "C", "ABCD"),
    case("in_list", lambda: S.in_list(["network down", "printer jam"]),
         "short_descriptionINnetwork down,printer jam", "BC", "ABCD"),
    case("not_in_list", lambda: S.not_in_list(["network down"]),
         "short_descriptionNOT INnetwork down", "AC", "ABC"),
    # aiosnow writes the missing value of ISEMPTY, ISNOTEMPTY and ANYTHING as "None"
    case("is_empty", lambda: S.is_empty(), "short_descriptionISEMPTYNone", "D", "ABCD"),
    case("is_populated", lambda: S.is_populated(), "short_descriptionISNOTEMPTYNone", "ABC", "ABCD"),
    case("less_or_equals", lambda: S <= "m", "short_description<=m", "A", "ABC"),
    case("greater_or_equals", lambda: S >= "n", "short_description>=n", "BC", "ABC"),
    case("between", lambda: S.between("m", "o"), "short_descriptionBETWEENm@o", "B", "ABC"),
    case("or", lambda: S.starts_with("disk") | S.ends_with("jam"),
         "short_descriptionSTARTSWITHdisk^ORshort_descriptionENDSWITHjam", "AC", "ABCD"),
    case("is_true", lambda: Interaction.active.is_true(), "active=true", "ACD", "ABCD"),
    case("is_falsy", lambda: Interaction.active.is_falsy(), "active!=true", "B", "ABCD"),
    case("before", lambda: Interaction.opened_at.before("2024-03-01 00:00:00"),
         "opened_at<2024-03-01 00:00:00", "A", "ABC"),
    case("after", lambda: Interaction.opened_at.after("2024-03-01 00:00:00"),
         "opened_at>2024-03-01 00:00:00", "BC", "ABC"),
    case("until", lambda: Interaction.opened_at.until(OPENED_B), f"opened_at<={OPENED_B}", "AB", "ABC"),
    case("as_of", lambda: Interaction.opened_at.as_of(OPENED_B), f"opened_at>={OPENED_B}", "BC", "ABC"),
    case("date_between",
         lambda: Interaction.opened_at.between("2024-01-01 00:00:00", "2024-12-31 23:59:59"),
         "opened_atBETWEEN2024-01-01 00:00:00@2024-12-31 23:59:59", "AB", "ABC"),
    case("contains", lambda: S.contains("io-0"), "short_description*io-0", "A", "ABCD"),
    case("not_contains", lambda: S.not_contains("io-0"), "short_description!*io-0", "BC", "ABC"),
    case("is_anything", lambda: S.is_anything(), "short_descriptionANYTHINGNone", "ABCD", "ABCD"),
    case("same_as_field", lambda: Interaction.state == Interaction.type, "stateSAMEAStype",
         "A", "ABC"),
    case("different_from_field", lambda: Interaction.state != Interaction.type,
         "stateNSAMEAStype", "BC", "ABC"),
    case("on", lambda: Interaction.opened_at.on(TODAY), f"opened_atON{TODAY}", "C", "ABC"),
    case("not_on", lambda: Interaction.opened_at.not_on(TODAY), f"opened_atNOTON{TODAY}",
         "AB", "ABC"),
]


@pytest.mark.parametrize("condition, sent, expected, scope", STRING_CASES)
def test_query_builder(server, interactions, condition, sent, expected, scope):
    cond = condition()
    assert sysparm_query(cond) == sent

    ids = [interactions[letter] for letter in scope]

    async def scenario():
        async with Interaction(client_for(server), table_name="interaction") as model:
            response = await model.get(Interaction.sys_id.in_list(ids) & cond)
            return sorted(record["sys_id"] for record in response)

    letters = {sys_id: letter for letter, sys_id in interactions.items()}
    assert "".join(sorted(letters[s] for s in run(scenario()))) == expected


def test_new_query_joins_two_queries(server, interactions):
    ids = list(interactions.values())
    a_or_c = (
        Interaction.sys_id.in_list(ids) & S.starts_with("disk")
        ^ Interaction.sys_id.in_list(ids) & S.ends_with("jam")
    )
    assert sysparm_query(a_or_c).count("^NQ") == 1

    async def scenario():
        async with Interaction(client_for(server), table_name="interaction") as model:
            return sorted(r["sys_id"] for r in await model.get(a_or_c))

    assert run(scenario()) == sorted([interactions["A"], interactions["C"]])


# Integers: three applications with (access, refresh) token lifespans (100, 200), (300, 300),
# (500, 400).
ACCESS = OAuthEntity.access_token_lifespan
REFRESH = OAuthEntity.refresh_token_lifespan

INTEGER_CASES = [
    # name, condition, what aiosnow sends, the applications matched
    case("equals", lambda: ACCESS == 300, "access_token_lifespan=300", "2"),
    case("not_equals", lambda: ACCESS != 300, "access_token_lifespan!=300", "13"),
    case("less_than", lambda: ACCESS < 300, "access_token_lifespan<300", "1"),
    case("greater_or_equals", lambda: ACCESS >= 300, "access_token_lifespan>=300", "23"),
    case("between", lambda: ACCESS.between(100, 300), "access_token_lifespanBETWEEN100@300", "12"),
    case("in_list", lambda: ACCESS.in_list([100, 500]), "access_token_lifespanIN100,500", "13"),
    case("greater_than_field", lambda: ACCESS > REFRESH,
         "access_token_lifespanGT_FIELDrefresh_token_lifespan", "3"),
    case("less_than_field", lambda: ACCESS < REFRESH,
         "access_token_lifespanLT_FIELDrefresh_token_lifespan", "1"),
    case("greater_or_equals_field", lambda: ACCESS >= REFRESH,
         "access_token_lifespanGT_OR_EQUALS_FIELDrefresh_token_lifespan", "23"),
    case("same_as_field", lambda: ACCESS == REFRESH,
         "access_token_lifespanSAMEASrefresh_token_lifespan", "2"),
    case("different_from_field", lambda: ACCESS != REFRESH,
         "access_token_lifespanNSAMEASrefresh_token_lifespan", "13"),
]


@pytest.fixture(scope="module")
def applications(admin):
    """sys_ids of the three applications, by number."""
    return {
        str(n): admin.oauth_application(access_token_lifespan=access, refresh_token_lifespan=refresh).sys_id
        for n, (access, refresh) in enumerate(((100, 200), (300, 300), (500, 400)), start=1)
    }


@pytest.mark.parametrize("condition, sent, expected", INTEGER_CASES)
def test_query_builder_on_integers(server, applications, condition, sent, expected):
    cond = condition()
    assert sysparm_query(cond) == sent

    async def scenario():
        async with OAuthEntity(client_for(server), table_name="oauth_entity") as model:
            response = await model.get(OAuthEntity.sys_id.in_list(list(applications.values())) & cond)
            return [(r["sys_id"], r["access_token_lifespan"]) for r in response]

    numbers = {sys_id: n for n, sys_id in applications.items()}
    found = run(scenario())
    assert "".join(sorted(numbers[s] for s, _ in found)) == expected
    assert all(isinstance(lifespan, int) for _, lifespan in found)


# -- Attachments (the Attachment API, issue 14 item 4) ---------------------------------------------


def test_upload_list_and_download_an_attachment(server, admin, tmp_path):
    queue = admin.insert("awa_queue", name=unique("attach "))
    source = tmp_path / "upload" / "notes.txt"
    source.parent.mkdir()
    source.write_bytes(b"hello from aiosnow\n")
    target = tmp_path / "download"
    target.mkdir()

    async def scenario():
        async with Queue(client_for(server), table_name="awa_queue") as queues:
            uploaded = await queues.upload_file(Queue.sys_id == queue["sys_id"], str(source))
            listed = await queues.get_attachments()
            await queues.download_file(aiosnow.select(f"table_sys_id={queue['sys_id']}"), dst_dir=str(target))
            return uploaded, listed

    uploaded, listed = run(scenario())
    assert uploaded.status == 201
    assert uploaded.data["file_name"] == "notes.txt"
    assert any(a["sys_id"] == uploaded.data["sys_id"] for a in listed)
    assert (target / "notes.txt").read_bytes() == b"hello from aiosnow\n"
