"""The dashboard in a real headless Chromium (Debian's chromium and chromedriver, driven by Selenium) against
the service in its own process over a real SQLite store: log in, the lab overview (agents online or offline,
jobs waiting for an agent, campaign progress), the catalogs and support matrix, results filtered, A against B,
one model's deployments with their Pareto front, and the predicted-against-measured page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.jobs import quick_job
from tests.support.models import tiny_classifier
from tests.support.service import serve, stop

from deploybench.core.records import Measurement, ResultRecord
from deploybench.store import ResultStore
from deploybench.store.dispatch import create_dispatch, heartbeat
from deploybench.store.tokens import Role, create_token
from deploybench.worker.launcher import run_in_worker

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("DEPLOYBENCH_REQUIRE_LAB"),
    reason="Debian's chromium and chromium-driver are not installed",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[int]]]:
    """The service over a store with two measured results and a slowed copy of the first, an agent heard from, and
    a job waiting."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("dashboard")
    db = f"sqlite:///{folder / 'lab.db'}"
    model = tiny_classifier(folder / "m.onnx")
    with ResultStore.open(db) as store:
        ids = [
            store.save(run_in_worker(quick_job(model, "onnxruntime", settings={"threads": t})), "ui") for t in (1, 2)
        ]
        ids.append(store.save(slowed(store.get(ids[0])), "ui"))
        heartbeat(store, "pi-rack-3", "raspberry-pi-4", {"backends": {"onnxruntime": "1.22"}})
        create_dispatch(store, quick_job(model, "onnxruntime"), "jetson-nano", "night-run")
        reader = create_token(store, Role.READER, "viewer")[1]
    process, url = serve(folder, {**os.environ, "DEPLOYBENCH_DB": db})
    try:
        yield url, reader, ids
    finally:
        stop(process)


def slowed(record: ResultRecord) -> ResultRecord:
    """A stand-in deployment worse than record on every criterion of the Pareto front: three times slower, a MiB
    more memory, a larger artifact and lower top-1 agreement."""
    assert record.resources is not None and record.fidelity is not None
    job = record.job.model_copy(update={"settings": {**record.job.settings, "stand_in": "slowed"}})

    def slower(m: Measurement) -> Measurement:
        summary = m.summary.model_copy(update={"median_us": 3 * m.summary.median_us, "p99_us": 3 * m.summary.p99_us})
        return m.model_copy(update={"summary": summary})

    resources = record.resources.model_copy(
        update={
            "peak_rss_bytes": record.resources.peak_rss_bytes + 2**20,
            "artifact_size_bytes": record.resources.artifact_size_bytes + 1000,
        }
    )
    fidelity = record.fidelity.model_copy(update={"top1_agreement": 0.5})
    changed = {"job": job, "job_key": job.key(), "resources": resources, "fidelity": fidelity}
    return record.model_copy(update={**changed, "measurements": tuple(map(slower, record.measurements))})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def text(browser: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.ID, element_id).text)


def submit(browser: Any, button_id: str, awaited_id: str) -> None:
    """Click a form's button and wait for the page it leads to (the one holding `awaited_id`)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, button_id).click()
    WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, awaited_id)))


def log_in(browser: Any, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/dashboard/login")
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 30).until(
        lambda page: (
            page.execute_script("return document.readyState") == "complete"
            and (not page.current_url.endswith("/dashboard/login") or "unknown or revoked" in page.page_source)
        )
    )


def test_a_browser_logs_in_and_follows_the_lab(browser: Any, site: tuple[str, str, list[int]]) -> None:
    url, reader, _ = site
    browser.delete_all_cookies()
    browser.get(f"{url}/dashboard")
    assert browser.current_url.endswith("/dashboard/login")
    log_in(browser, url, "dbt_wrong")
    assert "unknown or revoked API token" in browser.page_source
    log_in(browser, url, reader)
    assert browser.current_url.endswith("/dashboard")
    agents = text(browser, "agents")
    assert "pi-rack-3" in agents and "raspberry-pi-4" in agents and "online" in agents and "onnxruntime" in agents
    targets = text(browser, "targets")
    assert "jetson-nano" in targets and "waiting: no live agent" in targets
    assert "night-run" in text(browser, "campaigns") and "0%" in text(browser, "campaigns")


def test_the_catalogs_and_the_support_matrix_are_shown(browser: Any, site: tuple[str, str, list[int]]) -> None:
    url, reader, _ = site
    log_in(browser, url, reader)
    browser.get(f"{url}/dashboard/catalog")
    assert "Raspberry" in text(browser, "catalog-targets") or "PI4" in text(browser, "catalog-targets")
    matrix = text(browser, "support-matrix")
    assert "tensorflow-lite" in matrix and "raspberry-pi-4" in matrix and "yes" in matrix


def test_results_are_filtered_and_compared(browser: Any, site: tuple[str, str, list[int]]) -> None:
    from selenium.webdriver.common.by import By

    url, reader, ids = site
    log_in(browser, url, reader)
    browser.get(f"{url}/dashboard/results?framework=onnxruntime")
    assert text(browser, "results").count("onnxruntime") == 3
    browser.get(f"{url}/dashboard/results?framework=tvm")
    assert "onnxruntime" not in text(browser, "results")
    browser.get(f"{url}/dashboard/results")
    browser.find_element(By.ID, "a").send_keys(str(ids[0]))
    browser.find_element(By.ID, "b").send_keys(str(ids[1]))
    submit(browser, "compare", "comparison")
    assert f"Result {ids[1]} against result {ids[0]}" in browser.page_source
    assert "Mann-Whitney" in text(browser, "comparison") or "p" in text(browser, "comparison")


def test_the_predictions_page_says_what_to_do_before_any_fit(browser: Any, site: tuple[str, str, list[int]]) -> None:
    url, reader, _ = site
    log_in(browser, url, reader)
    browser.get(f"{url}/dashboard/predictions")
    assert "predict fit" in text(browser, "validation")


def test_the_pareto_page_marks_the_deployments_no_other_beats_and_plots_them(
    browser: Any, site: tuple[str, str, list[int]]
) -> None:
    from selenium.webdriver.common.by import By

    url, reader, (one_thread, two_threads, slow) = site
    log_in(browser, url, reader)
    browser.get(f"{url}/dashboard/pareto")
    assert "m.onnx" in text(browser, "models") and "Pick a model." in text(browser, "note")
    submit(browser, "show", "deployments")
    table = browser.find_element(By.ID, "deployments")
    header, *cells = [
        [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        for row in table.find_elements(By.TAG_NAME, "tr")
    ]
    rows = {row["id"]: row for row in (dict(zip(header, values, strict=True)) for values in cells)}
    assert set(rows) == {str(one_thread), str(two_threads), str(slow)}
    assert rows[str(slow)]["settings"] == "stand_in=slowed, threads=1" and rows[str(slow)]["Pareto"] == ""
    assert "yes" in (rows[str(one_thread)]["Pareto"], rows[str(two_threads)]["Pareto"])
    assert {row["framework"] for row in rows.values()} == {"onnxruntime"}
    assert all(row["fidelity"].endswith("top-1") and row["median µs"] for row in rows.values())
    assert browser.find_elements(By.CSS_SELECTOR, "#front svg")
    browser.get(f"{url}/dashboard/pareto?model=m.onnx")
    assert browser.title == "deploybench: Pareto front of m.onnx"
    browser.get(f"{url}/dashboard/pareto?model=m.onnx&campaign=elsewhere")
    assert "No OK result stored in campaign `elsewhere`." in text(browser, "note")
