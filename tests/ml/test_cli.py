"""The offline CLI on small generated files."""

import csv
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from contextiq.cli.ml import evaluate, offline_app
from contextiq.ml.blend import BlendRecommender
from contextiq.ml.datasets import read_interactions_csv
from contextiq.progress import BYTES
from tests.ml import synthetic
from tests.recorded_progress import RecordedProgress


def write_inputs(folder: Path) -> tuple[Path, Path, Path]:
    interactions = folder / "train.csv"
    with interactions.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "weight", "timestamp"])
        for e in synthetic.interactions():
            writer.writerow([e.user_id, e.item_id, e.weight, e.timestamp])
    items = folder / "items.csv"
    with items.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["item_id", "title", "category", "tags", "text"])
        for i in synthetic.catalogue():
            writer.writerow([i.item_id, i.title, i.category, "|".join(i.tags), i.text])
    users = folder / "users.txt"
    users.write_text("user-0\nuser-1\nnobody\n")
    return interactions, items, users


def test_fit_predict_writes_top_k_unseen_items(tmp_path: Path) -> None:
    interactions, items, users = write_inputs(tmp_path)
    output = tmp_path / "recs.csv"
    args = ["fit-predict", "--interactions", str(interactions), "--users", str(users)]
    args += ["--k", "5", "--output", str(output), "--items", str(items)]
    result = CliRunner().invoke(offline_app, args)
    assert result.exit_code == 0, result.output
    with output.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["user_id", "item_id", "rank", "score"]
    by_user: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    assert set(by_user) == {"user-0", "user-1", "nobody"}
    seen = {(e.user_id, e.item_id) for e in synthetic.interactions()}
    for user, recs in by_user.items():
        assert [int(r["rank"]) for r in recs] == [1, 2, 3, 4, 5]
        assert not any((user, r["item_id"]) in seen for r in recs)
    # user-0 likes cluster 0 only: its recommendations stay there.
    assert {synthetic.cluster_of(r["item_id"]) for r in by_user["user-0"]} == {0}


def _fit_predict(
    folder: Path, interactions: str, users: str = "u\n", *extra: str
) -> tuple[int, str, Path]:
    """Exit code, every line printed (re-joined where the error box wrapped it), output."""
    (folder / "events.csv").write_bytes(interactions.encode())
    (folder / "users.txt").write_text(users)
    output = folder / "out.csv"
    args = ["fit-predict", "--interactions", str(folder / "events.csv")]
    args += ["--users", str(folder / "users.txt"), "--output", str(output), *extra]
    result = CliRunner().invoke(offline_app, args)
    return result.exit_code, " ".join(result.output.replace("│", " ").split()), output


def test_fit_predict_reads_a_spreadsheet_export_without_weights(tmp_path: Path) -> None:
    # A byte-order mark, Windows line ends, columns in another order and no weight column.
    rows = [f"{item},{user}" for user in ("u", "v", "w") for item in ("a", "b", "c")]
    export = "\ufeffitem_id,user_id\r\n" + "\r\n".join(rows[:-1]) + "\r\n"
    code, printed, output = _fit_predict(tmp_path, export, "\ufeffw\r\n")
    assert code == 0, printed
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("w", "c")]


def test_fit_predict_reads_ids_and_names_padded_with_spaces(tmp_path: Path) -> None:
    # "user_id, item_id" and "u, a": the users file's ids are stripped, so these must be too,
    # else the header lacks 'item_id', or u's history is " u"'s and u gets the popular items.
    rows = [f"{user} ,  {item}\n" for user in "uvw" for item in "abc"][:-1]
    code, printed, output = _fit_predict(tmp_path, "user_id, item_id\n" + "".join(rows), "w\n")
    assert code == 0, printed
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("w", "c")]
    # A padded empty weight or time is an empty one, not "could not convert string to float"
    padded = "user_id, item_id, weight, timestamp\n" + "".join(r[:-1] + ",  ,  \n" for r in rows)
    code, printed, output = _fit_predict(tmp_path, padded, "w\n")
    assert code == 0, printed
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("w", "c")]


