"""Whole-app latency of `lcsim app`: a lever moved in a real browser -> the refreshed comparison on the
page, on the bundled B2B baseline (the first call's reach slider, one step of 0.01 at a time).

    .venv/bin/python benches/app_latency.py [--changes 15] [--replications R]

Starts `lcsim app` on a free 127.0.0.1 port, drives Debian's headless Chromium with Selenium, and
prints the median, min and max over the changes, side by side with `lcsim.compare` alone on the
same changes (the server's share, as the app calls it: paired arms only, no who-changed counts).
Without --replications both use the scenario's own `replications:` (20), the app's default. Also
prints how long the page took from the first request to the baseline's numbers. Not a test: nothing
is asserted; timings are wall clock on a shared machine, so quote the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

from browser import chrome, free_port, wait_for  # noqa: E402

import lcsim  # noqa: E402

BASE = ROOT / "scenarios" / "b2b_saas" / "baseline.yaml"
PATH = "touchpoints.first_call.reach"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=15)
    parser.add_argument(
        "--replications", type=int, default=None, help="default: the scenario's (the app's default)"
    )
    args = parser.parse_args()
    base = lcsim.Scenario.load(BASE)
    replications = args.replications or base.replications
    exe = Path(sys.executable).parent / "lcsim"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [str(exe), "app", str(BASE), "--port", str(port), "--save-dir", "/tmp"]
    if args.replications:
        command += ["--replications", str(args.replications)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = []
    try:
        driver = chrome()
        try:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.common.keys import Keys
            from selenium.webdriver.support import expected_conditions as ec
            from selenium.webdriver.support.ui import WebDriverWait

            wait_for(
                lambda: (driver.get(url) or True) and driver.find_element(By.ID, "levers"),
                timeout=60,
                step=0.5,
                what="the app",
            )
            wait_for(
                lambda: driver.find_element(By.ID, "baseline-summary"),
                timeout=60,
                what="the baseline",
            )
            # The baseline's numbers on a fresh page (the server has the baseline's run by now).
            t0 = time.perf_counter()
            driver.get(url)
            WebDriverWait(driver, 60, poll_frequency=0.01).until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "#baseline-summary #funnel-figure .main-svg")
                )
            )
            opened = time.perf_counter() - t0
            box = wait_for(
                lambda: driver.find_element(
                    By.CSS_SELECTOR, f'[id*=\'"path":"{PATH}"\'][id*=\'"type":"slider"\']'
                )
            )
            handle = box.find_element(By.CSS_SELECTOR, "[role=slider]")
            handle.click()
            handle.send_keys(
                Keys.ARROW_LEFT
            )  # warm-up change: the first comparison and the charts' first draw
            wait_for(lambda: driver.find_element(By.ID, "verdict"), what="the first comparison")
            for _ in range(args.changes):
                old = driver.find_element(By.ID, "verdict")
                t0 = time.perf_counter()
                handle.send_keys(Keys.ARROW_LEFT)
                WebDriverWait(driver, 60, poll_frequency=0.01).until(ec.staleness_of(old))
                WebDriverWait(driver, 60, poll_frequency=0.01).until(
                    ec.presence_of_element_located((By.ID, "verdict"))
                )
                page.append(time.perf_counter() - t0)
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(timeout=10)

    alone = []
    for k in range(args.changes):
        variant = base.with_changes({PATH: round(0.89 - 0.01 * (k + 1), 2)})
        t0 = time.perf_counter()
        lcsim.compare(
            base, variant, replications=replications, independent=False, who_changed=False
        )
        alone.append(time.perf_counter() - t0)

    print(
        f"lcsim app latency, {BASE.relative_to(ROOT)}, {replications} paired replications, {args.changes} changes"
    )
    print(f"  page opened -> baseline's numbers and funnel {opened:.3f} s")
    for label, xs in (("change -> refreshed page", page), ("lcsim.compare alone", alone)):
        print(
            f"  {label:26s} median {statistics.median(xs):.3f} s   min {min(xs):.3f} s   max {max(xs):.3f} s"
        )
    print(f"  page / compare (medians)   {statistics.median(page) / statistics.median(alone):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
