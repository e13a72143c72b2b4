// Customer chat: one conversation per browser tab (kept in sessionStorage), replies streamed
// over server-sent events, refund receipts and escalation notices as cards, and polling for a
// reviewer's decision while a ticket is open.

import { ApiError, apiError, copyWithFeedback, h, politeError, requestJson } from "./common.js";

const THREAD_KEY = "refund-agent.thread";
const POLL_FAST_MS = 3000; // for the first minute of waiting
const POLL_SLOW_MS = 10000; // after that, to stay well inside the rate limit

// What the customer sees while the agent works, keyed by the graph node that just finished.
const PROGRESS = {
  understand: "Checking your order…",
  lookup: "Checking our refund policy…",
  decide: "Almost there…",
  refund: "Refund sent, preparing your receipt…",
  escalate: "Passing this to a person on our team…",
  respond: "Writing a reply…",
};

const $ = (id) => document.getElementById(id);
const list = $("messages");
const scroller = $("scroller");
const form = $("composer");
const input = $("message-input");
const sendButton = $("send");
const progress = $("progress");
const progressText = $("progress-text");
const errorBox = $("chat-error");

const chat = {
  threadId: null,
  known: 0, // messages the server has for this thread that are on screen
  unconfirmed: [], // messages drawn from a turn's answer alone, redrawn from the server later
  draft: null, // {text, key}: the message being sent, kept with its key until it is answered
  sending: false,
  awaitingTicket: null, // ticket reference while a reviewer has yet to decide
  waitingFrom: 0, // how many messages there were when the page began waiting for it
  notesWhileOpen: 0, // reviewer messages already there while the ticket was still open
  pollTimer: null,
  polls: 0,
};

// ---- rendering ------------------------------------------------------------------------------

function scrollToEnd() {
  scroller.scrollTop = scroller.scrollHeight;
}

function appendMessage(role, text) {
  const customer = role === "customer";
  const item = h(
    "li",
    { class: `msg ${customer ? "msg-customer" : "msg-agent"}` },
    h("span", { class: "msg-who" }, customer ? "You" : "Support agent"),
    h("div", { class: "bubble" }, text),
  );
  list.append(item);
  scrollToEnd();
  return item;
}

function appendCard(card) {
  list.append(h("li", { class: "msg msg-card" }, card));
  scrollToEnd();
}

function txRow(txHash) {
  const code = h("code", { class: "tx", "data-testid": "tx-hash" }, txHash);
  const copy = h(
    "button",
    { type: "button", class: "btn btn-ghost btn-small", "aria-label": "Copy transaction hash" },
    "Copy",
  );
  copy.addEventListener("click", () => copyWithFeedback(copy, txHash));
  return h("div", { class: "tx-row" }, code, copy);
}

function receiptCard({ kicker, amount, orderId, ticket, txHash }) {
  return h(
    "section",
    {
      class: "card outcome-card outcome-ok",
      "aria-label": "Refund receipt",
      "data-testid": "receipt",
    },
    h(
      "div",
      { class: "outcome-head" },
      h("span", { class: "outcome-icon", "aria-hidden": "true" }, "✓"),
      h(
        "div",
        {},
        h("p", { class: "outcome-kicker" }, kicker),
        h("p", { class: "outcome-title" }, amount, " ", h("small", {}, "USDC")),
      ),
    ),
    h(
      "dl",
      { class: "facts" },
      orderId && h("div", {}, h("dt", {}, "Order"), h("dd", {}, orderId)),
      ticket && h("div", {}, h("dt", {}, "Ticket"), h("dd", {}, ticket)),
      h("div", {}, h("dt", {}, "Transaction"), h("dd", {}, txRow(txHash))),
    ),
    h(
      "p",
      { class: "outcome-foot" },
      "Sent in USDC to the wallet you paid from. It usually settles in about a minute.",
    ),
  );
}

