"""`lcsim report` / `lcsim.report`: one self-contained HTML page per study, checked in a real browser
(headless Chromium): it renders without console errors and without any request outside the file, and
the verdicts and deltas on the page are the study's."""

import re

import pytest
from browser import chrome, console_errors, requested_urls, wait_for
from conftest import SCENARIOS

import lcsim
from lcsim import recommend
from lcsim.htmlreport import number, signed


@pytest.fixture(scope="module")
def study(tmp_path_factory, lcsim_cli):
    """A study with two comparisons (one with a sales team), a sweep and a run of its own."""
    path = tmp_path_factory.mktemp("report") / "study.h5"
    b2b, team = SCENARIOS / "b2b_saas", SCENARIOS / "sales_team"
    steps = [
        (
            "compare",
            b2b / "baseline.yaml",
            b2b / "webinar_for_mqls.yaml",
            b2b / "faster_follow_up.yaml",
            "--replications",
            4,
            "--out",
            path,
            "--name",
            "b2b",
        ),
        (
            "compare",
            team / "baseline.yaml",
            team / "two_more_reps.yaml",
            "--replications",
            4,
            "--out",
            path,
            "--name",
            "team",
        ),
        (
            "sweep",
            b2b / "faster_follow_up.yaml",
            "--set",
            "touchpoints.first_call.reach=0.5,0.7,0.9",
            "--replications",
            3,
            "--out",
            path,
            "--name",
            "reach",
        ),
        ("run", b2b / "baseline.yaml", "--replications", 3, "--out", path, "--name", "alone"),
    ]
    for step in steps:
        done = lcsim_cli(*step)
        assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def page(study, tmp_path_factory, lcsim_cli):
    out = tmp_path_factory.mktemp("page") / "report.html"
    done = lcsim_cli("report", study, "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"report written to {out}"
    return out


def test_the_report_is_one_self_contained_file(page):
    html = page.read_text()
    # Plotly's bundle is inline once, first; its own code mentions URLs in strings, so it is set aside.
    bundle = re.search(r"<script>(.*?)</script>", html, re.S)
    assert (
        bundle and len(bundle.group(1)) > 1_000_000 and "plotly" in bundle.group(1)[:2000].lower()
    )
    html = html[: bundle.start()] + html[bundle.end() :]
    # No script, style, image or font from elsewhere: every src/href is inline, local or an anchor.
    assert not re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html)
    assert not re.findall(r"""@import|url\(\s*["']?https?:""", html)
    assert "<script src" not in html and "<link" not in html
    assert (
        len(re.findall(r"Plotly\.newPlot", html)) == 2 * 3 + 1 + 1
    )  # 2 comparisons x 3, sweep, run
    assert page.stat().st_mode & 0o044, "a report is for mailing: readable beyond its owner"


def test_every_section_and_the_provenance_are_there(page, study):
    html = page.read_text()
    st = lcsim.open(study)
    for name in ("Comparison b2b", "Comparison team", "Sweep reach", "Run alone"):
        assert name in html
    assert "staff (servers)" not in html  # app words do not leak into the report
    assert "utilisation (share of staffed time busy)" in html  # the team's table
    assert "resources.sales.servers" in html  # what two_more_reps changes (the analyst's table)
    assert "touchpoints.first_call.schedule.after_entry.days" in html
    base = st["b2b.base"].info
    assert f"<td>{base.seed}</td>" in html and base.created in html
    assert f"extends <code>{SCENARIOS / 'b2b_saas/baseline.yaml'}</code>" in html


