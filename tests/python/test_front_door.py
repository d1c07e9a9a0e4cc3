"""The analyst's front door, seen on a messy exact-time export written here with plain numpy (no
`lcsim synth`): a CRM's stage-change export grouped by account, local times without a zone, with
every class of defect injected at known rows. One `lcsim calibrate EVENTS --dry-run --report`
run exits 2, prints every class and warning, and its JSON lists every affected row exactly; the
same picture comes from lcsim.check_events; month-end snapshots with the CRM's own column names
read as the end of their day; a Markov-only fit needs no --won; tables and the written scenario
list the stages in funnel order."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import lcsim

HEADER = ["Account ID", "Changed At", "Stage"]
COLUMNS = "customer_id=Account ID,timestamp=Changed At,stage=Stage"
T0 = pd.Timestamp("2025-01-06")
MEAN_DAYS = {"Lead": 6.0, "MQL": 10.0, "SQL": 8.0}
NEXT = {
    "Lead": (["MQL", "Lost"], [0.6, 0.4]),
    "MQL": (["SQL", "Lead", "Lost"], [0.5, 0.1, 0.4]),
    "SQL": (["Won", "Lost"], [0.5, 0.5]),
}


def _accounts(n: int, seed: int):
    """Each account's path to Won or Lost: [(seconds since T0, stage)], whole seconds, increasing."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = rng.uniform(0.0, 300.0) * 86400.0
        stage = "Lead"
        path = [(int(t), stage)]
        while stage not in ("Won", "Lost"):
            t += max(rng.exponential(MEAN_DAYS[stage]) * 86400.0, 60.0)
            names, p = NEXT[stage]
            stage = names[rng.choice(len(names), p=p)]
            path.append((int(t), stage))
        out.append(path)
    return out