function escalationCard(ticket) {
  return h(
    "section",
    {
      class: "card outcome-card outcome-wait",
      "aria-label": "Passed to our team",
      "data-testid": "escalation",
      "data-ticket": ticket,
    },
    h(
      "div",
      { class: "outcome-head" },
      h("span", { class: "outcome-icon", "aria-hidden": "true" }, "→"),
      h(
        "div",
        {},
        h("p", { class: "outcome-kicker" }, "Passed to a person"),
        h("p", { class: "outcome-title" }, "Ticket ", h("span", { class: "ticket-ref" }, ticket)),
      ),
    ),
    h(
      "p",
      { class: "review-status" },
      h(
        "span",
        { class: "waiting" },
        h("span", { class: "dot", "aria-hidden": "true" }),
        "Waiting for review",
      ),
    ),
    h(
      "p",
      { class: "outcome-foot" },
      "Someone from our team will look at your request and reply right here. Keep this page open, or come back to it later in this tab.",
    ),
  );
}

function markReviewed(ticket, words) {
  const card = list.querySelector(`[data-ticket="${CSS.escape(ticket)}"]`);
  if (!card) return;
  card.classList.replace("outcome-wait", "outcome-muted");
  card.querySelector(".outcome-icon").textContent = "✓";
  card.querySelector(".review-status").replaceChildren(h("strong", {}, words));
  card.querySelector(".outcome-foot").textContent = "Our team has reviewed this request.";
}

function deniedCard(ticket) {
  return h(
    "section",
    {
      class: "card outcome-card outcome-muted",
      "aria-label": "Review finished",
      "data-testid": "review-denied",
    },
    h(
      "div",
      { class: "outcome-head" },
      h("span", { class: "outcome-icon", "aria-hidden": "true" }, "i"),
      h(
        "div",
        {},
        h("p", { class: "outcome-kicker" }, "Reviewed by our team"),
        h("p", { class: "outcome-title" }, "Ticket ", h("span", { class: "ticket-ref" }, ticket)),
      ),
    ),
    h(
      "p",
      { class: "outcome-foot" },
      "The message above explains the decision. Reply here if you have questions.",
    ),
  );
}

/**
 * The reviewer's decision on the ticket the page waits for, as an outcome; null while the
 * ticket is open or the reviewer's message has yet to reach the conversation.
 */
function reviewOutcome({ messages, outcome, ticket, refund }) {
  if (!chat.awaitingTicket || ticket?.reference !== chat.awaitingTicket) return null;
  // A reviewer's message is an agent message that answers no customer message. One may
  // come while the ticket stays open ("the payment did not go through"): the decision's own
  // message is one more than those.
  const notes = messages.filter(
    (message, i) =>
      i >= chat.waitingFrom && message.role === "agent" && messages[i - 1]?.role === "agent",
  ).length;
  if (ticket.status === "open") {
    chat.notesWhileOpen = notes;
    return null;
  }
  if (outcome.kind?.startsWith("review_") && outcome.ticket === ticket.reference) return outcome;
  // A later turn replaced the outcome: until the decision's message is there, it is still
  // being posted.
  if (notes <= chat.notesWhileOpen) return null;
  if (ticket.status !== "approved") return { kind: "review_denied", ticket: ticket.reference };
  const { amount, tx_hash, order_id } = refund || {};
  return { kind: "review_approved", ticket: ticket.reference, amount, tx_hash, order_id };
}

/** Draw the messages the server has and the page has not shown, then the reviewer's decision. */
function catchUp(conversation) {
  if (conversation.messages.length > chat.known) {
    for (const item of chat.unconfirmed.splice(0)) item.remove();
    for (const message of conversation.messages.slice(chat.known)) {
      appendMessage(message.role, message.text);
    }
    chat.known = conversation.messages.length;
  }
  const decided = reviewOutcome(conversation);
  if (decided) renderOutcome(decided, conversation);
}

