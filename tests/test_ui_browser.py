"""The dashboard in a real browser (Debian's headless Chromium, driven by Selenium through
Debian's chromedriver) against the real stack: sign in through the form, watch a training
job's curve gain points and its log follow, a viewer's Stop refused, Stop from the page, and
a jobs list whose filters survive live updates.

TRAINQ_UI_SCREENSHOTS=<folder> also saves the three pages as PNGs there
(scripts/screenshots.py runs it so for docs/images)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.support.ui import make_member

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
           "chromium-driver): /usr/bin/chromium or /usr/bin/chromedriver is missing")]
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1400,1000")
#: The PyTorch example, slowed to about half a second per epoch here (batch size 1), and
#: long enough (300 epochs) that the test stops it while it trains.
SLOW_TRAINING = {"script_path": "train_pytorch.py",
                 "args": ["--epochs", "300", "--batch-size", "1", "--hidden", "256"]}
WAIT = 60


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    # The driver's path is given: Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """A few verbs over Selenium, each waiting as a person would look again."""

    def __init__(self, driver, base_url: str):
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.base_url = driver, base_url
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.2)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).get_attribute("textContent")  # as written, not as styled

    def until(self, condition, message: str = ""):
        return self.wait.until(lambda _: condition(), message)

    def js(self, script: str):
        return self.driver.execute_script(script)

    def login(self, username: str, password: str) -> None:
        self.open("/ui/login")
        self.find("#username").send_keys(username)
        self.find("#password").send_keys(password)
        self.find("#sign-in").click()
        self.until(lambda: "/ui/login" not in self.driver.current_url, "signed in")

    def points(self) -> int:
        return int(self.find("#job").get_attribute("data-points") or 0)


@pytest.fixture
def page(browser, stack) -> Page:
    return Page(browser, stack["base_url"])


def test_sign_in_watch_a_job_train_and_stop_it(page, api, stack):
    viewer = make_member(api, "viewer")
    job_id = api.submit_ok(name="ui-live-digits", **SLOW_TRAINING)
    try:
        page.login(*viewer)
        page.open(f"/ui/jobs/{job_id}")
        page.until(lambda: page.points() >= 2, "the curve has points")
        first = page.points()
        page.until(lambda: page.points() >= first + 3, "the curve gains points live")
        assert page.text("#status") == "training" and page.text("#role") == "viewer"
        # The log follows: new lines arrive and the view stays scrolled to the bottom.
        lines = page.js("return document.querySelectorAll('#log span').length")
        page.until(lambda: page.js("return document.querySelectorAll('#log span').length")
                   > lines, "the log tail grows")
        assert "Epoch" in page.text("#log")
        page.until(lambda: page.js("const l = document.getElementById('log'); "
                                   "return l.scrollHeight - l.scrollTop - l.clientHeight < 30"),
                   "the log is scrolled to its end")
        page.find("#stop").click()
        page.until(lambda: "Stop refused (403)" in page.text("#notice"), "the viewer is refused")
        assert "manager role" in page.text("#notice")
        assert api.job(job_id)["status"] == "training"

        page.find("#logout").click()
        page.until(lambda: "/ui/login" in page.driver.current_url, "signed out")
        page.login("admin", ADMIN_PASSWORD)
        page.open(f"/ui/jobs/{job_id}")
        page.until(lambda: page.points() > first and page.text("#status") == "training")
        page.until(lambda: page.find("#stop").is_displayed(), "Stop is offered")
        page.find("#stop").click()
        page.until(lambda: page.text("#status") == "cancelled", "the page shows it cancelled")
        assert not page.find("#stop").is_displayed()
        timeline = page.text("#timeline")
        assert "queued" in timeline and "training" in timeline and "cancelled" in timeline
        assert "cancelled" in page.text("#attempts")
    finally:
        api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    assert api.wait_terminal(job_id)["status"] == "cancelled"


def test_jobs_list_keeps_its_filters_across_live_updates(page, api):
    page.login("admin", ADMIN_PASSWORD)
    mark = f"keep-{os.getpid()}"
    kept = api.submit_ok(name=f"{mark}-a", gpu=2, pool="idle")
    other = api.submit_ok(name="ui-other", gpu=2, pool="idle")
    try:
        page.open("/ui/?status=queued")
        page.until(lambda: page.js(f"return !!document.querySelector('tr[data-id=\"{other}\"]')"))
        page.find("#f-text").send_keys(mark)
        page.until(lambda: not page.js(
            f"return !!document.querySelector('tr[data-id=\"{other}\"]')"), "filtered")
        page.find("th[data-sort='name']").click()
        # A live update: one more matching job appears, one of the shown ones stops.
        late = api.submit_ok(name=f"{mark}-b", gpu=2, pool="idle")
        page.until(lambda: page.js(f"return !!document.querySelector('tr[data-id=\"{late}\"]')"),
                   "the new job appears without a reload")
        api.request("POST", f"/api/v1/training/jobs/{kept}/stop")
        page.until(lambda: not page.js(
            f"return !!document.querySelector('tr[data-id=\"{kept}\"]')"), "gone from 'queued'")
        assert page.find("#f-text").get_attribute("value") == mark
        assert page.find("#f-status").get_attribute("value") == "queued"
        assert not page.js(f"return !!document.querySelector('tr[data-id=\"{other}\"]')")
        assert "sort=name" in page.driver.current_url and f"q={mark}" in page.driver.current_url
        page.driver.refresh()  # the URL keeps them too
        page.until(lambda: page.js(f"return !!document.querySelector('tr[data-id=\"{late}\"]')"))
        assert page.find("#f-text").get_attribute("value") == mark
    finally:
        for job_id in (kept, other, locals().get("late")):
            if job_id:
                api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")


@pytest.mark.skipif(not os.environ.get("TRAINQ_UI_SCREENSHOTS"),
                    reason="set TRAINQ_UI_SCREENSHOTS=<folder> (scripts/screenshots.py) to save")
def test_screenshots_of_the_three_pages(page, api, stack, stack_env):
    """A small, lifelike scene: finished, training and queued jobs on a 4-GPU host of its own
    (pool `idle`, which no other host serves), then the three pages."""
    from tests.support.stack import start_worker

    host = start_worker("idle", "0,1,2,3", "gpu-demo", stack_env, stack["logs"])
    page.login("admin", ADMIN_PASSWORD)
    done = api.submit_ok(name="digits-baseline", args=["--epochs", "12"])
    api.submit_ok(name="bad-lr", script_path="fail.py", args=["3"])
    api.wait_terminal(done, timeout=120)
    live = api.submit_ok(name="digits-wide", priority=7, **SLOW_TRAINING)
    jobs = [live] + [api.submit_ok(name=name, gpu=2, pool="idle", priority=prio, **SLOW_TRAINING)
                     for name, prio in (("resnet-sweep-3", 8), ("bert-finetune", 6),
                                        ("vit-large", 5), ("llama-lora", 3))]
    try:
        page.open(f"/ui/jobs/{live}")
        page.until(lambda: page.points() >= 25, "a curve worth showing")
        _screenshot(page, "job.png")
        page.open("/ui/")
        page.until(lambda: page.js("return document.querySelectorAll('#jobs tbody tr').length")
                   >= 7)
        _screenshot(page, "jobs.png")
        page.open("/ui/cluster")
        page.until(lambda: page.js("return document.querySelectorAll('.gpu.busy').length") >= 4)
        _screenshot(page, "cluster.png")
    finally:
        for job_id in jobs:
            api.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
        for job_id in jobs:
            api.wait_terminal(job_id)
        host.stop()


def _screenshot(page: Page, name: str) -> None:
    folder = os.environ["TRAINQ_UI_SCREENSHOTS"]
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.js("window.scrollTo(0, 0)")
    height = page.js("return Math.max(document.body.scrollHeight, 700)")
    page.driver.set_window_size(1400, min(height + 120, 1800))
    target = Path(folder) / name
    page.driver.save_screenshot(str(target.with_suffix(".tmp.png")))
    shutil.move(target.with_suffix(".tmp.png"), target)
    page.driver.set_window_size(1400, 1000)


def test_swagger_ui_renders_every_api_family_from_trainq_alone(browser, stack):
    """/api/docs in the browser: the operations of the native API and of the adapters appear,
    and every resource the page loaded came from trainq itself (no CDN)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(stack["base_url"] + "/api/docs")
    WebDriverWait(browser, WAIT).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")) > 20)
    paths = {e.get_attribute("data-path") or e.text
             for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    for wanted in ("/api/v1/training/jobs", "/openapi/v1/train_job/create",
                   "/v4/openapi/app-groups/{app_group}/functions/{function_name}/instances/"
                   "{instance_name}/tasks"):
        assert any(wanted in path for path in paths), (wanted, sorted(paths)[:10])
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(stack["base_url"]) for url in loaded), loaded
