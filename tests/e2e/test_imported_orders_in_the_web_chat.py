"""A new team's first day: 1,000 orders from their own CSV, then one refunded in the web chat.

The orders go in through ``refund-agent orders import`` (a separate process, as an operator
runs it) against the serving database and the MoltPe sandbox the service pays through; a
customer of one imported order then asks for a refund in the web chat in Chromium.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.browser_fixtures import OpenPage, require_browser, screenshot
from tests.e2e.server_fixtures import LiveServer

require_browser()

from playwright.async_api import expect  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")


def write_orders(path: Path, count: int) -> None:
    """The merchant's export: ``count`` paid orders of the last days, one customer each."""
    paid = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(microsecond=0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["id", "customer_email", "amount_usdc", "created_at", "payment_id", "payer_address"]
            + ["description"]
        )
        for n in range(count):
            writer.writerow(
                [
                    f"ORD-{700000 + n}",
                    f"buyer{n}@shop.example",
                    f"{30 + n % 20}.50",
                    paid.isoformat(),
                    f"pay_shop_{n}",
                    "0x" + f"{n:040x}",
                    f"Item {n}",
                ]
            )


async def test_a_thousand_imported_orders_and_one_refunded_in_the_web_chat(
    open_page: OpenPage, live_server: LiveServer, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    write_orders(path, 1000)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "MOLTPE_", "OPENAI_", "ORDERS_", "AUDIT_"))
    }
    env |= {
        "DATABASE_URL": live_server.db_url,
        "MOLTPE_BASE_URL": live_server.sandbox.url,
        "MOLTPE_API_KEY": live_server.sandbox.api_key,
        "MOLTPE_SANDBOX_ADMIN_KEY": live_server.sandbox.admin_key,
        "COLUMNS": "200",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "orders", "import", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1000 inserted, 0 updated, 0 unchanged, 0 rejected" in done.stdout
    assert "registered 1000 payments with the MoltPe sandbox" in done.stdout

    page = await open_page("/")
    box = page.get_by_label("Your message")
    await box.fill("Hi, order ORD-700417 arrived broken. Can I get 20 USDC back?")
    await box.press("Enter")
    await expect(page.locator(".msg-agent").last).to_contain_text("email")
    await box.fill("It's buyer417@shop.example")
    await box.press("Enter")
    receipt = page.get_by_test_id("receipt")
    await expect(receipt).to_contain_text("Refund sent")
    await expect(receipt).to_contain_text("20.00")
    await expect(receipt).to_contain_text("ORD-700417")
    tx_hash = await receipt.get_by_test_id("tx-hash").inner_text()
    assert TX_HASH.match(tx_hash), tx_hash
    await screenshot(page, "chat-imported-order-refund")
    [paid] = await asyncio.to_thread(live_server.sandbox.ledger, agent_id=live_server.agent_id)
    assert paid["tx_hash"] == tx_hash and paid["payment_id"] == "pay_shop_417"
