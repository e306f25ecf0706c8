"""Demo data and importers."""

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from contextiq.config import Settings
from contextiq.data import files, importers
from contextiq.data.demo import demo_data, generate
from contextiq.domain import Interaction, InteractionType, session_subject

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def _interactions(path: Path) -> list[tuple[int, Interaction | files.BadRow]]:
    return [files.interaction_from(path, SETTINGS, r) for r in files.numbered_records(path)]


def test_demo_data_is_deterministic_and_readable() -> None:
    a = generate(SETTINGS, seed=7, n_items=200, n_users=30, anchor=ANCHOR)
    b = generate(SETTINGS, seed=7, n_items=200, n_users=30, anchor=ANCHOR)
    assert a == b
    assert a.contents[0].content_id == "content_0001"
    assert len({c.category for c in a.contents}) == 10
    assert all(c.title and c.description and c.tags for c in a.contents)
    users = {i.user_id for i in a.interactions}
    assert "user_001" in users
    assert len(users) == 30
    assert generate(SETTINGS, seed=8, n_items=200, n_users=30, anchor=ANCHOR) != a


def test_demo_users_have_a_learnable_taste() -> None:
    data = generate(SETTINGS, seed=1, n_items=500, n_users=50, anchor=ANCHOR)
    category = {c.content_id: c.category for c in data.contents}
    for user in ("user_001", "user_002", "user_003"):
        liked = [
            category[i.content_id]
            for i in data.interactions
            if i.user_id == user and i.interaction_type is not InteractionType.DISLIKE
        ]
        top_three = sorted((liked.count(c) for c in set(liked)), reverse=True)[:3]
        assert sum(top_three) / len(liked) > 0.8


def test_generic_csv_and_jsonl_files_are_read_and_validated(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_text(
        "content_id,title,category,tags,metadata\n"
        'a1,First,news,x|y,"{""k"": 1}"\n'
        "a2,Second,news,,\n"
        "bad id,Third,news,,\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                {"user_id": "u1", "content_id": "a1", "interaction_type": "like"},
                {
                    "user_id": "u1",
                    "content_id": "a2",
                    "interaction_type": "view",
                    "duration_seconds": 60,
                    "timestamp": "2026-01-02T05:04:05+02:00",
                },
            )
        )
        + "\n{not json\n"
        + '{"user_id": "u1", "content_id": "c1", "interaction_type": "like", "weight": '
        + "9" * 5000
        + "}\n"
    )
    items = list(files.read_content(content))
    assert [(line, i.tags, i.metadata) for line, i in items[:2]] == [  # type: ignore[union-attr]
        (2, ("x", "y"), {"k": 1}),
        (3, (), {}),
    ]
    line, bad = items[2]
    assert line == 4 and isinstance(bad, files.BadRow) and "content_id" in bad.reason
    rows = _interactions(events)
    good = [i for _, i in rows if not isinstance(i, files.BadRow)]
    assert [i.interaction_type for i in good] == ["like", "view"]
    assert good[1].weight > SETTINGS.weight_view
    assert good[1].occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # made UTC
    assert str(rows[2][1]).startswith("events.jsonl:3: not JSON")
    assert str(rows[3][1]).startswith("events.jsonl:4: not JSON: Exceeds the limit")
    again = [i for _, i in _interactions(events)]
    assert [i.event_id for i in again[:2]] == [i.event_id for i in good]  # type: ignore[union-attr]


def test_an_event_from_before_1970_is_a_bad_row_with_its_line(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,content_id,interaction_type,timestamp\n"
        "u1,a1,like,1970-01-01T00:00:00Z\n"
        "u1,a2,like,1969-07-20T20:17:00Z\n"
    )
    rows = _interactions(events)
    assert not isinstance(rows[0][1], files.BadRow)
    assert rows[1][0] == 3 and isinstance(rows[1][1], files.BadRow)
    assert str(rows[1][1]).startswith("events.csv:3:") and "before 1970-01-01" in str(rows[1][1])


@pytest.mark.parametrize("name", ["events.ndjson", "EVENTS.JSONL", "events.NDJSON"])
def test_ndjson_and_any_case_of_jsonl_are_json_lines(tmp_path: Path, name: str) -> None:
    events = tmp_path / name
    line = json.dumps({"user_id": "u1", "content_id": "a1", "interaction_type": "like"})
    events.write_text(f"{line}\n{line}\n")
    assert [isinstance(i, files.BadRow) for _, i in _interactions(events)] == [False, False]


