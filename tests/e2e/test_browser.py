"""The web pages in a real headless Chromium against the live HTTP service.

A customer gets a refund in the chat and sees the tx_hash; another is escalated and sees the
ticket; a reviewer signs in, reads the ticket's context, approves a smaller amount and the
customer's chat shows the approved refund; the audit chain stays intact. Also: a wrong
reviewer token, and the chat at phone width (no horizontal scroll, polite errors).

The browser and the pages come from :mod:`tests.e2e.browser_fixtures`; with
``UPDATE_SCREENSHOTS=1`` the README pictures in ``docs/screenshots/`` are rewritten too.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.e2e.browser_fixtures import (
    DESKTOP,
    PHONE,
    TALL,
    OpenPage,
    horizontal_overflow,
    require_browser,
    screenshot,
)
from tests.e2e.server_fixtures import REVIEWER_TOKEN, LiveServer

require_browser()

from playwright.async_api import Page, Request, Route, expect  # noqa: E402

TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")
TICKET = re.compile(r"RT-\d{6}")

# One Chromium per worker: the browser tests run together, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


# Records every text the chat's progress line shows (it changes with each SSE node event).
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const line = document.getElementById("progress-text");
  // Each textContent assignment adds a new text node: read every one, however batched.
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) window.progressSeen.push(n.data);
  }).observe(line, { childList: true });
}"""


# --- helpers ---------------------------------------------------------------------------


async def say(page: Page, text: str) -> None:
    """Type a message into the chat and send it with Enter."""
    box = page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")


async def refunds_paid(live_server: LiveServer) -> list[dict[str, Any]]:
    """The refunds the sandbox wallet of this service has paid."""
    return await asyncio.to_thread(live_server.sandbox.ledger, agent_id=live_server.agent_id)


def record_message_keys(page: Page) -> list[str | None]:
    """The Idempotency-Key of every message the page posts, in order."""
    keys: list[str | None] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/messages"):
            keys.append(request.headers.get("idempotency-key"))

    page.on("request", on_request)
    return keys


# --- tests ------------------------------------------------------------------------------