def test_fit_predict_reads_column_names_in_any_case(tmp_path: Path) -> None:
    # "User_ID,Item_ID" and a users file headed "USER_ID", as exports capitalise them: the
    # import reads its columns in any case, and these were refused ('missing column') or
    # listed the header as a user.
    rows = [f"{user},{item}\n" for user in "uvw" for item in "abc"][:-1]
    items = tmp_path / "items.csv"
    items.write_text("Item_ID,Title\na,A\nb,B\nc,C\n")
    code, printed, output = _fit_predict(
        tmp_path, "User_ID,Item_ID\n" + "".join(rows), "USER_ID\nw\n", "--items", str(items)
    )
    assert code == 0, printed
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("w", "c")]


def test_a_users_file_headed_like_a_user_column_lists_no_user_of_that_name(
    tmp_path: Path,
) -> None:
    # "userId" (MovieLens's own name) and "User ID" were read as users and got the popular
    # items; a user whose id is "user" and who has rows keeps their list.
    rows = [f"{user},{item}\n" for user in ("user", "u", "v", "w") for item in "abc"][:-1]
    events = "user_id,item_id\n" + "".join(rows)
    for header in ("userId", "User ID", "id"):
        code, printed, output = _fit_predict(tmp_path, events, f"{header}\nw\n")
        assert code == 0, printed
        with output.open() as f:
            assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("w", "c")]
    code, printed, output = _fit_predict(tmp_path, events.replace("user,c\n", ""), "user\nw\n")
    assert code == 0, printed
    with output.open() as f:
        assert [r["user_id"] for r in csv.DictReader(f)] == ["user", "w"]


