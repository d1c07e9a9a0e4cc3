"""`lcsim app`: the what-if app in a real browser (headless Chromium) against a server started by the
`lcsim` command on 127.0.0.1. Moving a lever refreshes the paired comparison with lcsim.compare's
numbers; a bad value shows `lcsim validate`'s message next to its input and runs nothing; saving
writes a small `extends:` variant and a report. Every wait is bounded."""

import subprocess
import time
import urllib.request

import pytest

import lcsim
from browser import chrome, console_errors, free_port, requested_urls, wait_for
from conftest import SCENARIOS
from lcsim.app import Lever, levers, parse_value, variant_text
from lcsim.htmlreport import signed

BASE = SCENARIOS / "b2b_saas" / "baseline.yaml"
TEAM = SCENARIOS / "sales_team" / "baseline.yaml"
REPLICATIONS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory, lcsim_cli):
    """`lcsim app` on a free port; yields (url, save_dir); stopped (and waited for) afterwards."""
    save_dir = tmp_path_factory.mktemp("app")
    port = free_port()
    process = subprocess.Popen(
        [lcsim_cli.path, "app", str(BASE), str(TEAM), "--port", str(port), "--replications", str(REPLICATIONS), "--save-dir",
         str(save_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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


def lever(driver, path):
    """The input of a lever (a slider's handle or a number/text input)."""
    By = _by()
    box = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, f'[id*=\'"path":"{path}"\'][id*=\'"type":"lever"\']'),
                   what=f"the lever {path}")
    handles = box.find_elements(By.CSS_SELECTOR, "[role=slider]")
    return handles[0] if handles else box


def verdict(driver):
    return driver.find_element(_by().ID, "verdict").text


def test_a_lever_moves_and_the_comparison_refreshes_with_compares_numbers(browser, server, tmp_path):
    from selenium.webdriver.common.keys import Keys

    By = _by()
    wait_for(lambda: "Move a lever" in browser.find_element(By.ID, "result").text, what="the first page")
    handle = lever(browser, "touchpoints.first_call.reach")
    assert handle.get_attribute("aria-valuenow") == "0.9"
    handle.click()
    handle.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # 0.90 -> 0.88
    wait_for(lambda: handle.get_attribute("aria-valuenow") == "0.88", what="the slider to move")
    first = wait_for(lambda: verdict(browser), what="the comparison")
    base = lcsim.Scenario.load(BASE)
    expected = lcsim.compare(base, base.with_changes({"touchpoints.first_call.reach": 0.88}), replications=REPLICATIONS)
    assert first.split(": ", 1)[1] == expected.verdicts[0].split(": ", 1)[1]
    deltas = expected.deltas().set_index("metric")
    for metric in ("conversions", "revenue", "net_value"):
        cell = browser.find_element(By.CSS_SELECTOR, f"#delta-{metric} td.delta").text
        assert cell == signed(deltas.loc[metric, "delta"]), metric
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#deltas-figure .main-svg, #funnel-figure .main-svg")) >= 2,
             what="the charts")
    # Moving it again changes the deltas.
    handle.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT, Keys.ARROW_LEFT)  # -> 0.85
    second = wait_for(lambda: verdict(browser) != first and verdict(browser), what="the comparison to refresh")
    assert second != first
    browser.save_screenshot(str(tmp_path / "app.png"))
    assert (tmp_path / "app.png").stat().st_size > 10_000
    assert console_errors(browser) == []
    url = server[0]
    outside = [u for u in requested_urls(browser) if not u.startswith((url, "data:", "about:", "blob:"))]
    assert outside == []