async def test_refund_escalation_and_review(open_page: OpenPage) -> None:
    # Alice: a small refund within policy, paid at once, with the tx_hash on a receipt card.
    alice = await open_page("/")
    await expect(alice.get_by_label("Your message")).to_be_focused()
    await say(alice, "Hi! My earbuds stopped working, can I get 20 USDC back?")
    await expect(alice.locator(".msg-agent").last).to_contain_text("email")
    await alice.evaluate(RECORD_PROGRESS)
    await say(alice, "Sure, it's alice@example.com and the order is ORD-1001")
    receipt = alice.get_by_test_id("receipt")
    await expect(receipt).to_contain_text("Refund sent")
    await expect(receipt).to_contain_text("20.00")
    await expect(receipt).to_contain_text("ORD-1001")
    tx_hash = await receipt.get_by_test_id("tx-hash").inner_text()
    assert TX_HASH.match(tx_hash), tx_hash
    await expect(alice.get_by_role("log")).to_contain_text(tx_hash)
    await expect(alice.get_by_role("button", name="Copy transaction hash")).to_be_visible()
    # The streamed node events drove the progress line while the agent worked.
    seen = await alice.evaluate("() => window.progressSeen")
    assert "Checking your order…" in seen and "Refund sent, preparing your receipt…" in seen, seen
    await expect(alice.locator("#progress")).to_be_hidden()
    await screenshot(alice, "chat-refund-desktop")

    # A reload continues the same conversation (thread id in sessionStorage).
    await alice.reload()
    await expect(alice.locator("body[data-ready]")).to_be_attached()
    await expect(alice.locator(".msg")).to_have_count(5)  # 4 messages and the receipt
    await expect(alice.get_by_test_id("tx-hash")).to_have_text(tx_hash)

    # Bob: 100 USDC is over the per-transaction cap, so a person will follow up.
    bob = await open_page("/")
    await say(bob, "I'd like a refund of 100 USDC for order ORD-2001, my email is bob@example.com")
    notice = bob.get_by_test_id("escalation")
    await expect(notice).to_contain_text("Waiting for review")
    reference = (await notice.locator(".ticket-ref").inner_text()).strip()
    assert TICKET.fullmatch(reference), reference
    await expect(bob.locator(".msg-agent").last).to_contain_text(reference)

    # Dana signs in and opens Bob's ticket: transcript, order and the reason are all there.
    dana = await open_page("/review")
    await expect(dana.get_by_role("heading", name="Reviewer sign-in")).to_be_visible()
    await dana.get_by_label("Reviewer token").fill(REVIEWER_TOKEN)
    await dana.get_by_role("button", name="Sign in").click()
    await expect(dana.locator("#reviewer")).to_have_text("dana")
    item = dana.locator(f'.ticket-item[data-ticket="{reference}"]')
    await item.click()
    await expect(item).to_have_attribute("aria-current", "true")
    await expect(dana.locator("#detail-title")).to_contain_text(reference)
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("open")
    await expect(dana.get_by_test_id("transcript")).to_contain_text("100 USDC for order ORD-2001")
    await expect(dana.get_by_test_id("order")).to_contain_text("ORD-2001")
    await expect(dana.get_by_test_id("order")).to_contain_text("120.00")
    reasons = dana.get_by_test_id("reasons")
    await expect(reasons).to_contain_text("over_per_tx_cap")
    await expect(reasons).to_contain_text("per-transaction cap")
    amount = dana.get_by_label("Refund amount (USDC)")
    # Over the cap: nothing pre-filled, the reviewer types the amount they approve.
    await expect(amount).to_have_value("")
    await expect(dana.get_by_test_id("chain-status")).to_contain_text("Chain intact")

    await amount.fill("40")
    await dana.get_by_label("Note (required)").fill("Arrived broken; 40 USDC agreed.")
    await screenshot(dana, "review-desktop", docs="review.png", full=True)
    await dana.set_viewport_size(PHONE)
    assert await horizontal_overflow(dana) == 0
    await screenshot(dana, "review-phone", full=True)
    await dana.set_viewport_size(DESKTOP)

    await dana.get_by_role("button", name="Approve refund").click()
    result = dana.get_by_test_id("resolve-result")
    await expect(result).to_contain_text("Refund sent: 40.00 USDC")
    approved_tx = await result.get_by_test_id("result-tx").inner_text()
    assert TX_HASH.match(approved_tx) and approved_tx != tx_hash
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("approved")
    await expect(item).to_have_count(0)  # no longer in the open queue
    chain = dana.get_by_test_id("chain-status")
    await expect(chain).to_have_text(re.compile(r"Chain intact \(\d+ events\)"))
    trail = dana.get_by_test_id("trail")
    await expect(trail).to_contain_text("Refund of 40.00 USDC approved by reviewer dana")
    await screenshot(dana, "review-resolved-desktop", full=True)

    # Bob's open chat picks up the reviewer's decision by itself.
    approved = bob.get_by_test_id("receipt")
    await expect(approved).to_contain_text("Refund approved by our team")
    await expect(approved).to_contain_text("40.00")
    await expect(approved.get_by_test_id("tx-hash")).to_have_text(approved_tx)
    await expect(notice).to_contain_text("refund approved")
    await expect(bob.locator(".msg-agent").last).to_contain_text(approved_tx)
    await bob.set_viewport_size(TALL)  # the whole conversation, for the README picture
    await screenshot(bob, "chat-review-approved-desktop", docs="chat.png")


async def test_a_wrong_reviewer_token_is_refused(open_page: OpenPage) -> None:
    page = await open_page("/review")
    await page.get_by_label("Reviewer token").fill("not-the-token")
    await page.get_by_role("button", name="Sign in").click()
    error = page.get_by_role("alert").filter(has_text="not accepted")
    await expect(error).to_be_visible()
    await expect(page.locator("#console")).to_be_hidden()
    await expect(page.get_by_label("Reviewer token")).to_be_focused()
    assert await page.evaluate("() => sessionStorage.length") == 0
    await screenshot(page, "review-login-error-desktop")


async def test_the_chat_fits_a_phone(open_page: OpenPage) -> None:
    page = await open_page("/", phone=True)
    assert await horizontal_overflow(page) == 0

    # Too long a message is refused politely and given back for editing.
    await say(page, "x" * 4001)
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("too long")
    await expect(page.get_by_label("Your message")).to_have_value("x" * 4001)
    await expect(page.locator(".msg")).to_have_count(0)

    # Rate limited: the wait the server asks for is passed on, politely.
    async def rate_limited(route: Route) -> None:
        await route.fulfill(
            status=429,
            headers={"Retry-After": "7"},
            json={"error": {"code": "rate_limited", "message": "too many requests"}},
        )

    await page.route("**/messages", rate_limited, times=1)
    await say(page, "hello?")
    await expect(alert).to_contain_text("try again in 7 seconds")
    await expect(page.get_by_label("Your message")).to_have_value("hello?")

    await say(page, "Please refund 12.50 USDC on ORD-1002, my email is alice@example.com")
    await expect(alert).to_be_hidden()
    receipt = page.get_by_test_id("receipt")
    await expect(receipt).to_contain_text("12.50")
    assert TX_HASH.match(await receipt.get_by_test_id("tx-hash").inner_text())
    assert await horizontal_overflow(page) == 0
    scroller_overflow = await page.evaluate(
        "() => { const s = document.getElementById('scroller'); "
        "return s.scrollWidth - s.clientWidth; }"
    )
    assert scroller_overflow == 0
    await screenshot(page, "chat-refund-phone")