def test_the_page_renders_in_a_browser_with_the_studys_numbers(page, study, tmp_path):
    st = lcsim.open(study)
    driver = chrome()
    try:
        driver.get(page.as_uri())
        from selenium.webdriver.common.by import By

        wait_for(
            lambda: len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= 8,
            what="the charts to render",
        )
        cmp = st.comparison("b2b")
        deltas = cmp.deltas()
        recs = {r.variant: r for r in recommend.rank(cmp)}
        for variant in cmp.variants:
            shown = driver.find_element(
                By.CSS_SELECTOR, f'.variant[data-run="{variant.name}"] .verdict-text'
            ).text
            assert shown == recs[variant.name].sentence
            block = driver.find_element(By.CSS_SELECTOR, f'.variant[data-run="{variant.name}"]')
            for metric in (
                "conversions",
                "revenue",
                "touchpoint_cost",
                "discounted_revenue",
                "discounted_cost",
                "net_value",
            ):
                row = deltas[
                    (deltas["variant"] == variant.name) & (deltas["metric"] == metric)
                ].iloc[0]
                cell = block.find_element(
                    By.CSS_SELECTOR, f'table.deltas tr[data-metric="{metric}"] td.delta'
                ).text
                assert cell == signed(row["delta"]), metric
                ci = block.find_element(
                    By.CSS_SELECTOR, f'table.deltas tr[data-metric="{metric}"] td:nth-child(5)'
                ).text
                assert ci == f"{number(row['ci_low'])} to {number(row['ci_high'])}"
        # Hover values come from the same numbers: the deltas chart's first trace holds the deltas,
        # top to bottom in the ranking's order.
        xs = driver.execute_script(
            "return document.getElementById('comparison-0-deltas').data[0].x;"
        )
        conversions = deltas[deltas["metric"] == "conversions"].set_index("variant")["delta"]
        assert xs == pytest.approx([conversions[r] for r in recs], rel=0, abs=0)
        assert console_errors(driver) == []
        outside = [
            u
            for u in requested_urls(driver)
            if not u.startswith(("file://", "data:", "about:", "blob:"))
        ]
        assert outside == []
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


def _money_values(sentence: str) -> list[float]:
    """The amounts of a sentence, in dollars: +$0.99 M, -$3 k, +$2,973."""
    units = {"M": 1e6, "k": 1e3, "": 1.0}
    return [
        (-1 if sign == "-" else 1) * float(value.replace(",", "")) * units[unit]
        for sign, value, unit in re.findall(r"([+-]?)\$([\d,]+(?:\.\d+)?)(?: (M|k))?", sentence)
    ]


def test_the_recommendation_ranks_by_the_studys_net_value_and_its_sentence_has_its_numbers(
    page, study
):
    st = lcsim.open(study)
    driver = chrome()
    try:
        driver.get(page.as_uri())
        from selenium.webdriver.common.by import By

        for k, name in enumerate(("b2b", "team")):
            cmp = st.comparison(name)
            deltas = cmp.deltas().set_index(["variant", "metric"])
            items = wait_for(
                lambda k=k: driver.find_elements(
                    By.CSS_SELECTOR, f"#comparison-{k} .recommendation"
                ),
                what="the ranking",
            )
            runs = [li.get_attribute("data-run") for li in items]
            net = {v.name: deltas.loc[(v.name, "net_value"), "delta"] for v in cmp.variants}
            assert runs == sorted(net, key=lambda r: -net[r]), "ranked by the study's net value"
            assert [li.get_attribute("data-rank") for li in items] == [
                str(i) for i in range(1, len(items) + 1)
            ]
            # The first sentence: its net value and CI are the study's, rounded to the unit shown.
            first = items[0].find_element(By.CSS_SELECTOR, ".rec-sentence").text
            row = deltas.loc[(runs[0], "net_value")]
            amounts = _money_values(
                first.split(" net value ")[0].rsplit(" and ", 1)[-1]
                + " "
                + first.split("95% CI ")[1]
            )
            scale = (
                1e6
                if max(abs(row["delta"]), abs(row["ci_high"]), abs(row["ci_low"])) >= 5e5
                else 1e3
            )
            tolerance = 0.005 * scale if scale == 1e6 else 0.5 * scale
            assert amounts == pytest.approx(
                [row["delta"], row["ci_low"], row["ci_high"]], abs=tolerance
            )
            conversions = deltas.loc[(runs[0], "conversions")]
            if conversions["ci_low"] > 0:  # led by the metric that moved
                assert (
                    f"about +{conversions['delta']:,.0f} customers won" in first
                    or f"about +{conversions['delta']:.1f} customers won" in first
                )
            prospects = deltas.loc[(runs[0], "customers"), "base_mean"]
            assert f"over 2 years per run of {prospects:,.0f} prospects" in first
            # The ranking table holds the exact numbers.
            table_net = driver.find_element(
                By.CSS_SELECTOR, f'#comparison-{k} .ranking-table tr[data-run="{runs[0]}"] td.net'
            ).text
            assert table_net == signed(row["delta"])
            # "Cannot tell apart" is shown exactly where the 95% intervals overlap.
            for li, run in zip(items, runs):
                ties = li.find_elements(By.CSS_SELECTOR, ".tie")
                lo, hi = (
                    deltas.loc[(run, "net_value"), "ci_low"],
                    deltas.loc[(run, "net_value"), "ci_high"],
                )
                overlapping = [
                    o
                    for o in runs
                    if o != run
                    and deltas.loc[(o, "net_value"), "ci_low"] <= hi
                    and lo <= deltas.loc[(o, "net_value"), "ci_high"]
                ]
                assert bool(ties) == bool(overlapping)
                # A gain whose interval holds 0 is marked as unclear.
                assert ("unclear" in li.get_attribute("class").split()) == (lo <= 0 <= hi)
        assert console_errors(driver) == []
    finally:
        driver.quit()