def test_integer_ids_in_json_lines_import_as_the_same_csv_does(tmp_path: Path) -> None:
    content_csv = tmp_path / "content.csv"
    content_csv.write_text("content_id,title,category\n7,Seven,news\n")
    content_jsonl = tmp_path / "content.jsonl"
    content_jsonl.write_text(json.dumps({"content_id": 7, "title": "Seven", "category": "news"}))
    [(_, item)] = list(files.read_content(content_jsonl))
    assert [item] == [i for _, i in files.read_content(content_csv)]
    assert not isinstance(item, files.BadRow) and item.content_id == "7"
    events_csv = tmp_path / "events.csv"
    events_csv.write_text(
        "user_id,session_id,content_id,interaction_type,timestamp,event_id,recommendation_id\n"
        "42,,7,like,2026-01-01T00:00:00Z,1001,9\n"
        ",-5,7,view,2026-01-01T00:00:00Z,,\n"
    )
    events_jsonl = tmp_path / "events.jsonl"
    at = "2026-01-01T00:00:00Z"
    like = {"content_id": 7, "interaction_type": "like", "timestamp": at}
    rows = [
        {**like, "user_id": 42, "event_id": 1001, "recommendation_id": 9},
        {"session_id": -5, "content_id": 7, "interaction_type": "view", "timestamp": at},
        {**like, "user_id": 42, "content_id": 7.0},  # a float is not an id
        {**like, "user_id": True},  # nor is a bool
    ]
    events_jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    from_csv = [i for _, i in _interactions(events_csv)]
    from_jsonl = [i for _, i in _interactions(events_jsonl)]
    assert from_jsonl[:2] == from_csv  # the second one's derived event id too
    assert [i.user_id for i in from_csv] == ["42", session_subject("-5")]  # type: ignore[union-attr]
    assert [str(i) for i in from_jsonl[2:]] == [
        "events.jsonl:3: content_id: Input should be a valid string",
        "events.jsonl:4: user_id: Input should be a valid string",
    ]


