"""`lcsim report` / `lcsim.report`: one self-contained HTML page per study, checked in a real browser
(headless Chromium): it renders without console errors and without any request outside the file, and
the verdicts and deltas on the page are the study's."""

import re
from pathlib import Path

import pytest

import lcsim
from browser import chrome, console_errors, requested_urls, wait_for
from conftest import SCENARIOS
from lcsim.htmlreport import number, signed


@pytest.fixture(scope="module")
def study(tmp_path_factory, lcsim_cli):
    """A study with two comparisons (one with a sales team), a sweep and a run of its own."""
    path = tmp_path_factory.mktemp("report") / "study.h5"
    b2b, team = SCENARIOS / "b2b_saas", SCENARIOS / "sales_team"
    steps = [
        ("compare", b2b / "baseline.yaml", b2b / "webinar_for_mqls.yaml", b2b / "faster_follow_up.yaml",
         "--replications", 4, "--out", path, "--name", "b2b"),
        ("compare", team / "baseline.yaml", team / "two_more_reps.yaml", "--replications", 4, "--out", path,
         "--name", "team"),
        ("sweep", b2b / "faster_follow_up.yaml", "--set", "touchpoints.first_call.reach=0.5,0.7,0.9",
         "--replications", 3, "--out", path, "--name", "reach"),
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
    assert bundle and len(bundle.group(1)) > 1_000_000 and "plotly" in bundle.group(1)[:2000].lower()
    html = html[:bundle.start()] + html[bundle.end():]
    # No script, style, image or font from elsewhere: every src/href is inline, local or an anchor.
    assert not re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html)
    assert not re.findall(r"""@import|url\(\s*["']?https?:""", html)
    assert "<script src" not in html and "<link" not in html
    assert len(re.findall(r"Plotly\.newPlot", html)) == 2 * 3 + 1 + 1  # 2 comparisons x 3, sweep, run
    assert page.stat().st_mode & 0o044, "a report is for mailing: readable beyond its owner"


def test_every_section_and_the_provenance_are_there(page, study):
    html = page.read_text()
    st = lcsim.open(study)
    for name in ("Comparison b2b", "Comparison team", "Sweep reach", "Run alone"):
        assert name in html
    assert "staff (servers)" not in html  # app words do not leak into the report
    assert "utilisation (share of staffed time busy)" in html  # the team's table
    assert "resources.sales.servers" in html  # what two_more_reps changes
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

        wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= 8,
                 what="the charts to render")
        cmp = st.comparison("b2b")
        deltas = cmp.deltas()
        for i, variant in enumerate(cmp.variants):
            shown = driver.find_element(By.CSS_SELECTOR, f'.verdict[data-run="{variant.name}"] .verdict-text').text
            assert shown == cmp.verdicts[i].split(": ", 1)[1]
            block = driver.find_element(By.CSS_SELECTOR, f'.variant[data-run="{variant.name}"]')
            for metric in ("conversions", "revenue", "net_value"):
                row = deltas[(deltas["variant"] == variant.name) & (deltas["metric"] == metric)].iloc[0]
                cell = block.find_element(By.CSS_SELECTOR, f'tr[data-metric="{metric}"] td.delta').text
                assert cell == signed(row["delta"]), metric
                ci = block.find_element(By.CSS_SELECTOR, f'tr[data-metric="{metric}"] td:nth-child(5)').text
                assert ci == f"{number(row['ci_low'])} to {number(row['ci_high'])}"
        # Hover values come from the same numbers: the deltas chart's first trace holds the deltas.
        xs = driver.execute_script("return document.getElementById('comparison-0-deltas').data[0].x;")
        expected = deltas[deltas["metric"] == "conversions"]["delta"].tolist()
        assert xs == pytest.approx(expected, rel=0, abs=0)
        assert console_errors(driver) == []
        outside = [u for u in requested_urls(driver) if not u.startswith(("file://", "data:", "about:", "blob:"))]
        assert outside == []
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


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
