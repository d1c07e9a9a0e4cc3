"""`lcsim app`: the what-if app in a real browser (headless Chromium) against a server started by the
`lcsim` command on 127.0.0.1. The baseline's numbers show on open; moving a lever refreshes the paired
comparison with lcsim.compare's numbers and marks the lever; a reach of 1.4 or another bad value shows
`lcsim validate`'s message (without the app's file name) next to its input, wrapped inside the lever
column, and runs nothing; moving one segment's share rescales the others; saving writes a small
`extends:` variant and a report. Every wait is bounded. With LCSIM_APP_SHOTS=DIR the screenshots at
1366 and 1920 px are also written to DIR."""

import math
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from browser import chrome, console_errors, free_port, requested_urls, wait_for
from conftest import SCENARIOS

import lcsim
from lcsim.app import (
    Lever,
    _cost_note,
    _money,
    levers,
    make_app,
    parse_value,
    problem_text,
    rebalance_shares,
    variant_text,
)
from lcsim.errors import Problem
from lcsim.htmlreport import number, signed

BASE = SCENARIOS / "b2b_saas" / "baseline.yaml"
TEAM = SCENARIOS / "sales_team" / "baseline.yaml"
REPLICATIONS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory, lcsim_cli):
    """`lcsim app` on a free port; yields (url, save_dir); stopped (and waited for) afterwards."""
    save_dir = tmp_path_factory.mktemp("app")
    port = free_port()
    process = subprocess.Popen(
        [
            lcsim_cli.path,
            "app",
            str(BASE),
            str(TEAM),
            "--port",
            str(port),
            "--replications",
            str(REPLICATIONS),
            "--save-dir",
            str(save_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        first = process.stdout.readline()
        assert first.strip() == f"lcsim app: open {url} (Ctrl-C stops it)", first

        def up():
            assert process.poll() is None, "the app exited"
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200

        wait_for(up, timeout=30, step=0.2, what="the app to listen")
        yield url, save_dir
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(server):
    driver = chrome()
    try:
        driver.get(server[0])
        yield driver
    finally:
        driver.quit()


def _by():
    from selenium.webdriver.common.by import By

    return By


def _part(driver, kind, path):
    By = _by()
    return wait_for(
        lambda: driver.find_element(
            By.CSS_SELECTOR, f'[id*=\'"path":"{path}"\'][id*=\'"type":"{kind}"\']'
        ),
        what=f"the {kind} of {path}",
    )


def lever(driver, path):
    """The input whose value counts: a number/text box (a probability's box beside its slider)."""
    return _part(driver, "lever", path)


def slider(driver, path):
    """A probability lever's slider handle."""
    return _part(driver, "slider", path).find_element(_by().CSS_SELECTOR, "[role=slider]")


def error_of(driver, path):
    return _part(driver, "lever-error", path)


def marked(driver, kind):
    """The paths of the levers marked `kind` ("changed" or "invalid")."""
    By = _by()
    return sorted(
        e.get_attribute("id").split('"path":"')[1].split('"')[0]
        for e in driver.find_elements(By.CSS_SELECTOR, f".lever.{kind}")
    )


def type_into(box, text):
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text, Keys.ENTER)


def verdict(driver):
    return driver.find_element(_by().ID, "verdict").text


def test_the_baseline_numbers_show_on_open_and_are_compares(browser):
    By = _by()
    wait_for(lambda: browser.find_element(By.ID, "baseline-summary"), what="the baseline's numbers")
    assert not browser.find_elements(By.ID, "verdict")
    assert marked(browser, "changed") == [] and marked(browser, "invalid") == []
    base = lcsim.Scenario.load(BASE)
    # The base arm of a comparison on the same replications: the numbers the report shows for it.
    rows = (
        lcsim.compare(
            base,
            base.with_changes({"touchpoints.first_call.reach": 0.5}),
            replications=REPLICATIONS,
        )
        .deltas()
        .set_index("metric")
    )
    for metric in ("conversions", "revenue", "touchpoint_cost", "net_value"):
        cell = browser.find_element(By.CSS_SELECTOR, f"#base-{metric} td.value").text
        assert cell == number(rows.loc[metric, "base_mean"]), metric
    assert (
        f"mean over {REPLICATIONS} replications"
        in browser.find_element(By.ID, "baseline-summary").text
    )
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#funnel-figure .main-svg"),
        what="the baseline's funnel",
    )


def test_a_lever_moves_and_the_comparison_refreshes_with_compares_numbers(
    browser, server, tmp_path
):
    from selenium.webdriver.common.keys import Keys

    By = _by()
    wait_for(lambda: browser.find_element(By.ID, "baseline-summary"), what="the first page")
    handle = slider(browser, "touchpoints.first_call.reach")
    assert handle.get_attribute("aria-valuenow") == "0.9"
    handle.click()
    handle.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # 0.90 -> 0.88
    wait_for(lambda: handle.get_attribute("aria-valuenow") == "0.88", what="the slider to move")
    first = wait_for(lambda: verdict(browser), what="the comparison")
    assert (
        lever(browser, "touchpoints.first_call.reach").get_attribute("value") == "0.88"
    )  # the box follows
    assert marked(browser, "changed") == ["touchpoints.first_call.reach"]
    assert "changed" in _part(browser, "lever-box", "touchpoints.first_call.reach").text
    assert (
        "Changed: touchpoint first_call reach 0.9 → 0.88."
        in browser.find_element(By.ID, "result").text
    )
    base = lcsim.Scenario.load(BASE)
    expected = lcsim.compare(
        base, base.with_changes({"touchpoints.first_call.reach": 0.88}), replications=REPLICATIONS
    )
    assert first.split(": ", 1)[1] == expected.verdicts[0].split(": ", 1)[1]
    deltas = expected.deltas().set_index("metric")
    for metric in ("conversions", "revenue", "net_value"):
        cell = browser.find_element(By.CSS_SELECTOR, f"#delta-{metric} td.delta").text
        assert cell == signed(deltas.loc[metric, "delta"]), metric
    wait_for(
        lambda: (
            len(
                browser.find_elements(
                    By.CSS_SELECTOR, "#deltas-figure .main-svg, #funnel-figure .main-svg"
                )
            )
            >= 2
        ),
        what="the charts",
    )
    # Moving it again changes the deltas.
    handle.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # -> 0.85
    second = wait_for(
        lambda: verdict(browser) != first and verdict(browser), what="the comparison to refresh"
    )
    assert second != first
    browser.save_screenshot(str(tmp_path / "app.png"))
    assert (tmp_path / "app.png").stat().st_size > 10_000
    assert console_errors(browser) == []
    url = server[0]
    outside = [
        u for u in requested_urls(browser) if not u.startswith((url, "data:", "about:", "blob:"))
    ]
    assert outside == []


def test_a_reach_of_1_4_is_refused_next_to_its_input_and_nothing_runs(browser, server, lcsim_cli):
    By = _by()
    path = "touchpoints.first_call.reach"
    before = wait_for(lambda: verdict(browser), what="the comparison of the last test")
    handle = slider(browser, path)
    at_slider = handle.get_attribute("aria-valuenow")
    type_into(lever(browser, path), "1.4")
    error = wait_for(lambda: error_of(browser, path).text, what="the error next to the reach")
    # lcsim validate's message for that value, without a file name.
    _, save_dir = server
    at = save_dir / "reach_check.yaml"
    at.write_text(variant_text(BASE, at, {path: 1.4}, "reach_check"))
    done = lcsim_cli("validate", at)
    at.unlink()
    assert done.returncode == 2
    line = next(x for x in (done.stdout + done.stderr).splitlines() if path in x)
    assert error == line.split(f"{path}: ", 1)[1] and ".yaml" not in error
    # Nothing ran and nothing was clamped: no verdict, the slider where it was, the box still says 1.4.
    assert browser.find_element(By.ID, "result").text == (
        "Fix the values marked in red (touchpoint first_call reach); nothing was run."
    )
    assert not browser.find_elements(By.ID, "verdict")
    assert handle.get_attribute("aria-valuenow") == at_slider
    assert lever(browser, path).get_attribute("value") == "1.4"
    assert marked(browser, "invalid") == [path]
    # The message sits under its input, inside the lever column, wrapped rather than overflowing.
    type_into(lever(browser, path), "x" * 150)
    wait_for(lambda: "expected a number" in error_of(browser, path).text, what="the long message")
    box = error_of(browser, path)
    column = browser.find_element(By.ID, "levers")
    inside = browser.execute_script(
        "const e = arguments[0].getBoundingClientRect(), c = arguments[1].getBoundingClientRect();"
        "return [e.left >= c.left, e.right <= c.right, arguments[0].scrollWidth <= arguments[0].clientWidth];",
        box,
        column,
    )
    assert inside == [True, True, True]
    assert box.size["height"] > 2 * browser.execute_script(
        "return parseFloat(getComputedStyle(arguments[0]).lineHeight)", box
    )  # it wrapped
    type_into(lever(browser, path), "0.85")
    wait_for(lambda: verdict(browser), what="the comparison after the fix")
    assert marked(browser, "invalid") == [] and marked(browser, "changed") == [path]
    assert verdict(browser) == before


def test_moving_a_share_rescales_the_other_segments(browser):
    By = _by()
    wait_for(lambda: verdict(browser), what="a comparison")
    type_into(lever(browser, "segments.icp.share"), "0.6")
    wait_for(
        lambda: lever(browser, "segments.smb.share").get_attribute("value") == "0.4",
        what="smb's share to follow",
    )
    wait_for(
        lambda: slider(browser, "segments.smb.share").get_attribute("aria-valuenow") == "0.4",
        what="smb's slider",
    )
    text = wait_for(
        lambda: (
            "Segment shares" in browser.find_element(By.ID, "result").text
            and browser.find_element(By.ID, "result").text
        ),
        what="the comparison with the new shares",
    )
    assert "smb 0.65 → 0.4" in text and "sum" not in browser.find_element(By.ID, "errors").text
    assert marked(browser, "changed") == [
        "segments.icp.share",
        "segments.smb.share",
        "touchpoints.first_call.reach",
    ]
    base = lcsim.Scenario.load(BASE)
    expected = lcsim.compare(
        base,
        base.with_changes(
            {
                "touchpoints.first_call.reach": 0.85,
                "segments.icp.share": 0.6,
                "segments.smb.share": 0.4,
            }
        ),
        replications=REPLICATIONS,
    )
    assert verdict(browser).split(": ", 1)[1] == expected.verdicts[0].split(": ", 1)[1]
    # Back: smb follows again, and only the reach stays changed.
    type_into(lever(browser, "segments.icp.share"), "0.35")
    wait_for(
        lambda: lever(browser, "segments.smb.share").get_attribute("value") == "0.65",
        what="smb's share back",
    )
    wait_for(
        lambda: marked(browser, "changed") == ["touchpoints.first_call.reach"],
        what="only the reach marked",
    )
    assert console_errors(browser) == []


def test_a_bad_value_shows_validates_message_next_to_the_input_and_runs_nothing(
    browser, server, lcsim_cli
):
    from selenium.webdriver.common.keys import Keys

    By = _by()
    _, save_dir = server
    box = lever(browser, "touchpoints.first_call.cost")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("-5", Keys.ENTER)
    error = wait_for(
        lambda: error_of(browser, "touchpoints.first_call.cost").text,
        what="the error next to the input",
    )
    assert "nothing was run" in browser.find_element(By.ID, "result").text
    assert not browser.find_elements(By.ID, "verdict")
    assert marked(browser, "invalid") == ["touchpoints.first_call.cost"]
    # The very line `lcsim validate` prints for the variant the app would save.
    at = save_dir / "b2b_saas_baseline_variant.yaml"
    at.write_text(
        variant_text(
            BASE,
            at,
            {"touchpoints.first_call.reach": 0.85, "touchpoints.first_call.cost": -5},
            "b2b_saas_baseline_variant",
        )
    )
    done = lcsim_cli("validate", at)
    at.unlink()
    assert done.returncode == 2
    line = next(
        x for x in (done.stdout + done.stderr).splitlines() if "touchpoints.first_call.cost" in x
    )
    # Validate's message, without the app's (temporary) file and line or the field the input already names.
    assert line.startswith(f"{at}:") and error == line.split("touchpoints.first_call.cost: ", 1)[1]
    assert ".yaml" not in error
    # Back to a good value: the comparison runs again.
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("60", Keys.ENTER)
    wait_for(lambda: verdict(browser), what="the comparison after the fix")


def test_saving_writes_a_small_variant_and_a_report(browser, server):
    from selenium.webdriver.common.keys import Keys

    By = _by()
    _, save_dir = server
    name = browser.find_element(By.ID, "variant-name")
    name.send_keys("less_calling", Keys.ENTER)
    wait_for(lambda: verdict(browser).startswith("less_calling: "), what="the renamed variant")
    browser.find_element(By.ID, "save-variant").click()
    saved = save_dir / "less_calling.yaml"
    wait_for(
        lambda: saved.exists() and "variant saved to" in browser.find_element(By.ID, "saved").text,
        what="the variant file",
    )
    variant = lcsim.Scenario.load(saved)
    assert variant.extends == [str(BASE.resolve())]
    changes = lcsim.Scenario.load(BASE).diff(variant)
    assert [c.path for c in changes] == ["name", "touchpoints.first_call.reach"]
    assert changes[1].new == 0.85
    assert len(saved.read_text().splitlines()) <= 6
    browser.find_element(By.ID, "save-report").click()
    report = save_dir / "less_calling.html"
    wait_for(lambda: report.exists(), timeout=60, what="the report")
    assert "less_calling" in report.read_text()
    assert lcsim.open(save_dir / "less_calling.h5").comparisons() == ["less_calling"]


def test_another_baseline_brings_its_levers_and_negative_staff_is_refused(browser, server):
    from selenium.webdriver.common.keys import Keys

    By = _by()
    browser.find_element(By.ID, "baseline").click()
    option = wait_for(
        lambda: [
            o
            for o in browser.find_elements(
                By.XPATH, "//*[contains(text(), 'sales_team_baseline (')]"
            )
            if o.is_displayed()
        ],
        what="the baseline's option",
    )
    option[0].click()
    box = lever(browser, "resources.sales.servers")
    assert box.get_attribute("value") == "3"
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("-2", Keys.ENTER)
    error = wait_for(
        lambda: error_of(browser, "resources.sales.servers").text,
        what="the error next to the staff input",
    )
    assert error == "expected an integer >= 0, got -2"
    assert "nothing was run" in browser.find_element(By.ID, "result").text
    assert (
        browser.find_element(By.ID, "errors").text == ""
    )  # the warning it also causes is not an error
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("4", Keys.ENTER)
    assert wait_for(lambda: verdict(browser), what="the team comparison").startswith(
        "less_calling: "
    )
    assert console_errors(browser) == []


def test_levers_cover_touchpoints_teams_arrivals_and_segments():
    paths = {
        lv.path for lv in levers(lcsim.Scenario.load(SCENARIOS / "sales_team" / "baseline.yaml"))
    }
    for path in (
        "touchpoints.nurture_email.reach",
        "touchpoints.nurture_email.cost",
        "touchpoints.nurture_email.schedule.after_entry.days",
        "touchpoints.nurture_email.effect.hazard_factor",
        "resources.sales.servers",
        "resources.sales.handoff.mean",
        "resources.sales.patience.mean",
        "arrivals.streams[0].rate_per_day",
        "arrivals.initial[0].count",
        "segments.icp.share",
    ):
        assert path in paths, path
    days = Lever("x", "x", "g", "days", [1])
    assert parse_value(days, "1, 8") == [1, 8] and parse_value(days, "0.5") == [0.5]
    with pytest.raises(ValueError, match="separated by commas"):
        parse_value(days, "soon")
    with pytest.raises(ValueError, match="enter a value"):
        parse_value(Lever("y", "y", "g", "number", 1), None)
    assert parse_value(Lever("z", "z", "g", "integer", 3), 5.0) == 5


def test_the_app_refuses_bad_arguments(lcsim_cli, tmp_path):
    done = lcsim_cli("app", tmp_path / "nowhere.yaml", "--port", free_port())
    assert done.returncode == 2 and "nowhere.yaml" in done.stderr
    done = lcsim_cli("app", "--port", 0)
    assert done.returncode == 2


def test_the_result_opens_with_the_recommendation_in_the_reports_words(server, tmp_path):
    """The sentence above the verdict is lcsim.recommend's for the same comparison (the report's)."""
    from lcsim import recommend

    By = _by()
    driver = chrome()
    try:
        driver.get(server[0])
        type_into(lever(driver, "touchpoints.first_call.reach"), "0.89")
        shown = wait_for(
            lambda: driver.find_element(By.ID, "recommendation").text, what="the recommendation"
        )
        base = lcsim.Scenario.load(BASE)
        expected = lcsim.compare(
            base,
            base.with_changes({"touchpoints.first_call.reach": 0.89}),
            replications=REPLICATIONS,
        )
        sentence = recommend.rank(expected)[0].sentence
        assert shown == sentence
        assert sentence.startswith("First call: reach 89% instead of 90%:")
        assert console_errors(driver) == []
        driver.save_screenshot(str(tmp_path / "app-recommendation.png"))
    finally:
        driver.quit()


@pytest.mark.parametrize("width", [1366, 1920])
def test_screenshots_at_1366_and_1920_px(server, tmp_path, width):
    """The three states a strategist sees, at two widths: on open, a comparison, a refused value.
    Nothing sticks out of the page or the lever column."""
    By = _by()
    driver = chrome(width, 900)
    try:
        driver.get(server[0])
        wait_for(
            lambda: driver.find_element(By.ID, "baseline-summary"), what="the baseline's numbers"
        )
        wait_for(
            lambda: driver.find_elements(By.CSS_SELECTOR, "#funnel-figure .main-svg"),
            what="the funnel",
        )
        driver.save_screenshot(str(tmp_path / f"app-{width}-open.png"))
        type_into(lever(driver, "touchpoints.nurture_email.reach"), "0.5")
        wait_for(lambda: verdict(driver), what="the comparison")
        wait_for(
            lambda: (
                len(
                    driver.find_elements(
                        By.CSS_SELECTOR, "#deltas-figure .main-svg, #funnel-figure .main-svg"
                    )
                )
                >= 2
            ),
            what="the charts",
        )
        driver.save_screenshot(str(tmp_path / f"app-{width}-compare.png"))
        type_into(lever(driver, "touchpoints.first_call.reach"), "1.4")
        wait_for(lambda: error_of(driver, "touchpoints.first_call.reach").text, what="the refusal")
        driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'})",
            lever(driver, "touchpoints.first_call.reach"),
        )
        driver.save_screenshot(str(tmp_path / f"app-{width}-refused.png"))
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        assert console_errors(driver) == []
    finally:
        driver.quit()
    for name in ("open", "compare", "refused"):
        shot = tmp_path / f"app-{width}-{name}.png"
        assert shot.stat().st_size > 10_000
        if os.environ.get("LCSIM_APP_SHOTS"):
            Path(os.environ["LCSIM_APP_SHOTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(os.environ["LCSIM_APP_SHOTS"]) / shot.name)


def test_default_replications_are_the_scenarios():
    """One source of truth: the app compares on the baseline's `replications:`, as `lcsim compare`
    (tools/study.sh, the report) does, unless told otherwise."""
    base = lcsim.Scenario.load(BASE)
    app = make_app([BASE])
    assert app.layout["replications"].children.startswith(
        f"{base.replications} paired replications per comparison"
    )
    assert (
        make_app([BASE], replications=7)
        .layout["replications"]
        .children.startswith("7 paired replications")
    )
    with pytest.raises(ValueError, match="at least 2"):
        make_app([BASE], replications=1)


def test_shares_rebalance_to_sum_one():
    assert rebalance_shares({"icp": 0.6, "smb": 0.65}, "icp") == {"smb": 0.4}
    three = {"a": 0.5, "b": 0.2, "c": 0.6}
    new = rebalance_shares(three, "a")
    assert new["b"] == pytest.approx(0.5 * 0.2 / 0.8) and math.fsum(
        [0.5, *new.values()]
    ) == pytest.approx(1, abs=1e-12)
    assert rebalance_shares({"a": 0.4, "b": 0.0, "c": 0.0}, "a") == {"b": 0.3, "c": 0.3}
    assert rebalance_shares({"a": 0.2, "b": 0.3, "c": 0.5}, "a") == {}  # already 1
    assert rebalance_shares({"a": 1.4, "b": 0.65}, "a") == {}  # refused by validation, not rescaled
    assert rebalance_shares({"a": 0.3}, "a") == {}
    # Shares that need rounding still sum to 1 within the scenario's tolerance (1e-9).
    new = rebalance_shares({"a": 0.37, "b": 0.1, "c": 0.2, "d": 0.3}, "a")
    assert abs(math.fsum([0.37, *new.values()]) - 1) < 1e-9
    # What the app then runs is a valid scenario (the shares' sum is checked to 1e-9).
    shares = {"segments.icp.share": 0.6, "segments.smb.share": 0.65}
    lcsim.Scenario.load(BASE).with_changes(
        {"segments.icp.share": 0.6, **rebalance_shares(shares, "segments.icp.share")}
    )


def test_problems_lose_the_file_and_the_levers_own_field():
    p = Problem(
        "/tmp/app/x_variant.yaml",
        7,
        "touchpoints.first_call.reach",
        "expected a probability in [0, 1], got 1.4",
    )
    assert (
        problem_text(p, "touchpoints.first_call.reach")
        == "expected a probability in [0, 1], got 1.4"
    )
    assert (
        problem_text(p) == "touchpoints.first_call.reach: expected a probability in [0, 1], got 1.4"
    )
    q = Problem(
        "/tmp/app/x_variant.yaml",
        9,
        "touchpoints.t.schedule.after_entry.days[1]",
        "expected a number >= 0",
    )
    assert (
        problem_text(q, "touchpoints.t.schedule.after_entry.days") == "[1]: expected a number >= 0"
    )


def test_a_lower_cost_is_explained(tmp_path):
    """The cost note says what the sign means and which contacts made the difference."""
    base = lcsim.Scenario.load(BASE)
    for changes in ({"touchpoints.nurture_email.reach": 0.6}, {"touchpoints.first_call.cost": 80}):
        cmp = lcsim.compare(
            base, base.with_changes(changes), replications=REPLICATIONS, independent=False
        )
        delta = float(cmp.deltas().set_index("metric").loc["touchpoint_cost", "delta"])
        note = _cost_note(cmp, delta)
        if round(abs(delta)) == 0:
            assert note is None
            continue
        assert note.startswith(f"Touchpoint and staff cost {_money(delta, sign=True)}: ")
        assert ("negative means the variant spends" in note and "less per run" in note) == (
            delta < 0
        )
        assert "contacts" in note
    assert (
        _money(-85) == "−$85" and _money(85, sign=True) == "+$85" and _money(2_500_000) == "$2.50 M"
    )