/** Show what a turn (or a reviewer) did: a card for refunds and tickets, nothing otherwise. */
function renderOutcome(outcome, conversation = null) {
  if (!outcome) return;
  switch (outcome.kind) {
    case "refunded":
      appendCard(
        receiptCard({
          kicker: "Refund sent",
          amount: outcome.amount,
          orderId: outcome.order_id,
          txHash: outcome.tx_hash,
        }),
      );
      break;
    case "escalated":
      appendCard(escalationCard(outcome.ticket));
      startPolling(outcome.ticket);
      break;
    case "review_approved":
      markReviewed(outcome.ticket, "Reviewed: refund approved");
      appendCard(
        receiptCard({
          kicker: "Refund approved by our team",
          amount: outcome.amount,
          orderId: outcome.order_id || conversation?.refund?.order_id,
          ticket: outcome.ticket,
          txHash: outcome.tx_hash,
        }),
      );
      stopPolling();
      break;
    case "review_denied":
      markReviewed(outcome.ticket, "Reviewed: not approved");
      appendCard(deniedCard(outcome.ticket));
      stopPolling();
      break;
    default:
      break;
  }
}

// ---- status line and errors -----------------------------------------------------------------

function showProgress(text) {
  progressText.textContent = text;
  if (progress.hidden) {
    progress.hidden = false;
    scrollToEnd();
  }
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
  errorBox.textContent = "";
}

// ---- the conversation -----------------------------------------------------------------------

/** A key for one composed message (randomUUID needs a secure context; this works anywhere). */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function fetchConversation(threadId = chat.threadId) {
  return requestJson(`/v1/conversations/${encodeURIComponent(threadId)}`);
}

async function createConversation() {
  const { thread_id: threadId } = await requestJson("/v1/conversations", {
    method: "POST",
    body: {},
  });
  chat.threadId = threadId;
  chat.known = 0;
  chat.unconfirmed = [];
  sessionStorage.setItem(THREAD_KEY, threadId);
}

async function resumeConversation(threadId) {
  const conversation = await fetchConversation(threadId);
  chat.threadId = threadId;
  list.replaceChildren();
  for (const message of conversation.messages) appendMessage(message.role, message.text);
  chat.known = conversation.messages.length;
  renderOutcome(conversation.outcome, conversation);
  // A ticket still open (even if later messages changed the outcome): keep waiting for it.
  const ticket = conversation.ticket;
  if (ticket?.status === "open" && !chat.awaitingTicket) startPolling(ticket.reference);
}

/** Split a text/event-stream body into {event, data} records as they arrive. */
async function* serverEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    // Normalise CRLF/CR line ends; a trailing CR may be the first half of a CRLF.
    buffer = (buffer + value).replace(/\r\n/g, "\n").replace(/\r(?=.)/gs, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

/** Send one message; resolves to {reply, thread_id, outcome}. Same key, same answer. */
async function postTurn(text, key) {
  let response;
  try {
    response = await fetch(`/v1/conversations/${encodeURIComponent(chat.threadId)}/messages`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        "Idempotency-Key": key,
      },
      body: JSON.stringify({ text }),
    });
  } catch {
    throw new ApiError(0, "network", "We could not reach the server.");
  }
  if (!response.ok) throw await apiError(response);
  if (!(response.headers.get("Content-Type") || "").includes("text/event-stream")) {
    return response.json();
  }
  for await (const { event, data } of serverEvents(response)) {
    if (event === "node") showProgress(PROGRESS[data.node] || "Working on it…");
    else if (event === "reply") return data;
    else if (event === "error") {
      const error = data.error || {};
      throw new ApiError(error.status || 500, error.code || "error", error.message || "");
    }
  }
  throw new ApiError(502, "incomplete", "The reply was cut off.");
}

/**
 * The server may have answered a message whose reply never arrived: if the conversation has
 * the turn, resolve to it (with no reply to draw), else rethrow.
 */
async function recoverTurn(err) {
  if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
  const conversation = await fetchConversation().catch(() => null);
  const fresh = conversation?.messages.slice(chat.known) || [];
  if (!fresh.some((message) => message.role === "customer")) throw err;
  const outcome = conversation.outcome;
  return { conversation, outcome: outcome.kind?.startsWith("review_") ? null : outcome };
}

