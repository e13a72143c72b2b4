"""The review console in a real headless Chromium: the queue's views and search, both sides
of a conversation, the audit trail in plain words, and the warning before an approval
beyond the policy's limits."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.e2e.browser_fixtures import (
    PHONE,
    TALL,
    OpenPage,
    horizontal_overflow,
    require_browser,
    screenshot,
    sign_in,
)
from tests.e2e.server_fixtures import REVIEWER_TOKEN, LiveServer

require_browser()

from playwright.async_api import Page, Request, expect  # noqa: E402

# One Chromium per worker: the browser tests run together, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

REVIEW = {"Authorization": f"Bearer {REVIEWER_TOKEN}"}
HASH = re.compile(r"\b[0-9a-f]{64}\b")


async def chat(live_server: LiveServer, *texts: str) -> dict[str, Any]:
    """A customer's conversation through the API; the outcome of its last turn."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        thread = (await http.post("/v1/conversations")).raise_for_status().json()["thread_id"]
        outcome: dict[str, Any] = {}
        for text in texts:
            answer = await http.post(f"/v1/conversations/{thread}/messages", json={"text": text})
            outcome = answer.raise_for_status().json()["outcome"]
    return outcome


async def ticket_id(live_server: LiveServer, reference: str) -> int:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30, headers=REVIEW) as http:
        listed = await http.get("/v1/tickets", params={"view": "all", "q": reference})
    [ticket] = listed.raise_for_status().json()["tickets"]
    return int(ticket["id"])


def item(page: Page, reference: str) -> Any:
    return page.locator(f'.ticket-item[data-ticket="{reference}"]')


def record_resolutions(page: Page) -> list[str]:
    """The URL of every resolution the page posts."""
    posted: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/resolve"):
            posted.append(request.url)

    page.on("request", on_request)
    return posted


async def test_views_switch_and_one_box_finds_by_email(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    bob = (await chat(live_server, "bob@example.com, I want 100 USDC back for ORD-2001"))["ticket"]
    carol = (await chat(live_server, "carol@example.com ORD-3001 refund please"))["ticket"]
    frank = (await chat(live_server, "frank@example.com ORD-6001 I want to speak to a human"))[
        "ticket"
    ]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30, headers=REVIEW) as http:
        denied = await http.post(
            f"/v1/tickets/{await ticket_id(live_server, carol)}/resolve",
            json={"decision": "deny", "note": "Outside the return window."},
        )
        assert denied.status_code == 200, denied.text

    dana = await open_page("/review")
    await sign_in(dana, REVIEWER_TOKEN)
    tab = lambda name: dana.get_by_role("tab", name=re.compile(f"^{name}"))  # noqa: E731
    await expect(tab("Open")).to_have_attribute("aria-selected", "true")
    await expect(dana.locator("#count-open")).to_have_text("2")
    await expect(dana.locator("#count-mine")).to_have_text("0")
    await expect(dana.locator("#count-resolved")).to_have_text("1")
    await expect(dana.locator(".ticket-item")).to_have_count(2)
    await expect(item(dana, carol)).to_have_count(0)

    # Resolved: who resolved it and how, in the list and the detail.
    await tab("Resolved").click()
    await expect(tab("Resolved")).to_have_attribute("aria-selected", "true")
    await expect(dana.locator(".ticket-item")).to_have_count(1)
    await expect(item(dana, carol)).to_contain_text("denied by dana")
    await expect(dana.locator("#detail-title")).to_contain_text(carol)
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("denied")
    await expect(dana.locator("#detail")).to_contain_text("Outside the return window.")
    await screenshot(dana, "review-resolved-view-desktop")

    # Mine is empty until Dana claims a ticket; then it is there.
    await tab("Mine").click()
    await expect(dana.locator(".ticket-item")).to_have_count(0)
    await expect(dana.locator("#queue-empty")).to_contain_text("not claimed any open ticket")
    await tab("Open").click()
    await item(dana, bob).click()
    await dana.wait_for_load_state("networkidle")  # the ticket's last load has rendered
    await expect(dana.locator("#detail-title")).to_contain_text(bob)
    await dana.get_by_test_id("claim").get_by_role("button", name="Claim").click()
    await expect(dana.get_by_test_id("claim")).to_contain_text("Claimed by you")
    await expect(item(dana, bob)).to_contain_text("Claimed by you")
    await expect(dana.locator("#count-mine")).to_have_text("1")
    await tab("Mine").click()
    await expect(dana.locator(".ticket-item")).to_have_count(1)
    await expect(item(dana, bob)).to_be_visible()
    # Arrow keys move along the views.
    await tab("Mine").press("ArrowLeft")
    await expect(tab("Open")).to_have_attribute("aria-selected", "true")
    await expect(tab("Open")).to_be_focused()
    await expect(dana.locator(".ticket-item")).to_have_count(2)

    # One box: a customer's email finds their ticket, and the detail follows.
    search = dana.get_by_role("searchbox", name="Search tickets")
    await search.fill("frank@example.com")
    await expect(dana.locator(".ticket-item")).to_have_count(1)
    await expect(item(dana, frank)).to_be_visible()
    await expect(dana.locator("#detail-title")).to_contain_text(frank)
    await expect(dana.locator("#count-open")).to_have_text("1")
    # Another view's matches are pointed at.
    await search.fill("CAROL@example.com")
    await expect(dana.locator("#queue-empty")).to_contain_text("Found in Resolved (1)")
    await expect(dana.locator(".ticket-item")).to_have_count(0)
    await tab("Resolved").click()
    await expect(item(dana, carol)).to_be_visible()
    # An order id and a reference work in the same box.
    await tab("Open").click()
    await search.fill("ORD-2001")
    await expect(dana.locator(".ticket-item")).to_have_count(1)
    await expect(item(dana, bob)).to_be_visible()
    await search.fill(frank)
    await search.press("Enter")
    await expect(dana.locator(".ticket-item")).to_have_count(1)
    await expect(item(dana, frank)).to_be_visible()
    await search.fill("")
    await expect(dana.locator(".ticket-item")).to_have_count(2)

    await dana.set_viewport_size(PHONE)
    assert await horizontal_overflow(dana) == 0
    await screenshot(dana, "review-views-phone", full=True)


