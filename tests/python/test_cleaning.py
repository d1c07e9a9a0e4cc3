"""Messy CRM exports: a synthetic stage-change log (lcsim synth, ~64,000 rows) with every class of
defect injected at known rows. Without dropping, one error lists every class at once; with
on_invalid="drop" / --drop-invalid each class is dropped or repaired and reported with its exact
rows, customers and lines, and the estimates are those of the clean log (minus the rows whose
timestamp was lost, which stay within the clean log's CIs)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import SCENARIOS

import lcsim

COLUMNS = ["customer_id", "timestamp", "stage", "segment"]
_HEADER = ",".join(COLUMNS)


@pytest.fixture(scope="module")
def history():
    h = lcsim.synth(SCENARIOS / "b2b_saas" / "baseline.yaml", observe_until=365)
    events = h["events"]
    return events, dict(events.attrs)


STAGES = [
    "awareness",
    "engaged",
    "lead",
    "mql",
    "sql",
    "customer",
    "loyal",
    "advocate",
    "dormant",
    "lost",
    "churned",
]


def _options(attrs):
    # The identity stage map names the known stages: any other stage value is unknown.
    return dict(
        censor_at=attrs["censor_at"],
        absorbing=attrs["absorbing"],
        won=attrs["won"],
        segment_column="segment",
        stage_map={s: s for s in STAGES},
    )


@pytest.fixture(scope="module")
def messy(history):
    """(rows written, expected cleaning by defect, index of the clean rows whose timestamp was blanked)."""
    events, attrs = history
    rows = events[COLUMNS].astype(str).values.tolist()
    n = len(rows)
    expected = {}
    by_customer = events.groupby("customer_id").indices

    # Real rows whose timestamp is lost (dropped: the estimates move a little).
    blanked = list(range(1000, 9000, 1000))  # 8 rows
    for i in blanked:
        rows[i][1] = ""
    # Real rows written with an offset: the same instant (2 h later at +02:00).
    offset = [i for i in range(20000, 30000, 1000)]  # 10 rows
    for i in offset:
        ts = pd.Timestamp(rows[i][1]).tz_convert("Etc/GMT-2")
        rows[i][1] = ts.strftime("%Y-%m-%dT%H:%M:%S+02:00")
    # Customers with exactly two rows at different times: written in the other order.
    pairs = [
        ix
        for ix in by_customer.values()
        if len(ix) == 2
        and events.timestamp.iloc[ix[0]] < events.timestamp.iloc[ix[1]]
        and max(ix) < 60000
        and not set(ix) & set(blanked + offset)
    ][:4]
    for a, b in pairs:
        rows[a], rows[b] = rows[b], rows[a]
    # Rows after an absorbing stage: for customers whose path ends in 'lost' well before censor_at.
    censor = pd.Timestamp(attrs["censor_at"])
    ended = [
        ix[-1]
        for cid, ix in by_customer.items()
        if len(ix) >= 2
        and events.stage.iloc[ix[-1]] == "lost"
        and pd.Timestamp(events.timestamp.iloc[ix[-1]]) < censor - pd.Timedelta(days=10)
        and not set(ix) & set(blanked + offset + [i for p in pairs for i in p])
    ][:5]
    extra = []
    for i in ended:
        later = (pd.Timestamp(events.timestamp.iloc[i]) + pd.Timedelta(days=3)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        extra.append(
            ("after", [events.customer_id.iloc[i], later, "engaged", events.segment.iloc[i]])
        )
    # Exact duplicates of real rows, unusable rows of each kind.
    for i in range(40000, 47000, 1000):  # 7
        extra.append(("dup", list(rows[i])))
    for k in range(5):
        extra.append(("unparseable", [f"C9{k:05d}", "31/12/2025", "lead", "smb"]))
    for k in range(6):
        extra.append(("unknown", [f"C8{k:05d}", "2025-03-01T00:00:00Z", "Qualified Lead", "icp"]))
    for _ in range(3):
        extra.append(("noid", ["", "2025-03-02T00:00:00Z", "lead", "smb"]))
    for k in range(2):
        extra.append(("wide", [f"C7{k:05d}", "2025-03-03T00:00:00Z", "lead", "smb", "extra"]))
    lines = {}
    for kind, row in extra:
        rows.append(row)
        lines.setdefault(kind, []).append(len(rows) + 1)  # header is line 1
    usable_lines = [i + 2 for i in range(n) if i not in set(blanked)] + [
        line for k in ("after", "dup") for line in lines[k]
    ]
    usable = [rows[line - 2] for line in usable_lines]
    expected = {
        "missing timestamp": (
            8,
            len({events.customer_id.iloc[i] for i in blanked}),
            [i + 2 for i in blanked],
            "dropped",
        ),
        "unparseable timestamp": (5, 5, lines["unparseable"], "dropped"),
        "unknown stage": (6, 6, lines["unknown"], "dropped"),
        "empty customer id": (3, 0, lines["noid"], "dropped"),
        "wrong number of fields": (2, 0, lines["wide"], "dropped"),
        "duplicate row": (7, 7, lines["dup"], "dropped"),
        # Every usable row names its zone (lcsim synth writes Z; 10 rows at +02:00): Z counts with
        # the offsets, the same instant in UTC.
        "timezone offset": (
            len(usable),
            len({r[0] for r in usable}),
            sorted(usable_lines),
            "converted to UTC",
        ),
        "out of order": (4, 4, sorted(b + 2 for a, b in pairs), "sorted by timestamp"),
        "after an absorbing stage": (5, 5, lines["after"], "dropped"),
    }
    assert n + len(extra) == len(rows)
    return rows, expected, blanked


def _write(path: Path, rows, header=_HEADER, sep=","):
    def cell(x):
        return f'"{x}"' if (sep in x or '"' in x) else x

    path.write_text(header + "\n" + "\n".join(sep.join(cell(x) for x in r) for r in rows) + "\n")
    return path


def test_without_dropping_one_error_lists_every_class(messy, history, tmp_path):
    rows, expected, _ = messy
    _, attrs = history
    with pytest.raises(lcsim.ScenarioError) as caught:
        lcsim.calibrate(_write(tmp_path / "messy.csv", rows), **_options(attrs))
    lines = [(p.line, p.field) for p in caught.value.problems if not p.warning]
    unusable = (
        "missing timestamp",
        "unparseable timestamp",
        "unknown stage",
        "empty customer id",
        "wrong number of fields",
    )
    listed = sorted(line for d in unusable for line in expected[d][2])
    assert (
        sorted(line for line, _ in lines[:-1]) == listed
    )  # every unusable row, each with its line
    assert (
        "duplicate row" in caught.value.problems[-1].message
        and lines[-1][0] == expected["duplicate row"][2][0]
    )
    assert len(lines) == sum(expected[d][0] for d in unusable) + 1


def test_dropping_reports_each_class_exactly_and_keeps_the_clean_estimates(
    messy, history, tmp_path
):
    rows, expected, blanked = messy
    events, attrs = history
    cal = lcsim.calibrate(
        _write(tmp_path / "messy.csv", rows), on_invalid="drop", **_options(attrs)
    )
    got = {r.defect: (r.rows, r.customers, r.lines, r.action) for r in cal.cleaning.itertuples()}
    for defect, (count, customers, lines, action) in expected.items():
        assert got[defect] == (count, customers, sorted(lines), action), defect
    assert (
        cal.cleaning.set_index("defect").loc["timezone offset", "detail"]
        == f"Z: {expected['timezone offset'][0] - 10} rows, +02:00: 10 rows"
    )
    # Every defect but the lost timestamps is neutral: the estimates are the clean log's minus those rows.
    reference = lcsim.calibrate(events.drop(index=events.index[blanked]), **_options(attrs))

    # (The initial cohorts are listed in the order their stages first appear in the file, which the
    # rows written out of order change: compared as a set.)
    def split(estimates):
        cohorts = estimates["parameter"].str.startswith("arrivals.initial[")
        return estimates[~cohorts].reset_index(drop=True), sorted(estimates[cohorts]["estimate"])

    mine_rest, mine_cohorts = split(cal.estimates)
    ref_rest, ref_cohorts = split(reference.estimates)
    pd.testing.assert_frame_equal(mine_rest, ref_rest)
    assert mine_cohorts == ref_cohorts
    clean = split(lcsim.calibrate(events, **_options(attrs)).estimates)[0].set_index("parameter")
    mine = mine_rest.set_index("parameter")
    # Losing 8 rows can tip a stage's dwell family (AIC) or add a rare move: compare what both have.
    common = [p for p in mine.index if p in clean.index]
    assert len(common) >= 0.9 * len(clean)
    clean, mine = clean.loc[common], mine.loc[common]
    inside = (mine["estimate"] >= clean["ci_low"]) & (mine["estimate"] <= clean["ci_high"])
    assert inside.all(), mine[~inside]


def test_the_command_line_drops_reports_and_checks(messy, history, tmp_path, lcsim_cli):
    rows, expected, _ = messy
    _, attrs = history
    path = _write(tmp_path / "messy.csv", rows)
    base = [
        "--censor-at",
        attrs["censor_at"],
        "--absorbing",
        ",".join(attrs["absorbing"]),
        "--won",
        attrs["won"],
        "--segment-column",
        "segment",
        "--stages",
        ",".join(STAGES),
    ]
    done = lcsim_cli(
        "calibrate",
        path,
        *base,
        "--drop-invalid",
        "--out",
        tmp_path / "c.yaml",
        "--report",
        tmp_path / "r.json",
    )
    assert done.returncode == 0, done.stderr
    assert "cleaning (what the log needed)" in done.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    got = {
        s["defect"]: (s["rows"], s["customers"], s["lines"], s["action"])
        for s in report["events"]["cleaning"]
    }
    for defect, (count, customers, lines, action) in expected.items():
        assert got[defect] == (count, customers, sorted(lines), action), defect
    # A dry run reads and reports only: no --out needed, nothing written but the report.
    done = lcsim_cli(
        "calibrate", path, *base, "--drop-invalid", "--dry-run", "--report", tmp_path / "dry.json"
    )
    assert done.returncode == 0, done.stderr
    assert "dry run: nothing fitted" in done.stdout and "unknown stage" in done.stdout
    assert (
        json.loads((tmp_path / "dry.json").read_text())["events"]["cleaning"]
        == report["events"]["cleaning"]
    )
    done = lcsim_cli("calibrate", path, *base, "--dry-run")
    assert done.returncode == 2
    assert all(f"{path}:{line}:" in done.stderr for line in expected["unknown stage"][2])
    done = lcsim_cli("calibrate", path, *base)
    assert done.returncode == 2 and "--out" in done.stderr


def test_export_column_names_semicolons_and_a_bom(history, tmp_path, lcsim_cli):
    events, attrs = history
    rows = events[COLUMNS].astype(str).values.tolist()[:5000]
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + _write(
            tmp_path / "x.csv", rows, header="Deal ID;Date entered;Stage;Segment", sep=";"
        ).read_bytes()
    )
    cols = "customer_id=Deal ID,timestamp=Date entered,stage=Stage,segment=Segment"
    done = lcsim_cli(
        "calibrate",
        path,
        "--columns",
        cols,
        "--censor-at",
        attrs["censor_at"],
        "--absorbing",
        ",".join(attrs["absorbing"]),
        "--won",
        attrs["won"],
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr
    assert "5000 of 5000 rows usable" in done.stdout
    py = lcsim.calibrate(
        path,
        columns={
            "customer_id": "Deal ID",
            "timestamp": "Date entered",
            "stage": "Stage",
            "segment": "Segment",
        },
        censor_at=attrs["censor_at"],
        absorbing=attrs["absorbing"],
        won=attrs["won"],
    )
    assert len(py.estimates) > 10
    done = lcsim_cli("calibrate", path, "--columns", "deal=Deal ID", "--dry-run")
    assert done.returncode == 2 and "unknown key 'deal'" in done.stderr
    with pytest.raises(ValueError, match="on_invalid"):
        lcsim.calibrate(path, on_invalid="ignore")
    with pytest.raises(ValueError, match="columns: unknown key"):
        lcsim.calibrate(path, columns={"id": "Deal ID"})


def test_day_first_dates_only_when_asked(history, tmp_path, lcsim_cli):
    events, attrs = history
    rows = events[COLUMNS].astype(str).values.tolist()[:5000]
    iso = _write(tmp_path / "iso.csv", rows)
    dmy_rows = [[r[0], pd.Timestamp(r[1]).strftime("%d/%m/%Y %H:%M:%S"), r[2], r[3]] for r in rows]
    dmy = _write(tmp_path / "dmy.csv", dmy_rows)
    censor = pd.Timestamp(attrs["censor_at"])
    opts = dict(absorbing=attrs["absorbing"], won=attrs["won"], segment_column="segment")
    want = lcsim.calibrate(iso, censor_at=attrs["censor_at"], **opts).estimates
    got = lcsim.calibrate(
        dmy, censor_at=censor.strftime("%d/%m/%Y %H:%M:%S"), date_format="dmy", **opts
    ).estimates
    pd.testing.assert_frame_equal(got, want)
    # Never guessed: without --date-format the day-first rows are unparseable, with the form they need.
    done = lcsim_cli("calibrate", dmy, "--censor-at", attrs["censor_at"], "--dry-run")
    assert done.returncode == 2 and "unparseable timestamp" in done.stderr, done.stderr
    done = lcsim_cli(
        "calibrate", dmy, "--censor-at", attrs["censor_at"], "--date-format", "dmy", "--dry-run"
    )
    assert done.returncode == 0 and "5000 of 5000 rows usable" in done.stdout, done.stderr
    done = lcsim_cli("calibrate", dmy, "--date-format", "ymd", "--dry-run")
    assert done.returncode == 2 and "--date-format" in done.stderr
    with pytest.raises(ValueError, match="date_format"):
        lcsim.calibrate(dmy, date_format="european")