@pytest.mark.parametrize("width", [1366, 1920])
def test_teams_and_wide_tables_fit_their_box_and_the_charts_export_png(page, tmp_path, width):
    driver = chrome(width=width)
    try:
        driver.get(page.as_uri())
        from selenium.webdriver.common.by import By

        wait_for(
            lambda: len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= 8,
            what="the charts",
        )
        teams = driver.find_elements(By.CSS_SELECTOR, "table.team")
        assert teams
        for table in teams + driver.find_elements(
            By.CSS_SELECTOR, "table.deltas, table.who, table.ranking-table"
        ):
            box = driver.execute_script(
                "const t = arguments[0], b = t.parentElement, r = t.getBoundingClientRect(), "
                "q = b.getBoundingClientRect();"
                "return {right: r.right, boxRight: q.right, scrollW: b.scrollWidth, clientW: b.clientWidth,"
                " overflow: getComputedStyle(b).overflowX, inner: window.innerWidth};",
                table,
            )
            assert box["boxRight"] <= box["inner"], box
            fits = box["right"] <= box["boxRight"] + 0.5
            scrolls = box["scrollW"] > box["clientW"] and box["overflow"] in ("auto", "scroll")
            assert fits or scrolls, box
            if table in teams:
                assert fits, box  # the Teams table is fully visible at both widths
        # Each chart's camera button saves a PNG, drawn in the page (no network).
        titles = driver.execute_script(
            "return [...document.querySelectorAll('#comparison-0-funnel .modebar-btn')]"
            ".map(b => b.getAttribute('data-title'));"
        )
        assert "Download plot as a PNG" in titles and not any(
            "share" in (t or "").lower() for t in titles
        ), titles
        png = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Plotly.toImage(document.getElementById('comparison-0-funnel'), {format: 'png', width: 800, height: 500})"
            ".then(done, e => done('error: ' + e));"
        )
        assert png.startswith("data:image/png;base64,") and len(png) > 5_000, png[:80]
        # The funnel is on a linear axis, with the change against the base beside it.
        layout = driver.execute_script(
            "const g = document.getElementById('comparison-0-funnel'); "
            "return [g.layout.xaxis.type, g.data.map(t => t.xaxis)];"
        )
        assert layout[0] == "linear" and "x2" in layout[1]
        assert console_errors(driver) == []
        outside = [
            u
            for u in requested_urls(driver)
            if not u.startswith(("file://", "data:", "about:", "blob:"))
        ]
        assert outside == []
        driver.save_screenshot(str(tmp_path / f"report-{width}.png"))
    finally:
        driver.quit()