async def test_both_sides_of_the_conversation_and_the_trail_in_words(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    outcome = await chat(live_server, "Hi, I want 100 USDC back", "bob@example.com ORD-2001")
    reference = outcome["ticket"]

    dana = await open_page("/review")
    await sign_in(dana, REVIEWER_TOKEN)
    await item(dana, reference).click()
    await expect(dana.locator("#detail-title")).to_contain_text(reference)

    # Both sides, in order, each labelled.
    lines = dana.get_by_test_id("transcript").locator("li")
    await expect(lines).to_have_count(4)
    roles = [await line.get_attribute("data-role") for line in await lines.all()]
    assert roles == ["customer", "agent", "customer", "agent"], roles
    await expect(lines.nth(0)).to_contain_text("Customer")
    await expect(lines.nth(0)).to_contain_text("I want 100 USDC back")
    await expect(lines.nth(1)).to_contain_text("Agent")
    await expect(lines.nth(1)).to_contain_text("email address")
    await expect(lines.nth(2)).to_contain_text("bob@example.com ORD-2001")
    await expect(lines.nth(3)).to_contain_text(reference)

    # The trail in plain words; the technical record is folded under each line.
    trail = dana.get_by_test_id("trail")
    escalated = trail.get_by_test_id("trail-line").filter(has_text=f"Escalated ({reference})")
    await expect(escalated).to_contain_text("over the 50.00 USDC per-refund cap")
    await expect(trail).to_contain_text("Order found and it belongs to this customer")
    await expect(trail).to_contain_text("The agent answered message 2:")
    record = escalated.get_by_test_id("audit-event")
    await expect(record).to_be_hidden()
    await escalated.get_by_text("Technical detail (escalation)").click()
    await expect(record).to_be_visible()
    await expect(record).to_contain_text("escalation")
    await expect(record).to_contain_text('"ticket": "' + reference + '"')
    assert HASH.search(await record.inner_text())
    await expect(dana.get_by_test_id("chain-status")).to_contain_text("Chain intact")

    # The reviewer's message joins the conversation, as the reviewer's.
    await dana.get_by_label("Refund amount (USDC)").fill("40")
    await dana.get_by_label("Note (required)").fill("Arrived broken; 40 USDC agreed.")
    await dana.get_by_role("button", name="Approve refund").click()
    await expect(dana.get_by_test_id("resolve-result")).to_contain_text("Refund sent: 40.00")
    await expect(lines).to_have_count(5)
    await expect(lines.nth(4)).to_have_attribute("data-role", "reviewer")
    await expect(lines.nth(4)).to_contain_text("Reviewer dana, sent as the agent")
    await expect(lines.nth(4)).to_contain_text("approved your refund of 40.00 USDC")
    await expect(trail).to_contain_text(
        'Refund of 40.00 USDC approved by reviewer dana (note: "Arrived broken; 40 USDC agreed.")'
    )
    await screenshot(dana, "review-conversation-and-trail-desktop", full=True)


async def test_an_approval_beyond_todays_budget_needs_a_second_click(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    # 80 of today's 100 are spent; Bob's 100 goes to a person.
    alice = await chat(live_server, "refund 45 USDC on ORD-1001, alice@example.com")
    frank = await chat(live_server, "refund 35 USDC on ORD-6001, frank@example.com")
    assert alice["kind"] == frank["kind"] == "refunded"
    reference = (await chat(live_server, "bob@example.com, I want 100 USDC back for ORD-2001"))[
        "ticket"
    ]
    paid = await asyncio.to_thread(live_server.sandbox.ledger, agent_id=live_server.agent_id)
    assert len(paid) == 2

    dana = await open_page("/review")
    posted = record_resolutions(dana)
    await sign_in(dana, REVIEWER_TOKEN)
    await item(dana, reference).click()
    # Signing in already loads the first ticket; a click after that load reloads it, and
    # that second render would replace a form filled in the meantime: wait for it.
    await dana.wait_for_load_state("networkidle")
    await expect(dana.locator("#detail-title")).to_contain_text(reference)
    await expect(dana.get_by_test_id("budget")).to_contain_text("Per-refund cap 50.00 USDC")
    await expect(dana.get_by_test_id("budget")).to_contain_text("20.00 of 100.00 USDC left")

    amount = dana.get_by_label("Refund amount (USDC)")
    warning = dana.get_by_test_id("limit-warning")
    approve = dana.locator(".resolve-form button[value=approve]")
    await amount.fill("30")
    await dana.get_by_label("Note (required)").fill("Keyboard arrived broken.")
    await expect(warning).to_be_hidden()
    await approve.click()
    # The first click only warns: nothing is sent.
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("30.00 USDC is more than what is left of today's")
    await expect(warning).to_contain_text("(20.00 of 100.00 USDC)")
    await expect(warning).not_to_contain_text("per-refund cap")
    await expect(approve).to_have_text("Approve anyway")
    await dana.set_viewport_size(TALL)  # the form and its warning in one picture
    await warning.scroll_into_view_if_needed()
    await screenshot(dana, "review-budget-warning-desktop", docs="review-warning.png")
    await dana.wait_for_timeout(500)
    assert posted == []
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("open")

    # A new amount is a new question: warned again, then sent on the second click.
    await amount.fill("25")
    await expect(warning).to_be_hidden()
    await expect(approve).to_have_text("Approve refund")
    await approve.click()
    await expect(warning).to_contain_text("25.00 USDC is more than")
    assert posted == []
    await dana.get_by_role("button", name="Approve anyway").click()
    result = dana.get_by_test_id("resolve-result")
    # The wallet's own daily cap at MoltPe refuses it too: no money moved.
    await expect(result).to_contain_text("MoltPe refused the refund")
    assert len(posted) == 1
    assert (
        len(await asyncio.to_thread(live_server.sandbox.ledger, agent_id=live_server.agent_id)) == 2
    )

    # Within the limits one click sends.
    await amount.fill("15")
    await dana.get_by_role("button", name="Approve refund").click()
    await expect(result).to_contain_text("Refund sent: 15.00 USDC")
    await expect(warning).to_have_count(0)  # the ticket is resolved: no form any more
    assert len(posted) == 2
    await expect(dana.get_by_test_id("trail")).to_contain_text(
        "Refund of 15.00 USDC approved by reviewer dana"
    )


async def test_the_queue_refreshes_itself_and_the_service_warns_of_a_spent_budget(
    open_page: OpenPage, live_server: LiveServer
) -> None:
    dana = await open_page("/review")
    posted = record_resolutions(dana)
    await sign_in(dana, REVIEWER_TOKEN)
    await expect(dana.locator("#queue-empty")).to_be_visible()

    # A new escalation shows up in the open queue without a click.
    reference = (await chat(live_server, "bob@example.com, I want 100 USDC back for ORD-2001"))[
        "ticket"
    ]
    await expect(item(dana, reference)).to_be_visible(timeout=20_000)
    await expect(dana.locator("#count-open")).to_have_text("1")
    await expect(dana.locator("#detail-title")).to_contain_text(reference)
    await expect(dana.get_by_test_id("budget")).to_contain_text("100.00 of 100.00 USDC left")
    amount = dana.get_by_label("Refund amount (USDC)")
    warning = dana.get_by_test_id("limit-warning")
    await amount.fill("30")
    await dana.get_by_label("Note (required)").fill("Keyboard arrived broken.")

    # Meanwhile the agent spends 80 of today's 100: the page's budget is out of date.
    alice = await chat(live_server, "refund 45 USDC on ORD-1001, alice@example.com")
    frank = await chat(live_server, "refund 35 USDC on ORD-6001, frank@example.com")
    assert alice["kind"] == frank["kind"] == "refunded"

    # The service refuses the unconfirmed approval and the console shows its warning.
    await dana.locator(".resolve-form button[value=approve]").click()
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("what is left of today's refund budget (20.00")
    await expect(dana.get_by_role("button", name="Approve anyway")).to_be_visible()
    assert len(posted) == 1
    await expect(dana.get_by_test_id("ticket-status")).to_have_text("open")
    paid = await asyncio.to_thread(live_server.sandbox.ledger, agent_id=live_server.agent_id)
    assert len(paid) == 2

    # Confirmed, it goes to MoltPe, whose daily cap refuses it: the customer is told.
    await dana.get_by_role("button", name="Approve anyway").click()
    result = dana.get_by_test_id("resolve-result")
    await expect(result).to_contain_text("MoltPe refused the refund")
    await expect(result).to_contain_text("did not go through")
    assert len(posted) == 2
    await expect(dana.locator("#detail")).to_contain_text(
        f"A teammate approved a refund on your request (ticket {reference}), but the payment "
        "did not go through"
    )