async function send(text) {
  if (chat.sending || !text.trim()) return;
  chat.sending = true;
  sendButton.disabled = true;
  form.setAttribute("aria-busy", "true");
  clearError();
  const bubble = appendMessage("customer", text);
  input.value = "";
  autosize();
  showProgress("Reading your message…");
  try {
    if (!chat.threadId) await createConversation();
    // One key per composed message: sending the same text again after a failure is a retry,
    // which the server answers from the first attempt instead of acting twice.
    if (chat.draft?.text !== text) chat.draft = { text, key: newKey() };
    const result = await postTurn(text, chat.draft.key).catch(recoverTurn);
    chat.draft = null;
    // The server's transcript, in order: a reviewer may have written while this turn ran.
    const conversation = result.conversation || (await fetchConversation().catch(() => null));
    chat.unconfirmed.push(bubble);
    if (conversation) catchUp(conversation);
    else chat.unconfirmed.push(appendMessage("agent", result.reply));
    renderOutcome(result.outcome);
  } catch (err) {
    bubble.remove();
    if (!input.value) input.value = text;
    autosize();
    if (err instanceof ApiError && err.status === 404) {
      // The conversation is gone (expired or the server was reset): start a fresh one.
      sessionStorage.removeItem(THREAD_KEY);
      chat.threadId = null;
      showError("This conversation has ended. Please send your message again to start a new one.");
    } else if (err instanceof ApiError && err.status === 409) {
      showError("We're still answering your previous message. Please wait a moment and try again.");
    } else {
      showError(politeError(err));
    }
  } finally {
    progress.hidden = true;
    chat.sending = false;
    sendButton.disabled = false;
    form.removeAttribute("aria-busy");
    const focused = document.activeElement;
    if (!focused || focused === document.body || focused === sendButton) input.focus();
  }
}

// ---- waiting for a reviewer -----------------------------------------------------------------

function schedulePoll(delay = chat.polls < 20 ? POLL_FAST_MS : POLL_SLOW_MS) {
  if (chat.awaitingTicket && !chat.pollTimer) chat.pollTimer = setTimeout(poll, delay);
}

function startPolling(ticket) {
  chat.awaitingTicket = ticket;
  chat.waitingFrom = chat.known;
  chat.notesWhileOpen = 0;
  chat.polls = 0;
  schedulePoll();
}

function stopPolling() {
  chat.awaitingTicket = null;
  clearTimeout(chat.pollTimer);
  chat.pollTimer = null;
}

async function poll() {
  chat.pollTimer = null;
  chat.polls += 1;
  if (!chat.awaitingTicket || !chat.threadId) return;
  let delay;
  if (!chat.sending) {
    try {
      const conversation = await fetchConversation();
      if (!chat.sending) catchUp(conversation);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return stopPolling();
      if (err instanceof ApiError && err.retryAfter) delay = err.retryAfter * 1000;
      // Anything else is transient: try again on the next tick.
    }
  }
  schedulePoll(delay);
}

// ---- wiring ---------------------------------------------------------------------------------

function autosize() {
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send(input.value);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

input.addEventListener("input", autosize);

$("new-chat").addEventListener("click", async () => {
  stopPolling();
  list.replaceChildren();
  clearError();
  sessionStorage.removeItem(THREAD_KEY);
  chat.threadId = null;
  try {
    await createConversation();
  } catch (err) {
    showError(politeError(err));
  }
  input.focus();
});

async function start() {
  const saved = sessionStorage.getItem(THREAD_KEY);
  try {
    if (saved) {
      try {
        await resumeConversation(saved);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        await createConversation();
      }
    } else {
      await createConversation();
    }
  } catch (err) {
    showError(politeError(err));
  }
  document.body.dataset.ready = "true";
  input.focus();
}

start();