def test_the_words_on_the_page(page, study):
    html = page.read_text()
    # Costs carry one name; net value says it is discounted and shows how it adds up; horizon and
    # "per run" are said; the scenario's fields appear in words (dotted paths only among the
    # analyst's details).
    assert (
        "touchpoint and staff cost" in html
        and "cost ($ per replication)" not in html
        and "incl. staff" not in html
    )
    assert "Net value " in html and "= discounted revenue " in html and "10% a year" in html
    assert "2 years (730 days)" in html and "per run of 46," in html
    assert "Adds webinar for MQLs, weekly from day 3 (25% reach, $15 a contact)" in html
    assert "Sales team: 5 staff instead of 3" in html
    main = html[html.index("<main>") :]
    main = main[
        : main.index('<section id="sweep-0"')
    ]  # the comparisons (a run's own summary lists metric names)
    outside_details = re.sub(r"<details class=\"analyst\">.*?</details>", "", main, flags=re.S)
    outside_details = re.sub(
        r"<script.*?</script>|<div class=\"figure\">.*?</div>", "", outside_details, flags=re.S
    )
    assert (
        "resources.sales.servers" not in outside_details
        and "variance reduction" not in outside_details
    )
    assert "dropoff." not in outside_details and "lift" not in outside_details.lower().replace(
        "shift", ""
    )
    # Who changed: a variant that changes no touchpoint has no "reached in" column full of "(not reached)".
    st = lcsim.open(study)
    team = st.comparison("team")
    block = main[main.index(f'<div class="variant" data-run="{team.variants[0].name}"') :]
    block = block[: block.index('<details class="analyst">')]
    assert "(not reached)" not in block and "changes no touchpoint" in block


def test_the_glossary_once_and_sweeps_in_words(page):
    html = page.read_text()
    main = html[html.index("<main>") :]
    # One glossary, under the first comparison; the second links to it and says its own run size.
    assert main.count("What the words mean") == 1
    assert '<details class="glossary" id="comparison-0-glossary" open>' in main
    second = main[main.index('<section id="comparison-1"') : main.index('<section id="sweep-0"')]
    assert 'href="#comparison-0-glossary"' in second and "replications" in second
    # The sweep's settings and metrics in words; dotted names only in its analyst details (and the
    # charts' hover data).
    sweep = main[main.index('<section id="sweep-0"') :]
    sweep = sweep[: sweep.index("</section>")]
    assert (
        "first call: reach (share contacted)" in sweep
        and "customers won (per run): mean [95% CI]" in sweep
    )
    visible = re.sub(
        r"<details class=\"analyst\">.*?</details>|<script.*?</script>|title=\"[^\"]*\"",
        "",
        sweep,
        flags=re.S,
    )
    assert "touchpoints.first_call.reach" not in visible and "net_value" not in visible
    assert "<code>touchpoints.first_call.reach</code>" in sweep


def test_no_lock_file_is_left_beside_the_study(study, page):
    """Neither the writers (compare, sweep, run --out) nor the report leave `<study>.lock` behind."""
    assert sorted(p.name for p in study.parent.iterdir()) == ["study.h5"]


def test_report_errors_are_one_line_and_leave_no_file(tmp_path, lcsim_cli):
    out = tmp_path / "report.html"
    done = lcsim_cli("report", tmp_path / "missing.h5", "--out", out)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "missing.h5" in done.stderr
    assert not out.exists()
    not_a_study = tmp_path / "notes.h5"
    not_a_study.write_text("hello")
    done = lcsim_cli("report", not_a_study, "--out", out)
    assert done.returncode == 2 and "not an HDF5 file" in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".report.html.*"))
    done = lcsim_cli("report", not_a_study)
    assert done.returncode == 2 and "--out" in done.stderr


def test_the_python_function_returns_the_page_or_writes_it(study, tmp_path):
    html = lcsim.report(study)
    assert html.startswith("<!DOCTYPE html>") and "Comparison b2b" in html
    path = lcsim.report(study, tmp_path / "sub" / "r.html", title="Q3 what-if")
    assert path == tmp_path / "sub" / "r.html" and "<title>Q3 what-if</title>" in path.read_text()