def _local(seconds: int) -> str:
    return (T0 + pd.Timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """(path, expected {defect: (lines, customers)}, expected errors, the rows as written)."""
    paths = _accounts(2500, seed=34)
    ids = [f"ACC-{a:05d}" for a in range(len(paths))]
    # One row = [id, timestamp text, stage, tag]; tags mark the injected rows.
    blocks = [[[ids[a], _local(t), s, ""] for t, s in path] for a, path in enumerate(paths)]
    rng = np.random.default_rng(7)
    free = list(rng.permutation(len(blocks)))

    def take(k, ok=lambda b: True):
        chosen = []
        for a in list(free):
            if len(chosen) == k:
                break
            if ok(blocks[a]):
                chosen.append(a)
                free.remove(a)
        assert len(chosen) == k
        return chosen

    def seconds(a, i):
        return paths[a][i][0]

    for a in take(8):  # a row written with its offset: the same instant at +02:00
        blocks[a][1][1] = (T0 + pd.Timedelta(seconds=seconds(a, 1) + 7200)).strftime(
            "%Y-%m-%dT%H:%M:%S+02:00"
        )
        blocks[a][1][3] = "offset"
    for a in take(6):  # a row in UTC, named with Z
        blocks[a][0][1] = (T0 + pd.Timedelta(seconds=seconds(a, 0))).strftime("%Y-%m-%dT%H:%M:%SZ")
        blocks[a][0][3] = "z"
    for a in take(5, lambda b: len(b) >= 3):  # a lost timestamp
        blocks[a][1][1], blocks[a][1][3] = "", "missing"
    for a in take(4, lambda b: len(b) >= 3):  # a day-first date nobody asked for
        blocks[a][1][1], blocks[a][1][3] = "31/12/2025 10:00", "unparseable"
    for a in take(5):  # an exact copy right after its row
        copy = list(blocks[a][0])
        copy[3] = "duplicate"
        blocks[a].insert(1, copy)
    for a in take(5, lambda b: len(b) >= 3):  # two rows the wrong way round
        blocks[a][0], blocks[a][1] = blocks[a][1], blocks[a][0]
        blocks[a][1][3] = "out of order"
    for a in take(5, lambda b: b[-1][2] == "Lost"):  # a row after the account was lost
        blocks[a].append([ids[a], _local(paths[a][-1][0] + 3 * 86400), "MQL", "after"])
    for a in take(4, lambda b: b[1][2] == "MQL"):  # a CRM stage nobody mapped, between lead and mql
        blocks[a].insert(
            1, [ids[a], _local((seconds(a, 0) + seconds(a, 1)) // 2), "Demo Booked", "rare"]
        )
    apart = []
    for a in take(6):  # the account's last row, appended at the end of the file
        row = blocks[a].pop()
        row[3] = "apart"
        apart.append(row)
    rows = [row for block in blocks for row in block] + apart
    line = {id(row): i + 2 for i, row in enumerate(rows)}  # the header is line 1

    def tagged(*tags):
        found = [r for r in rows if r[3] in tags]
        return sorted(line[id(r)] for r in found), len({r[0] for r in found})

    unusable = {"missing", "unparseable"}
    zoned = {"offset", "z"}
    plain = [r for r in rows if r[3] not in unusable | zoned]
    # The classes of unusable rows come in the order of their first row, then the others in a fixed order.
    unusable_classes = sorted(
        [
            ("missing timestamp", tagged("missing")),
            ("unparseable timestamp", tagged("unparseable")),
        ],
        key=lambda c: c[1][0][0],
    )
    expected = {
        **dict(unusable_classes),
        "duplicate row": tagged("duplicate"),
        "timezone offset": tagged("offset", "z"),
        "no time zone": (sorted(line[id(r)] for r in plain), len({r[0] for r in plain})),
        "out of order": tagged("out of order"),
        "not contiguous": tagged("apart"),
        "after an absorbing stage": tagged("after"),
        "rare stage": tagged("rare"),
    }
    path = tmp_path_factory.mktemp("front_door") / "export.csv"
    pd.DataFrame([r[:3] for r in rows], columns=HEADER).to_csv(path, index=False)
    return path, expected, rows


def _base(path):
    return ["calibrate", path, "--columns", COLUMNS, "--absorbing", "Won,Lost"]


def test_one_dry_run_shows_every_class_and_reports_every_row(export, lcsim_cli, tmp_path):
    path, expected, rows = export
    report = tmp_path / "r.json"
    done = lcsim_cli(*_base(path), "--dry-run", "--report", report)
    assert done.returncode == 2, (
        done.stderr
    )  # errors stop the fit, and the report is written anyway
    for defect in expected:
        assert defect in done.stdout, (defect, done.stdout)
    assert "3 classes of defect stop the fit" in done.stdout
    got = json.loads(report.read_text())
    cleaning = {s["defect"]: s for s in got["events"]["cleaning"]}
    assert list(cleaning) == list(expected)  # every class, in this order, and no other
    for defect, (lines, customers) in expected.items():
        step = cleaning[defect]
        assert step["lines"] == lines, defect
        assert (step["rows"], step["customers"]) == (len(lines), customers), defect
    assert [d for d, s in cleaning.items() if s["error"]] == list(expected)[:3]
    assert cleaning["missing timestamp"]["action"] == "error (drop these rows with --drop-invalid)"
    assert cleaning["duplicate row"]["action"] == "error (drop them with --drop-duplicates)"
    assert cleaning["timezone offset"]["detail"] == "+02:00: 8 rows, Z: 6 rows"
    assert cleaning["rare stage"]["detail"] == "'Demo Booked': 4 rows"
    # The errors: each unusable row with its line and column, then the duplicates with the CLI's flag.
    errors = got["errors"]
    unusable = [d for d in cleaning if d in ("missing timestamp", "unparseable timestamp")]
    assert [e["line"] for e in errors[:-1]] == [line for d in unusable for line in expected[d][0]]
    assert {e["field"] for e in errors[:-1]} == {"Changed At"}
    assert "drop them with --drop-duplicates" in errors[-1]["message"]
    assert "drop_duplicates" not in errors[-1]["message"]
    for e in errors:
        assert f"{path}:{e['line']}: " in done.stderr
    # The stages found, in funnel order, the unmapped CRM name flagged with the flags that fix it.
    counts = {c["stage"]: c for c in got["events"]["stage_counts"]}
    assert got["events"]["stages"][:4] == ["Lead", "Demo Booked", "MQL", "SQL"]
    assert set(got["events"]["stages"][4:]) == {"Won", "Lost"}
    assert counts["Demo Booked"]["rows"] == 4 and counts["Demo Booked"]["rare"]
    assert not any(c["rare"] for s, c in counts.items() if s != "Demo Booked")
    assert "Demo Booked" in done.stdout and "rare: an unmapped CRM stage?" in done.stdout
    warnings = [w["message"] for w in got["warnings"]]
    rare = next(w for w in warnings if "'Demo Booked'" in w)
    assert "--stages a,b,..." in rare and "--stage-map map.yaml" in rare
    assert any("apart from the earlier rows of their customer (6 customers)" in w for w in warnings)
    assert any(
        "give no time zone and are read as UTC, while 14 rows name one" in w for w in warnings
    )
    for needle in ("out of order", "absorbing stage", "Demo Booked", "no time zone"):
        assert needle in done.stderr
    # --json prints the same JSON, and exits 2 too.
    done = lcsim_cli(*_base(path), "--dry-run", "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["events"]["cleaning"] == got["events"]["cleaning"]


def test_a_failing_fit_shows_the_same_picture_before_its_errors(export, lcsim_cli, tmp_path):
    path, expected, _ = export
    done = lcsim_cli(
        *_base(path), "--won", "Won", "--out", tmp_path / "c.yaml", "--report", tmp_path / "r.json"
    )
    assert done.returncode == 2
    assert "stopped by the errors below" in done.stdout
    for defect in expected:
        assert defect in done.stdout, defect
    assert not (tmp_path / "c.yaml").exists() and not (tmp_path / "r.json").exists()


def test_python_check_events_gives_the_same_picture_with_python_hints(export, lcsim_cli, tmp_path):
    path, expected, _ = export
    check = lcsim.check_events(
        path,
        columns={"customer_id": "Account ID", "timestamp": "Changed At", "stage": "Stage"},
        absorbing=["Won", "Lost"],
    )
    assert not check.ok
    got = {r.defect: (r.lines, r.customers) for r in check.cleaning.itertuples()}
    assert got == expected
    assert check.cleaning.set_index("defect")["error"].to_dict()["duplicate row"]
    assert "drop them with drop_duplicates=True" in check.errors[-1]
    assert check.stages[:2] == ["Lead", "Demo Booked"]
    assert check.stage_counts.set_index("stage").loc["Demo Booked", "rare"]
    assert any("stages=[...]" in w and "stage_map={...}" in w for w in check.warnings)
    with pytest.raises(lcsim.ScenarioError, match="drop_duplicates=True"):
        lcsim.calibrate(
            path,
            columns={"customer_id": "Account ID", "timestamp": "Changed At", "stage": "Stage"},
            absorbing=["Won", "Lost"],
            won="Won",
        )


def test_once_cleaned_the_fit_lists_stages_in_funnel_order(export, lcsim_cli, tmp_path):
    path, expected, _ = export
    out = tmp_path / "c.yaml"
    done = lcsim_cli(
        *_base(path), "--won", "Won", "--drop-invalid", "--drop-duplicates", "--out", out
    )
    assert done.returncode == 0, done.stderr
    stages = list(yaml.safe_load(out.read_text())["stages"])
    assert stages[:4] == ["Lead", "Demo Booked", "MQL", "SQL"] and set(stages[4:]) == {
        "Won",
        "Lost",
    }
    table = done.stdout[done.stdout.index("stages found") :]
    assert [table.index(f"\n{s} ") for s in stages] == sorted(
        table.index(f"\n{s} ") for s in stages
    )
    estimates = done.stdout[done.stdout.index("estimates (") :]
    first = [estimates.index(f"stages.{s}.") for s in stages if s not in ("Won", "Lost")]
    assert first == sorted(first)
    # --stages gives the order (and makes an unlisted CRM name an error).
    order = "Lead,Demo Booked,MQL,SQL,Lost,Won"
    done = lcsim_cli(
        *_base(path),
        "--won",
        "Won",
        "--drop-invalid",
        "--drop-duplicates",
        "--stages",
        order,
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    assert list(yaml.safe_load(out.read_text())["stages"]) == order.split(",")
    done = lcsim_cli(
        *_base(path), "--drop-invalid", "--stages", "Lead,MQL,SQL,Won,Lost", "--dry-run"
    )
    assert done.returncode == 0 and "unknown stage" in done.stdout and "rare" not in done.stdout


# ---- month-end snapshots ---------------------------------------------------------------------------

SNAP_STAGES = ["lead", "mql", "sql", "customer", "lost"]


@pytest.fixture(scope="module")
def month_end(tmp_path_factory):
    """A CRM's month-end export (dates alone, the state at the close of the day) of accounts created
    at times of day, 30 of them during a month's last day; its own column names."""
    rng = np.random.default_rng(11)
    ends = [(pd.Timestamp("2025-01-01") + pd.offsets.MonthEnd(k)) for k in range(1, 13)]
    rates = {
        "lead": ({"mql": 0.05, "lost": 0.03}),
        "mql": {"sql": 0.06, "lost": 0.03},
        "sql": {"customer": 0.05, "lost": 0.04},
    }
    rows = []
    month_end_days = {(end - pd.Timestamp("2025-01-01")).days for end in ends}
    # Accounts created at random times, none during a month's last day, then 30 during one.
    created_all = [
        c + 1.0 if int(c) in month_end_days else c for c in rng.uniform(0, 300, 1500)
    ] + [(ends[k % 10] - pd.Timestamp("2025-01-01")).days + 0.3 + 0.02 * k for k in range(30)]
    for a, c in enumerate(created_all):
        created = pd.Timestamp("2025-01-01") + pd.Timedelta(seconds=int(c * 86400))
        t, stage, changes = created, "lead", []
        while stage in rates:
            total = sum(rates[stage].values())
            t = t + pd.Timedelta(days=float(rng.exponential(1.0 / total)))
            names = list(rates[stage])
            stage = names[rng.choice(len(names), p=[rates[stage][n] / total for n in names])]
            changes.append((t, stage))
        for end in ends:
            close = end + pd.Timedelta(hours=23, minutes=59, seconds=59)
            if close < created:
                continue
            now = "lead"
            for when, s in changes:
                if when <= close:
                    now = s
            rows.append(
                (f"A{a:05d}", end.strftime("%Y-%m-%d"), now, created.strftime("%Y-%m-%dT%H:%M:%S"))
            )
    path = tmp_path_factory.mktemp("month_end") / "snapshots.csv"
    pd.DataFrame(rows, columns=["account", "month_end", "stage", "created_at"]).to_csv(
        path, index=False
    )
    return path


SNAP_COLUMNS = "customer_id=account,date=month_end,created=created_at"


def test_month_end_snapshots_with_their_own_columns_read_as_the_end_of_the_day(
    month_end, lcsim_cli, tmp_path
):
    base = [
        "calibrate",
        "--snapshots",
        month_end,
        "--columns",
        SNAP_COLUMNS,
        "--absorbing",
        "customer,lost",
        "--max-phases",
        "1",
    ]
    out = tmp_path / "s.yaml"
    done = lcsim_cli(*base, "--won", "customer", "--out", out, "--report", tmp_path / "r.json")
    assert done.returncode == 0, done.stderr
    stages = list(yaml.safe_load(out.read_text())["stages"])
    assert stages[:3] == ["lead", "mql", "sql"] and set(stages[3:]) == {"customer", "lost"}
    # Read as midnight, the accounts created during the last day are created after the export
    # that lists them; all of them on that day, so the message says what the dates mean.
    done = lcsim_cli(*base, "--won", "customer", "--out", out, "--date-means", "start-of-day")
    assert done.returncode == 2
    late = [line for line in done.stderr.splitlines() if "after its first snapshot" in line]
    assert len(late) == 30, done.stderr
    assert all("which means the start of that day" in line for line in late)
    assert (
        "every one of the 30 customers created after their first snapshot was created on that snapshot's "
        "date" in done.stderr
    )
    assert "--date-means end-of-day" in done.stderr
    # --stages gives the order of the tables and of the scenario.
    done = lcsim_cli(
        *base, "--won", "customer", "--stages", "lead,mql,sql,lost,customer", "--out", out
    )
    assert done.returncode == 0, done.stderr
    assert list(yaml.safe_load(out.read_text())["stages"]) == [
        "lead",
        "mql",
        "sql",
        "lost",
        "customer",
    ]
    # Python: the same columns and meaning.
    cal = lcsim.calibrate(
        snapshots=month_end,
        columns={"customer_id": "account", "date": "month_end", "created": "created_at"},
        absorbing=["customer", "lost"],
        won="customer",
        max_phases=1,
    )
    assert cal.scenario is not None
    with pytest.raises(lcsim.ScenarioError, match='date_means="end-of-day"'):
        lcsim.calibrate(
            snapshots=month_end,
            columns={"customer_id": "account", "date": "month_end", "created": "created_at"},
            absorbing=["customer", "lost"],
            max_phases=1,
            date_means="start-of-day",
        )
    with pytest.raises(ValueError, match="date_means"):
        lcsim.calibrate(snapshots=month_end, date_means="noon")
    with pytest.raises(ValueError, match="columns: unknown key"):
        lcsim.calibrate(snapshots=month_end, columns={"timestamp": "month_end"})


def test_a_markov_only_fit_needs_no_won(month_end, lcsim_cli, tmp_path):
    base = [
        "calibrate",
        "--snapshots",
        month_end,
        "--columns",
        SNAP_COLUMNS,
        "--absorbing",
        "customer,lost",
        "--max-phases",
        "1",
    ]
    report = tmp_path / "r.json"
    done = lcsim_cli(*base, "--report", report)
    assert done.returncode == 0, done.stderr
    assert "snapshot fit (continuous-time Markov" in done.stdout
    assert "no scenario written (no --out; it needs --won STAGE too)" in done.stdout
    got = json.loads(report.read_text())
    assert got["scenario"] is None and len(got["snapshots"]["rates"]) >= 5
    # A scenario needs the conversion stage: asked for without one, the message says both ways out.
    done = lcsim_cli(*base, "--out", tmp_path / "s.yaml")
    assert done.returncode == 2
    assert "--won STAGE" in done.stderr and "leave out --out" in done.stderr
    assert not (tmp_path / "s.yaml").exists()