def test_a_quoted_field_over_two_lines_keeps_line_numbers(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_text('content_id,title,category\na1,"Two\nlines",news\na2,,news\n')
    rows = list(files.read_content(content))
    assert rows[0][0] == 2 and not isinstance(rows[0][1], files.BadRow)
    assert rows[1][0] == 4 and isinstance(rows[1][1], files.BadRow)
    assert "title" in rows[1][1].reason


def test_import_files_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_bytes("\ufeffcontent_id,title,category\r\na1,One,news\r\n".encode())
    events = tmp_path / "events.jsonl"
    line = json.dumps({"user_id": "u1", "content_id": "a1", "interaction_type": "like"})
    events.write_bytes(f"\ufeff{line}\n".encode())
    [(_, item)] = list(files.read_content(content))
    assert not isinstance(item, files.BadRow) and item.content_id == "a1"
    [(_, event)] = list(_interactions(events))
    assert not isinstance(event, files.BadRow) and event.content_id == "a1"


def test_availability_columns_are_optional_in_import_files(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_text(
        "content_id,title,category,available_from,available_until,hidden\n"
        "a1,One,news,2026-01-01T00:00:00,2026-02-01T00:00:00+01:00,true\n"
        "a2,Two,news,,,\n"
        "a3,Three,news,,,perhaps\n"
    )
    rows = [item for _, item in files.read_content(content)]
    first, second, bad = rows
    assert not isinstance(first, files.BadRow) and not isinstance(second, files.BadRow)
    assert first.available_from == ANCHOR and first.hidden is True
    assert first.available_until == datetime(2026, 1, 31, 23, tzinfo=UTC)
    assert second.available_from is None and second.available_until is None
    assert second.hidden is False
    assert isinstance(bad, files.BadRow) and "hidden" in bad.reason


def test_ratings_map_to_interaction_types() -> None:
    assert importers.rating_type(5) is InteractionType.SAVE
    assert importers.rating_type(4) is InteractionType.LIKE
    assert importers.rating_type(3) is InteractionType.VIEW
    assert importers.rating_type(1.5) is InteractionType.DISLIKE


def test_large_demos_have_the_asked_size_and_a_heavy_head() -> None:
    data = demo_data(seed=3, n_items=5_000, n_users=2_000, n_interactions=60_000, anchor=ANCHOR)
    assert data.n_events == 60_000
    pairs = data.event_user.astype(np.int64) * data.n_items + data.event_item
    assert len(np.unique(pairs)) == data.n_events  # a user meets an item once
    counts = np.sort(np.bincount(data.event_item, minlength=data.n_items))[::-1]
    assert counts[:50].sum() > 0.08 * data.n_events  # the top 1 % of items: a heavy head
    again = demo_data(seed=3, n_items=5_000, n_users=2_000, n_interactions=60_000, anchor=ANCHOR)
    assert np.array_equal(again.event_item, data.event_item)
    assert data.interactions(SETTINGS, 0, 2) == again.interactions(SETTINGS, 0, 2)


def test_demo_files_import_as_the_same_events_in_time_order(tmp_path: Path) -> None:
    data = demo_data(seed=5, n_items=200, n_users=20, anchor=ANCHOR)
    content_path, events_path = data.write_files(tmp_path)
    items = [c for _, c in files.read_content(content_path)]
    assert items == data.contents()
    events = [i for _, i in _interactions(events_path)]
    assert all(isinstance(i, Interaction) for i in events)
    read = [i for i in events if isinstance(i, Interaction)]
    times = [i.occurred_at for i in read]
    assert times == sorted(times)  # as an event log is exported
    fields = [(i.user_id, i.content_id, i.interaction_type, i.weight, i.occurred_at) for i in read]
    expected = data.interactions(SETTINGS)
    assert sorted(fields) == sorted(
        (i.user_id, i.content_id, i.interaction_type, i.weight, i.occurred_at) for i in expected
    )


def _ids(path: Path) -> list[str]:
    return [i.event_id for _, i in _interactions(path) if isinstance(i, Interaction)]


def test_files_of_the_same_name_in_other_folders_never_share_event_ids(tmp_path: Path) -> None:
    header = "user_id,content_id,interaction_type,timestamp\n"
    for month, users in (("jan", ("alice", "bob")), ("feb", ("carol", "dave"))):
        (tmp_path / month).mkdir()
        (tmp_path / month / "interactions.csv").write_text(
            header
            + "".join(
                f"{u},a1,like,\n{u},a2,view,2026-01-0{i + 1}T00:00:00Z\n"
                for i, u in enumerate(users)
            )
        )
    jan, feb = _ids(tmp_path / "jan/interactions.csv"), _ids(tmp_path / "feb/interactions.csv")
    assert len(set(jan + feb)) == 8  # with a timestamp or without, all distinct
    assert _ids(tmp_path / "jan/interactions.csv") == jan  # a re-run adds nothing
    assert all(len(i) <= 128 and i.startswith("import-") for i in jan + feb)


def test_an_edited_file_keeps_its_events_ids_and_adds_only_what_is_new(tmp_path: Path) -> None:
    """A bad line deleted and its corrected row appended: no event lost, none stored twice."""
    path = tmp_path / "events.csv"
    rows = [
        "u1,a1,like,2026-01-01T00:00:00Z,",
        "u2,a1,view,2026-01-01T01:00:00+01:00,30",
        "u3,a1,lik,2026-01-01T02:00:00Z,",
        "u4,a2,save,2026-01-01T03:00:00Z,",
    ]
    path.write_text(
        "user_id,content_id,interaction_type,timestamp,duration_seconds\n" + "\n".join(rows) + "\n"
    )
    before = _ids(path)
    assert len(before) == 3
    path.write_text(
        "user_id,content_id,interaction_type,timestamp,duration_seconds\n"
        + "\n".join([*rows[:2], rows[3], "u3,a1,like,2026-01-01T02:00:00Z,"])
        + "\n"
    )
    after = _ids(path)
    assert after[:3] == before and after[3] not in before
    # The same event says the same thing in any spelling of its time and duration.
    other = tmp_path / "other.jsonl"
    other.write_text(
        json.dumps(
            {
                "user_id": "u2",
                "content_id": "a1",
                "interaction_type": "view",
                "timestamp": "2026-01-01T00:00:00Z",
                "duration_seconds": 30.0,
            }
        )
        + "\n"
    )
    assert _ids(other) == [before[1]]


def test_a_record_that_is_not_utf8_is_a_bad_row_naming_its_line(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_bytes(
        "content_id,title,category\na1,Café,news\n".encode() + b"a2,Caf\xe9,news\na3,Three,news\n"
    )
    rows = list(files.read_content(content))
    assert [line for line, _ in rows] == [2, 3, 4]
    bad = rows[1][1]
    assert isinstance(bad, files.BadRow)
    assert str(bad) == "content.csv:3: not UTF-8 (byte 0xe9): re-export the file as UTF-8"
    assert [i.title for _, i in rows if not isinstance(i, files.BadRow)] == ["Café", "Three"]
    events = tmp_path / "events.jsonl"
    line = {"user_id": "u1", "content_id": "a1", "interaction_type": "like"}
    events.write_bytes(
        json.dumps(line).encode() + b'\n{"user_id": "\xfc1"}\n' + json.dumps(line).encode()
    )
    parsed = _interactions(events)
    assert str(parsed[1][1]).startswith("events.jsonl:2: not UTF-8 (byte 0xfc)")
    assert [isinstance(i, files.BadRow) for _, i in parsed] == [False, True, False]


def test_a_file_unreadable_from_its_first_line_is_refused_whole(tmp_path: Path) -> None:
    latin = tmp_path / "content.csv"
    latin.write_bytes(b"content_id,titr\xe9,category\na1,One,news\n")
    with pytest.raises(files.UnreadableFile, match=r"^content.csv:1: the header is not UTF-8"):
        list(files.read_content(latin))
    wide = tmp_path / "events.jsonl"
    wide.write_bytes('{"user_id": "u1"}\n'.encode("utf-16"))
    with pytest.raises(files.UnreadableFile, match=r"^events.jsonl:1: UTF-16, not UTF-8: re-"):
        list(files.numbered_records(wide))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("content_id;title;category", "columns separated by semicolons: export the file with"),
        ("content_id\ttitle\tcategory", "columns separated by tabs: export the file with"),
        ("content_id,title", "missing columns category$"),
        ("content_id,title,category,price", "unknown columns price \\(known: content_id, "),
        ("content_id,title,category,title", "columns given twice: title$"),
    ],
)
def test_a_csv_header_that_is_not_the_columns_is_refused_whole(
    tmp_path: Path, header: str, reason: str
) -> None:
    """Once, naming the columns, rather than every row skipped as bad (or a value dropped)."""
    content = tmp_path / "content.csv"
    content.write_text(f"{header}\na1,One,news,x\n")
    with pytest.raises(files.UnreadableFile, match=f"^content.csv:1: {reason}"):
        list(files.read_content(content))


def test_csv_column_names_are_read_in_any_case_and_order(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_text(" Category ,TITLE,Content_ID\nnews,One,a1\n")
    [(_, item)] = list(files.read_content(content))
    assert not isinstance(item, files.BadRow)
    assert (item.content_id, item.title, item.category) == ("a1", "One", "news")


@pytest.mark.parametrize(
    ("magic", "reason"), [(b"\x1f\x8b\x08\x00", "gzip-compressed"), (b"PK\x03\x04", "a zip")]
)
def test_a_compressed_file_is_refused_as_such(tmp_path: Path, magic: bytes, reason: str) -> None:
    packed = tmp_path / "events.csv.gz"
    packed.write_bytes(magic + b"\x00" * 20)
    with pytest.raises(files.UnreadableFile, match=f"^events.csv.gz:1: {reason}"):
        list(files.numbered_records(packed))


def test_a_csv_field_past_the_csv_modules_limit_is_a_bad_row(tmp_path: Path) -> None:
    """The model, not the csv module's 131,072 characters, limits a field, as in JSON lines."""
    content = tmp_path / "content.csv"
    long = "x" * 200_000
    content.write_text(f"content_id,title,category,metadata\na1,{long},news,\na2,Two,news,\n")
    [(_, bad), (_, item)] = list(files.read_content(content))
    assert str(bad).startswith("content.csv:2: title: Value should have at most 500")
    assert not isinstance(item, files.BadRow) and item.content_id == "a2"


def test_an_interactions_header_without_a_subject_column_is_refused_whole(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("content_id,interaction_type\na1,view\n")
    reason = r"^events.csv:1: missing columns user_id or session_id \(one is needed\)$"
    with pytest.raises(files.UnreadableFile, match=reason):
        list(files.numbered_records(events))
