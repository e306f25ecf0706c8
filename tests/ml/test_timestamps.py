"""Timestamps in offline CSV files: Unix seconds or ISO 8601."""

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cli.ml import offline_app
from contextiq.ml.datasets import parse_timestamp, read_interactions_csv
from tests.ml import synthetic


def test_unix_seconds_and_iso_8601_give_the_same_instant() -> None:
    assert parse_timestamp("881250949") == 881250949.0
    assert parse_timestamp("881250949.5") == 881250949.5
    assert parse_timestamp("1997-12-04T15:55:49Z") == 881250949.0
    assert parse_timestamp("1997-12-04T15:55:49+00:00") == 881250949.0
    assert parse_timestamp("1997-12-04T16:55:49+01:00") == 881250949.0
    assert parse_timestamp("1997-12-04 15:55:49") == 881250949.0  # no zone: UTC
    assert parse_timestamp("1997-12-04t15:55:49z") == 881250949.0  # RFC 3339 allows lower case


def test_a_bad_timestamp_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user_id,item_id,weight,timestamp\nu,a,1,881250949\nu,b,1,yesterday\n")
    with pytest.raises(ValueError, match=r"line 3: not Unix seconds or ISO 8601: 'yesterday'"):
        read_interactions_csv(path)


def test_csv_times_may_be_iso_empty_or_absent(tmp_path: Path) -> None:
    timed = tmp_path / "timed.csv"
    timed.write_text("user_id,item_id,weight,timestamp\nu,a,1,2024-05-01T12:00:00Z\nu,b,2,\n")
    events = read_interactions_csv(timed)
    assert [e.timestamp for e in events] == [parse_timestamp("2024-05-01T12:00:00Z"), None]
    untimed = tmp_path / "untimed.csv"
    untimed.write_text("user_id,item_id,weight\nu,a,1\n")
    assert read_interactions_csv(untimed)[0].timestamp is None


def test_fit_predict_reports_a_bad_timestamp(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("user_id,item_id,weight,timestamp\nu,a,1,soon\n")
    users = tmp_path / "users.txt"
    users.write_text("u\n")
    args = ["fit-predict", "--interactions", str(events), "--users", str(users)]
    result = CliRunner().invoke(offline_app, [*args, "--output", str(tmp_path / "out.csv")])
    assert result.exit_code == 2  # a usage error in one line, not a traceback
    assert "line 2: not Unix seconds" in " ".join(result.output.split())


def test_fit_predict_gives_the_same_lists_for_unix_and_iso_times(tmp_path: Path) -> None:
    """End to end: a time column in either form is the same instant, so the same model and
    lists; without the column the command still writes every user's unseen top k."""
    events = synthetic.interactions()
    start = 1_700_000_000
    columns = {
        "unix": lambda t: str(start + int(t) * 60),
        "iso": lambda t: datetime.fromtimestamp(start + int(t) * 60, UTC).isoformat(),
    }
    users = tmp_path / "users.txt"
    users.write_text("user-0\nuser-1\nuser-2\n")
    written = {}
    for name in [*columns, "none"]:
        path = tmp_path / f"{name}.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["user_id", "item_id", "weight"] + (["timestamp"] * (name != "none")))
            for e in events:
                stamp = [columns[name](e.timestamp or 0.0)] if name in columns else []
                writer.writerow([e.user_id, e.item_id, e.weight, *stamp])
        output = tmp_path / f"{name}-recs.csv"
        args = ["fit-predict", "--interactions", str(path), "--users", str(users), "--k", "5"]
        result = CliRunner().invoke(offline_app, [*args, "--output", str(output)])
        assert result.exit_code == 0, result.output
        with output.open() as f:
            written[name] = list(csv.DictReader(f))
    assert written["unix"] == written["iso"]
    seen = {(e.user_id, e.item_id) for e in events}
    for rows in written.values():
        assert len(rows) == 15
        assert not any((r["user_id"], r["item_id"]) in seen for r in rows)


def test_fit_predict_on_timed_events_over_fewer_items_than_a_judged_list(tmp_path: Path) -> None:
    """Three items, with times: the blend still judges its mix (on lists of 10, so of all
    three items here) instead of stopping on a top 10 of 3, and lists every unseen item."""
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,item_id,timestamp\nu,a,5\nu,b,6\nv,a,1\nv,c,2\nv,b,3\nw,c,4\nw,a,7\n"
    )
    users = tmp_path / "users.txt"
    users.write_text("u\nw\n")
    output = tmp_path / "out.csv"
    args = ["fit-predict", "--interactions", str(events), "--users", str(users)]
    result = CliRunner().invoke(offline_app, [*args, "--output", str(output)])
    assert result.exit_code == 0, result.output
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("u", "c"), ("w", "b")]
