"""Timestamps in offline CSV files: Unix seconds or ISO 8601."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from contextiq.cli.ml import offline_app
from contextiq.ml.datasets import parse_timestamp, read_interactions_csv


def test_unix_seconds_and_iso_8601_give_the_same_instant() -> None:
    assert parse_timestamp("881250949") == 881250949.0
    assert parse_timestamp("881250949.5") == 881250949.5
    assert parse_timestamp("1997-12-04T15:55:49Z") == 881250949.0
    assert parse_timestamp("1997-12-04T15:55:49+00:00") == 881250949.0
    assert parse_timestamp("1997-12-04T16:55:49+01:00") == 881250949.0
    assert parse_timestamp("1997-12-04 15:55:49") == 881250949.0  # no zone: UTC


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
    assert result.exit_code != 0
    assert "line 2" in str(result.exception)
