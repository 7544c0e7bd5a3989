"""The origin decides visibility with wire's one rule everywhere: the SQL of search's scope,
the rendered objects, listings, the fat boot, and the access check all agree with
``wire.visibility`` for every kind of conversation, on SQLite and on MariaDB."""

from __future__ import annotations

from origin.models import CONVERSATION_COLUMNS, conversation_from_row
from origin.service import boot, conversations, dms, listing, users
from origin.service.access import PUBLIC_SQL
from origin.service.search import scope
from origin.store.shards import Store
from tests.factories import make_team
from wire.errors import SlackError
from wire.visibility import CONVERSATION_TYPES, is_public, is_public_kind, type_of, type_of_kind


async def test_sql_objects_and_wire_agree_on_every_conversation(store: Store) -> None:
    team = await make_team(store)
    await dms.open_dm(store, team.alice.caller, [team.bob.id])
    mpim, _ = await dms.open_dm(store, team.alice.caller, [team.bob.id, team.carol.id])
    async with store.read(team.id) as conn:
        rows = await conn.fetchall(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE team_id = ?", [team.id]
        )
        public_sql = {
            str(r[0])
            for r in await conn.fetchall(
                f"SELECT c.id FROM conversations c WHERE c.team_id = ? AND {PUBLIC_SQL}", [team.id]
            )
        }
    assert {str(r[3]) for r in rows} == {"channel", "im", "mpim"}
    for row in rows:
        kind, private = str(row[3]), bool(row[4])
        obj = conversation_from_row(row)
        assert is_public(obj) == is_public_kind(kind, private) == (str(row[0]) in public_sql), obj
        assert type_of(obj) == type_of_kind(kind, private)
    assert public_sql == {team.general}
    assert mpim["id"] not in public_sql


async def test_a_non_member_sees_exactly_the_public_conversations_everywhere(store: Store) -> None:
    team = await make_team(store)
    dm, _ = await dms.open_dm(store, team.alice.caller, [team.bob.id])
    dave = await users.create_user(store, team.id, "dave", "Dave Example")
    mpim, _ = await dms.open_dm(store, team.alice.caller, [team.bob.id, dave["id"]])
    assert mpim["is_mpim"]
    extra = await conversations.create(store, team.alice.caller, "open-to-all", False)
    carol = team.carol.caller  # in #general only
    public = {team.general, extra["id"]}

    listed, _ = await listing.list_conversations(store, carol, set(CONVERSATION_TYPES), False, 1000, None)
    assert {c["id"] for c in listed} == public

    fat = await boot.fat_boot(store, carol)
    assert {c["id"] for c in fat["channels"]} == public
    assert not (fat["groups"] or fat["ims"] or fat["mpims"])

    async with store.read(team.id) as conn:
        assert set(await scope.visible(conn, carol)) == public

    for hidden in (team.private, dm["id"], mpim["id"]):
        try:
            await conversations.info(store, carol, hidden)
        except SlackError as exc:
            assert exc.code == "channel_not_found"
        else:
            raise AssertionError(f"{hidden} is visible to a non-member")
    assert (await conversations.info(store, carol, extra["id"]))["is_private"] is False


async def test_members_see_their_private_conversations_everywhere(store: Store) -> None:
    team = await make_team(store)
    dm, _ = await dms.open_dm(store, team.alice.caller, [team.bob.id])
    bob = team.bob.caller
    mine = {team.general, team.private, dm["id"]}
    listed, _ = await listing.list_conversations(store, bob, set(CONVERSATION_TYPES), False, 1000, None)
    assert {c["id"] for c in listed} == mine
    fat = await boot.fat_boot(store, bob)
    assert [c["id"] for c in fat["groups"]] == [team.private]
    assert [c["id"] for c in fat["ims"]] == [dm["id"]]
    async with store.read(team.id) as conn:
        assert set(await scope.visible(conn, bob)) == mine
