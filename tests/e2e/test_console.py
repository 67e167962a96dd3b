"""The console in a real browser: Debian's headless Chromium, driven by Playwright,
against the API as a process, real PostgreSQL and an AWS API server. Two messages are
dead-lettered by a real worker, each with its reason in the failure ledger; an operator
logs in through the form, finds why each one is dead, selects one, runs a dry run and
redrives it; boto3 then finds exactly that message in the source queue and the other
still in the DLQ. Screenshots of the DLQ page and of the redrive are kept in
.pixwave/artifacts/ (PIXWAVE_TEST_ARTIFACTS elsewhere)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from app.db.uow import UnitOfWork
from tests.aws import drain
from tests.deploy_tools import ROOT, deploy_tool
from tests.integration.probe_consumers import PROBE_EVENT
from tests.integration.test_dlq import charge_world
from tests.integration.worker_support import QueueWorld, probe_event, running_worker, until
from tests.integration.world import isolated
from tests.support import ApiProcess, start_api
from workers.runtime.consumer import Consumer
from workers.runtime.envelope import Event

TOKEN = "operator-token-for-the-browser-test"
FAILING_EVENT = "probe.broken"
# Headless in a container, and no network of its own: no updates, sync or QUIC probes.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_SECONDS = 120  # the whole walk through the pages, browser start included
STEP_MS = 20_000  # one page or click
ARTIFACTS = Path(os.environ.get("PIXWAVE_TEST_ARTIFACTS") or ROOT / ".pixwave" / "artifacts")


def chromium() -> str:
    return deploy_tool(
        "chromium", "`make browser-tools` installs Debian's chromium (apt-get, as root)"
    )


async def _gateway_said_no(event: Event, uow: UnitOfWork) -> None:
    raise RuntimeError("gateway said no")


async def dead_letter_two(world: QueueWorld) -> tuple[str, str]:
    """(poison, failed): a type the consumer has no handler for, dead-lettered at once, and
    one whose handler keeps failing, moved by the redrive policy at its second receive."""
    dlq_arn = world.sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["QueueArn"])
    policy = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 1}
    world.sqs.set_queue_attributes(
        QueueUrl=world.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
    poison, poison_body = probe_event()
    failed, failed_body = probe_event(FAILING_EVENT)
    world.send(poison_body)
    world.send(failed_body)
    consumer = Consumer(
        "probe",
        "charge",
        {FAILING_EVENT: _gateway_said_no},
        backoff_base_seconds=1,
        backoff_cap_seconds=1,
    )
    async with running_worker(world, consumer):
        await until(lambda: world.depth(world.dlq_url) == {"visible": 2, "in_flight": 0})
    return poison, failed


def event_id_of(message: dict[str, object]) -> str:
    body = json.loads(str(message["Body"]))
    return str(body["id"])


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


async def test_an_operator_finds_why_a_message_is_dead_and_redrives_it(
    service_env: dict[str, str], aws_endpoint: str, artifacts: Path
) -> None:
    browser_path = chromium()
    database_url, _ = isolated(service_env, "console")
    world = charge_world(database_url, aws_endpoint)
    poison, failed = await dead_letter_two(world)
    settings = {
        **world.base_env,
        "PIXWAVE_OPERATOR_TOKEN": TOKEN,
        "PIXWAVE_REDIS_URL": service_env["PIXWAVE_REDIS_URL"],
    }

    with start_api(settings) as api:
        await asyncio.wait_for(
            walk_through_the_console(api, world, browser_path, poison, failed), BROWSER_SECONDS
        )

    back = drain(aws_endpoint, world.queue_name, expected=1, timeout=10)
    assert [event_id_of(m) for m in back] == [poison]
    left = drain(aws_endpoint, world.dlq_name, expected=1, timeout=10)
    assert [event_id_of(m) for m in left] == [failed]


async def walk_through_the_console(
    api: ApiProcess, world: QueueWorld, browser_path: str, poison: str, failed: str
) -> None:
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(STEP_MS)
            await page.goto(f"{api.url}/console")
            assert page.url == f"{api.url}/console/login"
            await page.fill("#token", TOKEN)
            await page.click("text=Log in")
            await page.wait_for_url(f"{api.url}/console")

            # The overview shows two dead letters; its link opens the DLQ.
            dlq_row = page.locator("tr", has=page.locator(f"a:text-is('{world.dlq_name}')"))
            assert (await dlq_row.locator("td").nth(2).inner_text()) == "2"
            await dlq_row.locator("a").click()
            await page.wait_for_url(f"**/console/dlq/{world.dlq_name}")

            # Why each is here, from the failure ledger.
            poison_row = page.locator("tr", has_text=poison)
            failed_row = page.locator("tr", has_text=failed)
            poison_reason = await poison_row.locator("td.reason").inner_text()
            assert f"probe has no handler for {PROBE_EVENT}" in poison_reason
            assert "from the ledger" in poison_reason
            assert (
                "RuntimeError: gateway said no"
                in await failed_row.locator("td.reason").inner_text()
            )
            redrive_button = page.locator("button", has_text="Redrive the selected")
            assert await redrive_button.is_disabled()  # nothing selected yet

            await poison_row.locator("input[type=checkbox]").check()
            assert await redrive_button.is_enabled()
            await page.screenshot(path=ARTIFACTS / "console-dlq.png", full_page=True)
            await page.click("text=Dry run of the selected")
            await page.wait_for_url("**/redrive")
            assert "Dry run: nothing changed" in await page.locator("h1").inner_text()
            await expect_outcomes(page, {"would move": poison})
            assert world.depth(world.dlq_url)["visible"] == 2

            await page.click("text=Redrive these now")
            await page.wait_for_url("**/redrive")
            await expect_outcomes(page, {"moved": poison})
            await page.screenshot(path=ARTIFACTS / "console-redrive.png", full_page=True)
        finally:
            await browser.close()
    print(f"console screenshots: {ARTIFACTS}/console-dlq.png, console-redrive.png")


async def expect_outcomes(page: Page, expected: dict[str, str]) -> None:
    """The result table lists exactly these outcomes, each for its event."""
    rows = page.locator("table.results tbody tr[data-outcome]")
    found = {}
    for index in range(await rows.count()):
        row = rows.nth(index)
        outcome = await row.get_attribute("data-outcome")
        found[outcome] = (await row.inner_text()).split()[-1]
    assert found == expected