def test_columns_not_read_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A `rating` column where `weight` was meant: every event would count 1, unsaid."""
    path = tmp_path / "events.csv"
    path.write_text("user_id,item_id,rating,timestamp\nu,a,5,881250949\n")
    events = read_interactions_csv(path)
    assert [e.weight for e in events] == [1.0]
    assert (
        f"{path}: columns not read: rating (read: user_id, item_id, weight, timestamp);"
        " without a weight column every event counts 1"
    ) in caplog.messages
    caplog.clear()
    path.write_text("user_id,item_id,weight,source\nu,a,5,app\n")
    assert read_interactions_csv(path)[0].weight == 5.0
    assert caplog.messages == [
        f"{path}: columns not read: source (read: user_id, item_id, weight, timestamp)"
    ]


def test_fit_predict_reads_interactions_from_a_pipe(tmp_path: Path) -> None:
    # `--interactions <(zcat train.csv.gz)`: following the read's position for progress
    # stopped the run with "[Errno 29] Illegal seek".
    pipe = tmp_path / "events.csv"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_text, args=("user_id,item_id\nu,a\nv,b\n",))
    writer.daemon = True  # never left blocking the test run, should the command not read it
    writer.start()
    (tmp_path / "users.txt").write_text("u\n")
    args = ["fit-predict", "--interactions", str(pipe), "--users", str(tmp_path / "users.txt")]
    result = CliRunner().invoke(offline_app, [*args, "--output", str(tmp_path / "out.csv")])
    writer.join(timeout=10)
    assert result.exit_code == 0, result.output
    with (tmp_path / "out.csv").open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("u", "b")]


def test_fit_predict_refuses_unusable_files_in_one_line(tmp_path: Path) -> None:
    cases = {
        "user_id,item_id,weight\n": "events.csv has no events",
        "user,item,weight\nu,a,1\n": "missing column 'user_id'",
        "user_id,item_id,weight\nu,a,1\nu\n": "line 3: no user_id or no item_id",
        "user_id,item_id,weight\nu,a,heavy\n": "line 2: could not convert",
        # blank lines count: the line named is the one an editor shows
        "user_id,item_id,weight\n\n\nu,a,1\nu,b,heavy\n": "line 5: could not convert",
        # float() reads these, and one of them turns the whole fit into NaN
        "user_id,item_id,weight\nu,a,nan\n": "line 2: not a finite number: 'nan'",
        "user_id,item_id,weight\nu,a,-inf\n": "line 2: not a finite number: '-inf'",
        "user_id,item_id,timestamp\nu,a,inf\n": "line 2: not a finite number: 'inf'",
        # a quote left open made the rest of the file one item's id, and fitted what was left
        'user_id,item_id\nu,a\nu,"b\nv,a\nv,c\n': "an id over 3 lines (a quote left open?): 'b",
        # a spreadsheet's other separators: not a missing column
        "user_id;item_id\nu;a\n": "columns separated by semicolons: export the file with commas",
        "user_id\titem_id\nu\ta\n": "columns separated by tabs: export the file with commas",
    }
    for interactions, message in cases.items():
        code, printed, _ = _fit_predict(tmp_path, interactions)
        assert code == 2 and "Invalid value for --interactions: " in printed, printed
        assert message in printed, printed
    _fit_predict(tmp_path, "user_id,item_id\nu,a\n")
    args = ["fit-predict", "--interactions", str(tmp_path / "events.csv")]
    args += ["--users", str(tmp_path / "missing.txt"), "--output", str(tmp_path / "out.csv")]
    result = CliRunner().invoke(offline_app, args)
    assert result.exit_code == 2 and "--users" in result.output
    code, printed, _ = _fit_predict(tmp_path, "user_id,item_id\nu,a\n", "user_id\n\n")
    assert code == 2 and "users.txt lists no user ids" in printed, printed


def test_fit_predict_refuses_an_item_without_an_id(tmp_path: Path) -> None:
    # An items row with a title and no id was an item "", listed as users' top pick.
    items = tmp_path / "items.csv"
    items.write_text("item_id,title\na,A\n\n,nothing\nb,B\n")
    events = "user_id,item_id\nu,a\nv,b\n"
    code, printed, _ = _fit_predict(tmp_path, events, "u\n", "--items", str(items))
    assert code == 2 and "Invalid value for --items: " in printed, printed
    assert "items.csv, line 4: no item_id" in printed, printed


def test_fit_predict_names_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    # A Latin-1 export: the message was the codec's alone, naming neither file nor encoding.
    latin1 = "user_id,item_id\nJosé,a\nv,b\n".encode("latin-1")
    _fit_predict(tmp_path, "user_id,item_id\nu,a\n")
    for option, name in [("--interactions", "events.csv"), ("--users", "users.txt")]:
        (tmp_path / name).write_bytes(latin1)
        args = ["fit-predict", "--interactions", str(tmp_path / "events.csv")]
        args += ["--users", str(tmp_path / "users.txt"), "--output", str(tmp_path / "out.csv")]
        result = CliRunner().invoke(offline_app, args)
        printed = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and f"Invalid value for {option}: " in printed, printed
        assert f"{name}: not UTF-8 (byte 0xe9): re-export it as UTF-8" in printed, printed
        (tmp_path / name).write_text("user_id,item_id\nu,a\n")


def test_fit_predict_never_lists_an_item_the_user_touched_with_no_net_weight(
    tmp_path: Path,
) -> None:
    # u touched a (weight 0) and c (+1 then -1): both sum to 0 yet are u's, not new to u.
    events = "user_id,item_id,weight\nu,a,0\nu,b,1\nu,c,1\nu,c,-1\n"
    events += "".join(f"{v},{i},1\n" for v in "vwx" for i in "abcd")
    for model in ("blend", "ease"):  # the blend's candidate rows, and a scoring family's
        code, printed, output = _fit_predict(tmp_path, events, "u\n", "--model", model)
        assert code == 0, printed
        with output.open() as f:
            assert [r["item_id"] for r in csv.DictReader(f)] == ["d"], model


def test_fit_predict_fits_weights_too_large_for_float32(tmp_path: Path) -> None:
    events = "user_id,item_id,weight\nu,a,1e300\nv,a,1\nv,b,3e38\nv,b,3e38\nw,b,1\nw,c,1\n"
    code, printed, output = _fit_predict(tmp_path, events)
    assert code == 0, printed
    with output.open() as f:
        assert {r["item_id"] for r in csv.DictReader(f)} == {"b", "c"}


def test_fit_predict_leaves_no_half_written_output_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("out of memory")

    events = "user_id,item_id\nu,a\nu,b\nv,a\nv,c\n"
    (tmp_path / "out.csv").write_text("an earlier run's lists\n")
    monkeypatch.setattr(BlendRecommender, "recommend_histories", fail)
    code, _, output = _fit_predict(tmp_path, events, "u\nv\n")
    assert code == 1
    assert output.read_text() == "an earlier run's lists\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_fit_predict_refuses_an_output_it_cannot_write_before_the_fit(tmp_path: Path) -> None:
    _fit_predict(tmp_path, "user_id,item_id\nu,a\nv,b\n")
    args = ["fit-predict", "--interactions", str(tmp_path / "events.csv")]
    args += ["--users", str(tmp_path / "users.txt"), "--output"]
    for output, message in [
        (tmp_path / "missing" / "out.csv", "no folder"),
        (tmp_path, "is a folder, not a file"),
    ]:
        result = CliRunner().invoke(offline_app, [*args, str(output)])
        printed = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and "'--output'" in printed and message in printed, printed


def test_fit_predict_warns_when_only_some_events_have_a_time(tmp_path: Path) -> None:
    events = "user_id,item_id,weight,timestamp\nu,a,1,1700000000\nu,b,1,\nv,a,1,1700000060\n"
    code, printed, _ = _fit_predict(tmp_path, events)
    assert code == 0, printed
    assert "1 of 3 events have no timestamp, so the model ignores time order" in printed


def test_fit_predict_writes_one_list_per_user_however_often_listed(tmp_path: Path) -> None:
    events = "user_id,item_id\nu,a\nu,b\nv,a\nv,c\nw,b\n"
    code, printed, output = _fit_predict(tmp_path, events, "v\nu\nv\nv\n")
    assert code == 0, printed
    assert "2 repeated user ids" in printed and "each user gets one list" in printed
    with output.open() as f:
        users = [r["user_id"] for r in csv.DictReader(f)]
    assert users == sorted(users, key=["v", "u"].index) and set(users) == {"u", "v"}
    assert users.count("v") == users.count("u") > 0


def test_fit_predict_says_which_users_got_short_lists(tmp_path: Path) -> None:
    # u has a row for every item and v for all but two: no list may hold a seen item, so u's
    # is empty and v's short; the run said it wrote top-3 for 3 users, as if none were.
    events = "user_id,item_id\nu,a\nu,b\nu,c\nu,d\nv,a\nv,b\nw,c\n"
    code, printed, output = _fit_predict(tmp_path, events, "u\nv\nw\n", "--k", "3")
    assert code == 0, printed
    with output.open() as f:
        users = [r["user_id"] for r in csv.DictReader(f)]
    assert (users.count("u"), users.count("v"), users.count("w")) == (0, 2, 3)
    assert "2 of 3 users got fewer than 3 items, 1 of them none" in printed


@pytest.mark.parametrize("model", ["blend", "ease"])
def test_fit_predict_gives_a_user_without_rows_the_most_popular_items(
    tmp_path: Path, model: str
) -> None:
    """Nothing to be personal about: the items with the most events, as the service answers
    such a user. A model scoring from history alone gave every item 0, in no order."""
    counts = {"z": 6, "y": 5, "x": 4, "a": 1, "b": 1}  # the least popular first in the file
    events = "user_id,item_id\n" + "".join(
        f"u{n},{item}\n" for item, users in reversed(counts.items()) for n in range(users)
    )
    code, printed, output = _fit_predict(
        tmp_path, events, "newcomer\n", "--k", "3", "--model", model
    )
    assert code == 0, printed
    with output.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["item_id"] for r in rows] == ["z", "y", "x"]
    assert [int(r["rank"]) for r in rows] == [1, 2, 3]


def test_fit_predict_reads_a_users_file_with_a_header(tmp_path: Path) -> None:
    # A one-column CSV export: "user_id" is its header, not a cold user to list items for.
    events = "user_id,item_id\nu,a\nu,b\nv,a\nv,c\n"
    code, printed, output = _fit_predict(tmp_path, events, "user_id\r\nu\r\nv\r\n")
    assert code == 0, printed
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("u", "c"), ("v", "b")]


def test_fit_predict_reads_the_users_file_as_a_one_column_csv(tmp_path: Path) -> None:
    # R's write.csv quotes every string: '"v"' was listed as a cold user of its own, and v,
    # whom the checker asked for, got no list; a second column was read as part of the id.
    events = "user_id,item_id\nu,a\nu,b\nv,a\nv,c\n"
    code, printed, output = _fit_predict(tmp_path, events, '"user_id"\r\n"v"\r\n" u "\r\n')
    assert code == 0, printed
    with output.open() as f:
        assert [(r["user_id"], r["item_id"]) for r in csv.DictReader(f)] == [("v", "b"), ("u", "c")]
    code, printed, _ = _fit_predict(tmp_path, events, 'u\n\n"1","v"\n')  # row names too
    assert code == 2 and "Invalid value for --users: " in printed, printed
    assert "users.txt, line 3: 2 fields, where a line holds one user id" in printed, printed


def test_evaluate_refuses_a_split_with_nothing_to_test(tmp_path: Path) -> None:
    # One event per user: no protocol can hold one out, and metrics of nothing read 0
    # (or NaN, which is not JSON) as if the model had been measured.
    (tmp_path / "events.csv").write_text("user_id,item_id\nu,a\nv,b\nw,c\n")
    app = typer.Typer()
    app.command()(evaluate)
    for protocol in ("stratified", "leave-last-out", "rating"):
        args = ["--dataset", str(tmp_path / "events.csv"), "--protocol", protocol]
        result = CliRunner().invoke(app, args)
        printed = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2, printed
        assert f"the {protocol} split holds out no events to test on" in printed


def test_evaluate_refuses_to_predict_ratings_from_a_file_without_them(tmp_path: Path) -> None:
    # Every weight 1: the rating model learns the constant and its error reads 0, as if it
    # predicted ratings perfectly.
    events = "".join(f"u{u},i{i}\n" for u in range(20) for i in range(u % 5, u % 5 + 6))
    (tmp_path / "events.csv").write_text("user_id,item_id\n" + events)
    app = typer.Typer()
    app.command()(evaluate)
    args = ["--dataset", str(tmp_path / "events.csv"), "--protocol", "rating"]
    result = CliRunner().invoke(app, args)
    printed = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2, printed
    assert "every weight is 1: there are no ratings to predict" in printed


def test_evaluate_refuses_a_diversity_outside_0_to_1_before_the_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fit(*_: object) -> None:
        raise AssertionError("fitted before checking --diversity")

    monkeypatch.setattr("contextiq.ml.families.make_model", no_fit)
    interactions, _, _ = write_inputs(tmp_path)
    app = typer.Typer()
    app.command()(evaluate)
    for diversity in ("1.5", "-0.1"):
        args = ["--dataset", str(interactions), "--diversity", "0.3", "--diversity", diversity]
        result = CliRunner().invoke(app, args)
        printed = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and "'--diversity'" in printed, printed


def test_evaluate_prints_every_metric_for_a_csv(tmp_path: Path) -> None:
    interactions, _, _ = write_inputs(tmp_path)
    app = typer.Typer()
    app.command()(evaluate)
    args = ["--dataset", str(interactions), "--format", "csv", "--diversity", "0.7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)  # the fit's log lines go to stderr
    plain = {"ndcg@10", "recall@10", "precision@10", "map@10", "hr@10", "auc", "ild@10"}
    plain |= {"coverage@10"}
    assert set(metrics) == plain | {"accuracy"} | {f"{m} (diversity 0.7)" for m in plain}
    assert metrics["accuracy"] > 0.9
    # Re-ranking for variety makes lists more varied, at some cost in accuracy.
    assert metrics["ild@10 (diversity 0.7)"] > metrics["ild@10"]
    assert metrics["ndcg@10 (diversity 0.7)"] <= metrics["ndcg@10"] + 1e-9


def test_both_commands_train_the_model_family_named(tmp_path: Path) -> None:
    interactions, _, users = write_inputs(tmp_path)
    output = tmp_path / "recs.csv"
    args = ["fit-predict", "--interactions", str(interactions), "--users", str(users)]
    args += ["--k", "3", "--output", str(output)]
    result = CliRunner().invoke(offline_app, [*args, "--model", "blend-next"])
    assert result.exit_code == 0, result.output
    with output.open() as f:
        assert {r["user_id"] for r in csv.DictReader(f)} == {"user-0", "user-1", "nobody"}
    refused = CliRunner().invoke(offline_app, [*args, "--model", "mystery"])
    assert refused.exit_code == 2
    printed = " ".join(refused.output.replace("│", " ").split())  # the error box wraps lines
    assert "unknown model family 'mystery'; known: blend," in printed
    app = typer.Typer()
    app.command()(evaluate)
    args = ["--dataset", str(interactions), "--format", "csv", "--model", "ease"]
    result = CliRunner().invoke(app, [*args, "--diversity", "0.7"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["ndcg@10"] > 0
    # EASE has no item embeddings for MMR to compare: the lists were printed as "(diversity
    # 0.7)" though nothing was re-ranked, the plain metrics again under another name.
    assert not [name for name in metrics if "diversity" in name]
    assert "the ease fitted has no item embeddings to re-rank by" in result.stderr


@pytest.mark.parametrize("command", ["fit-predict", "evaluate"])
def test_reading_shows_bytes_read_of_the_file_it_opens_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    events = tmp_path / "events.csv"
    rows = [f"u{n % 97},i{n % 211},1\n" for n in range(5_000)]
    events.write_text("user_id,item_id,weight\n" + "".join(rows))
    (tmp_path / "users.txt").write_text("u1\n")
    trackers: list[RecordedProgress] = []

    def track(*args: Any, **kwargs: Any) -> RecordedProgress:
        trackers.append(RecordedProgress(*args, **kwargs))
        return trackers[-1]

    opened: list[Path] = []
    real_open = Path.open

    def counted_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr("contextiq.cli.ml.track", track)
    monkeypatch.setattr(Path, "open", counted_open)
    if command == "evaluate":
        app = typer.Typer()
        app.command()(evaluate)
        result = CliRunner().invoke(app, ["--dataset", str(events), "--format", "csv"])
    else:
        args = [
            "fit-predict",
            "--interactions",
            str(events),
            "--users",
            str(tmp_path / "users.txt"),
        ]
        args += ["--output", str(tmp_path / "out.csv")]
        result = CliRunner().invoke(offline_app, args)
    assert result.exit_code == 0, result.output
    [reading] = [t for t in trackers if t.desc == "reading events.csv"]
    size = events.stat().st_size
    assert (reading.total, reading.unit, sum(reading.advances)) == (size, BYTES, size)
    assert len(reading.advances) > 2  # it moved while reading, not only at the end
    assert opened.count(events) == 1  # no pass to count the lines first