async def test_a_refusal_then_a_denial_reach_the_customer(open_page: OpenPage) -> None:
    bob = await open_page("/")
    await say(bob, "Refund 100 USDC on ORD-2001 please, I'm bob@example.com")
    notice = bob.get_by_test_id("escalation")
    reference = (await notice.locator(".ticket-ref").inner_text()).strip()
    # A reload continues the conversation and keeps waiting for the reviewer.
    await bob.reload()
    await expect(notice).to_contain_text("Waiting for review")

    dana = await open_page("/review")
    await dana.get_by_label("Reviewer token").fill(REVIEWER_TOKEN)
    await dana.get_by_label("Reviewer token").press("Enter")
    await dana.locator(f'.ticket-item[data-ticket="{reference}"]').click()
    await expect(dana.locator("#detail-title")).to_contain_text(reference)

    # Over the cap nothing is pre-filled: the amount, then a note, before anything is sent.
    await dana.wait_for_load_state("networkidle")  # the ticket's last load has rendered
    await dana.get_by_role("button", name="Approve refund").click()
    await expect(dana.get_by_role("alert").filter(has_text="Enter an amount")).to_be_visible()
    await expect(dana.get_by_label("Refund amount (USDC)")).to_be_focused()
    await dana.get_by_label("Refund amount (USDC)").fill("100")
    await dana.get_by_role("button", name="Approve refund").click()
    await expect(dana.get_by_role("alert").filter(has_text="Add a note")).to_be_visible()
    await expect(dana.get_by_label("Note (required)")).to_be_focused()

    # 100 USDC is over the policy's per-refund cap: the first click only warns...
    await dana.get_by_label("Note (required)").fill("Full amount, as asked.")
    await dana.get_by_role("button", name="Approve refund").click()
    await expect(dana.get_by_test_id("limit-warning")).to_contain_text("per-refund cap")
    # ...and over the wallet's per-transaction cap at MoltPe: refused, still open.
    await dana.get_by_role("button", name="Approve anyway").click()
    result = dana.get_by_test_id("resolve-result")
    await expect(result).to_contain_text("MoltPe refused the refund")
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("open")
    await expect(dana.get_by_label("Note (required)")).to_have_value("Full amount, as asked.")
    await screenshot(dana, "review-moltpe-refused-desktop", full=True)

    await dana.get_by_label("Note (required)").fill("Not eligible after all.")
    await dana.get_by_role("button", name="Deny").click()
    await expect(result).to_contain_text("Request denied")
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("denied")
    await expect(dana.get_by_test_id("chain-status")).to_contain_text("Chain intact")

    await expect(bob.get_by_test_id("review-denied")).to_contain_text(reference)
    await expect(notice).to_contain_text("not approved")
    await expect(bob.locator(".msg-agent").last).to_contain_text("Not eligible after all.")


REFUND_20 = "Please refund 20 USDC on ORD-1001, my email is alice@example.com"


async def test_a_retry_after_a_cut_off_reply_pays_once(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    page = await open_page("/")
    keys = record_message_keys(page)

    # The server gets the message and answers it in full (the refund is paid), but the
    # connection breaks before the reply event reaches the page...
    async def cut_off(route: Route) -> None:
        response = await route.fetch()
        body = await response.text()
        assert "event: reply" in body, body
        await route.fulfill(response=response, body=body.split("event: reply")[0])

    # ...and is still down when the page looks the conversation up.
    async def offline(route: Route) -> None:
        await route.abort()

    await page.route("**/messages", cut_off, times=1)
    await page.route("**/v1/conversations/*", offline, times=1)
    await say(page, REFUND_20)
    await expect(page.get_by_role("alert")).to_contain_text("try again")
    await expect(page.get_by_label("Your message")).to_have_value(REFUND_20)

    # Enter again: the same message with the same key, so the server answers it once.
    async with page.expect_response("**/messages") as retried:
        await page.get_by_label("Your message").press("Enter")
    receipt = page.get_by_test_id("receipt")
    await expect(receipt).to_contain_text("20.00")
    paid = await refunds_paid(live_server)
    assert len(paid) == 1, paid
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1], keys
    assert (await retried.value).headers.get("idempotent-replayed") == "true"
    await expect(page.get_by_role("alert")).to_be_hidden()
    await expect(page.locator(".msg-customer")).to_have_count(1)
    await expect(page.locator(".msg-agent")).to_have_count(1)
    await expect(page.get_by_role("log")).to_contain_text(paid[0]["tx_hash"])

    # A new message gets a new key.
    await say(page, "Thanks!")
    await expect(page.locator(".msg-agent")).to_have_count(2)
    assert len(keys) == 3 and keys[2] and keys[2] != keys[0], keys
    await expect(receipt).to_have_count(1)
    assert len(await refunds_paid(live_server)) == 1