def test_a_bad_value_shows_validates_message_next_to_the_input_and_runs_nothing(browser, server, lcsim_cli):
    from selenium.webdriver.common.keys import Keys

    By = _by()
    _, save_dir = server
    box = lever(browser, "touchpoints.first_call.cost")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("-5", Keys.ENTER)
    error = wait_for(lambda: browser.find_element(
        By.CSS_SELECTOR, '[id*=\'"path":"touchpoints.first_call.cost"\'][id*=\'"type":"lever-error"\']').text,
        what="the error next to the input")
    assert "nothing was run" in browser.find_element(By.ID, "result").text
    assert not browser.find_elements(By.ID, "verdict")
    # The very line `lcsim validate` prints for the variant the app would save.
    at = save_dir / "b2b_saas_baseline_variant.yaml"
    at.write_text(variant_text(BASE, at, {"touchpoints.first_call.reach": 0.85, "touchpoints.first_call.cost": -5},
                               "b2b_saas_baseline_variant"))
    done = lcsim_cli("validate", at)
    at.unlink()
    assert done.returncode == 2
    line = next(x for x in (done.stdout + done.stderr).splitlines() if "touchpoints.first_call.cost" in x)
    assert error == line
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
    wait_for(lambda: saved.exists() and "variant saved to" in browser.find_element(By.ID, "saved").text,
             what="the variant file")
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
    _, save_dir = server
    browser.find_element(By.ID, "baseline").click()
    option = wait_for(lambda: [o for o in browser.find_elements(By.XPATH, "//*[contains(text(), 'sales_team_baseline (')]")
                               if o.is_displayed()], what="the baseline's option")
    option[0].click()
    box = lever(browser, "resources.sales.servers")
    assert box.get_attribute("value") == "3"
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("-2", Keys.ENTER)
    error = wait_for(lambda: browser.find_element(
        By.CSS_SELECTOR, '[id*=\'"path":"resources.sales.servers"\'][id*=\'"type":"lever-error"\']').text,
        what="the error next to the staff input")
    at = save_dir / "less_calling.yaml"  # the variant name typed earlier names the file
    assert error == f"{at}:5: resources.sales.servers: expected an integer >= 0, got -2"
    assert "nothing was run" in browser.find_element(By.ID, "result").text
    assert browser.find_element(By.ID, "errors").text == ""  # the warning it also causes is not an error
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("4", Keys.ENTER)
    assert wait_for(lambda: verdict(browser), what="the team comparison").startswith("less_calling: ")
    assert console_errors(browser) == []


def test_levers_cover_touchpoints_teams_arrivals_and_segments():
    paths = {lv.path for lv in levers(lcsim.Scenario.load(SCENARIOS / "sales_team" / "baseline.yaml"))}
    for path in ("touchpoints.nurture_email.reach", "touchpoints.nurture_email.cost",
                 "touchpoints.nurture_email.schedule.after_entry.days", "touchpoints.nurture_email.effect.hazard_factor",
                 "resources.sales.servers", "resources.sales.handoff.mean", "resources.sales.patience.mean",
                 "arrivals.streams[0].rate_per_day", "arrivals.initial[0].count", "segments.icp.share"):
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
    from selenium.webdriver.common.keys import Keys

    from lcsim import recommend

    By = _by()
    driver = chrome()
    try:
        driver.get(server[0])
        handle = lever(driver, "touchpoints.first_call.reach")
        handle.click()
        handle.send_keys(Keys.ARROW_LEFT)  # 0.90 -> 0.89
        wait_for(lambda: handle.get_attribute("aria-valuenow") == "0.89", what="the slider to move")
        shown = wait_for(lambda: driver.find_element(By.ID, "recommendation").text, what="the recommendation")
        base = lcsim.Scenario.load(BASE)
        expected = lcsim.compare(base, base.with_changes({"touchpoints.first_call.reach": 0.89}), replications=REPLICATIONS)
        sentence = recommend.rank(expected)[0].sentence
        assert shown == sentence
        assert sentence.startswith("First call: reach 89% instead of 90%:")
        assert console_errors(driver) == []
        driver.save_screenshot(str(tmp_path / "app-recommendation.png"))
    finally:
        driver.quit()