async def test_a_reply_the_server_finished_is_shown_after_the_stream_breaks(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    page = await open_page("/")

    async def dropped(route: Route) -> None:
        response = await route.fetch()
        await response.body()  # the turn has finished on the server
        await route.abort()

    await page.route("**/messages", dropped, times=1)
    await say(page, REFUND_20)
    receipt = page.get_by_test_id("receipt")
    await expect(receipt).to_contain_text("20.00")
    await expect(page.locator(".msg-customer")).to_have_count(1)
    await expect(page.locator(".msg-agent")).to_have_count(1)
    # Nothing is offered for resending.
    await expect(page.get_by_label("Your message")).to_have_value("")
    await expect(page.get_by_role("alert")).to_be_hidden()
    paid = await refunds_paid(live_server)
    assert len(paid) == 1, paid
    await expect(receipt.get_by_test_id("tx-hash")).to_have_text(paid[0]["tx_hash"])


async def test_a_decision_made_while_the_customer_writes_is_shown_once(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    bob = await open_page("/")
    await say(bob, "I'd like a refund of 100 USDC for order ORD-2001, my email is bob@example.com")
    notice = bob.get_by_test_id("escalation")
    await expect(notice).to_contain_text("Waiting for review")
    reference = (await notice.locator(".ticket-ref").inner_text()).strip()

    # The page's polls fail (as if offline) until Bob sends his next message, so the
    # decision can only reach the page through that turn.
    writing = asyncio.Event()

    async def offline_until_bob_writes(route: Route) -> None:
        if writing.is_set():
            await route.fallback()
        else:
            await route.abort()

    async def bob_writes(route: Route) -> None:
        writing.set()
        await route.fallback()

    await bob.route("**/v1/conversations/*", offline_until_bob_writes)
    await bob.route("**/messages", bob_writes)

    auth = {"Authorization": f"Bearer {REVIEWER_TOKEN}"}
    async with httpx.AsyncClient(base_url=live_server.url, headers=auth, timeout=30) as api:
        tickets = (await api.get("/v1/tickets")).raise_for_status().json()["tickets"]
        ticket_id = next(t["id"] for t in tickets if t["reference"] == reference)
        resolved = await api.post(
            f"/v1/tickets/{ticket_id}/resolve",
            json={"decision": "approve", "amount": "40", "note": "ok"},
        )
        assert resolved.status_code == 200, resolved.text
        approved_tx = resolved.json()["refund"]["tx_hash"]

        await say(bob, "hello, any news?")
        approval = bob.locator(".msg-agent").filter(has_text="approved your refund")
        await expect(approval).to_have_count(1)
        await expect(approval).to_contain_text(approved_tx)
        receipt = bob.get_by_test_id("receipt")
        await expect(receipt).to_contain_text("Refund approved by our team")
        await expect(receipt).to_contain_text("40.00")
        await expect(receipt.get_by_test_id("tx-hash")).to_have_text(approved_tx)
        await expect(notice).to_contain_text("refund approved")
        await expect(notice).not_to_contain_text("Waiting for review")

        # The page shows the server's transcript, in order, each message once.
        thread = await bob.evaluate("() => sessionStorage.getItem('refund-agent.thread')")
        conversation = (await api.get(f"/v1/conversations/{thread}")).raise_for_status().json()
        texts = [m["text"] for m in conversation["messages"]]
        assert len(texts) == 5 and "approved your refund" in texts[2], texts
        assert texts[3] == "hello, any news?", texts
        await expect(bob.locator(".msg-customer .bubble, .msg-agent .bubble")).to_have_text(texts)
        await expect(receipt).to_have_count(1)


async def test_the_api_reference_renders_offline_under_the_pages_policy(
    open_page: OpenPage,
) -> None:
    page = await open_page("/docs")
    await expect(page.locator("#swagger-ui")).to_contain_text("support-refund-agent")
    await expect(page.locator("#swagger-ui")).to_contain_text("/v1/conversations")
