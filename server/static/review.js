// Reviewer console: token sign-in, the open tickets, one ticket's full context, approve/deny
// with a note, and the conversation's audit trail with the hash chain's verification status.

import {
  AMOUNT_RE,
  ApiError,
  compareDecimal,
  formatAmount,
  formatTime,
  h,
  politeError,
  requestJson,
  timeAgo,
} from "./common.js";

const TOKEN_KEY = "refund-agent.reviewer-token";

// Reason codes (policy gate, refund node, escalate node) in words.
const REASONS = {
  over_per_tx_cap: "More than a single refund may move (per-transaction cap)",
  over_daily_budget: "More than what is left of today's refund budget",
  outside_window: "Order is older than the refund window",
  exceeds_order: "More than what is left to refund on the order",
  velocity: "Many recent refunds for this customer",
  repeated_failed_lookups: "Repeated failed order lookups (possible enumeration)",
  injection_suspected: "Messages look like an attempt to manipulate the agent",
  customer_requested_human: "The customer asked for a person",
  refund_policy_violation: "MoltPe refused the refund under its wallet policy",
  refund_failed: "The refund failed at MoltPe",
  refund_outcome_unknown:
    "MoltPe gave no definite answer: the refund may or may not have gone through",
  already_refunded: "Order already fully refunded",
  invalid_amount: "The requested amount is not valid",
  refund_in_progress: "Another refund of this order is still settling",
  order_not_found: "No such order for this customer",
  needs_review: "Needs a person's judgement",
};

const SIGNALS = {
  override_instructions: "Tries to override the agent's rules or limits",
  role_play: "Asks the agent to pretend or play a role",
  fake_authority: "Claims authority it cannot prove (admin, manager, developer)",
  split_refund: "Asks to split a refund to get around limits",
  redirect_payment: "Asks to send money somewhere other than the original payer",
  prompt_leak: "Asks for the agent's instructions",
  wallet_address: "Contains a wallet address",
  encoded_instructions: "Contains encoded (base64) instructions",
};

const DETAIL_LABELS = {
  requested: "Requested",
  unrefunded: "Unrefunded",
  age_days: "Order age (days)",
  remaining_daily_budget: "Budget left today",
};

const $ = (id) => document.getElementById(id);
const state = { token: null, tickets: [], selected: null, flash: null, draft: "" };

const reasonWords = (code) => REASONS[code] || code.replaceAll("_", " ");
const signalWords = (code) => {
  if (SIGNALS[code]) return SIGNALS[code];
  if (code.startsWith("model:")) return `Flagged by the model: ${code.slice(6)}`;
  if (code.startsWith("order_text:")) {
    const what = SIGNALS[code.slice(11)] || code.slice(11).replaceAll("_", " ");
    return `The order's own text (product name) carries instructions: ${what}`;
  }
  return code.replaceAll("_", " ");
};
// The reasons that most change how a reviewer reads a ticket come first.
const FIRST = [
  "injection_suspected",
  "repeated_failed_lookups",
  "refund_outcome_unknown",
  "refund_policy_violation",
  "refund_failed",
];
const rank = (code) => (FIRST.includes(code) ? FIRST.indexOf(code) : FIRST.length);
const byImportance = (codes) => [...codes].sort((a, b) => rank(a) - rank(b));
const splitReasons = (text) =>
  (text || "")
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);

// ---- session --------------------------------------------------------------------------------

async function api(path, options = {}) {
  try {
    return await requestJson(path, { ...options, token: state.token });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut("Your session has ended or the token is no longer valid. Please sign in again.");
    }
    throw err;
  }
}

function showLogin(message = "") {
  $("console").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  const error = $("login-error");
  error.textContent = message;
  error.hidden = !message;
  $("token").focus();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { token: null, tickets: [], selected: null, flash: null, draft: "" });
  $("ticket-list").replaceChildren();
  resetDetail();
  showLogin(message);
}

async function enter(token) {
  const me = await requestJson("/v1/me", { token });
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("reviewer").textContent = me.reviewer;
  $("login").hidden = true;
  $("session").hidden = false;
  $("console").hidden = false;
  await loadTickets();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) return showLogin("Enter your reviewer token.");
  const button = event.submitter;
  if (button) button.disabled = true;
  try {
    await enter(token);
    $("token").value = "";
  } catch (err) {
    const words =
      err instanceof ApiError && err.status === 401
        ? "That token was not accepted. Check it and try again."
        : politeError(err);
    showLogin(words);
  } finally {
    if (button) button.disabled = false;
  }
});

$("sign-out").addEventListener("click", () => signOut());

// ---- the queue ------------------------------------------------------------------------------

async function loadTickets() {
  const queueError = $("queue-error");
  try {
    const { tickets } = await api("/v1/tickets?status=open");
    state.tickets = tickets;
    queueError.hidden = true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    queueError.textContent = politeError(err);
    queueError.hidden = false;
    return;
  }
  renderQueue();
  if (state.selected === null && state.tickets.length) await selectTicket(state.tickets[0].id);
}

function renderQueue() {
  $("open-count").textContent = String(state.tickets.length);
  $("queue-empty").hidden = state.tickets.length > 0;
  $("ticket-list").replaceChildren(
    ...state.tickets.map((t) => {
      const reasons = byImportance(splitReasons(t.reason));
      return h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "ticket-item",
            "aria-current": String(t.id) === String(state.selected) ? "true" : "false",
            "data-ticket": t.reference,
            onclick: () => selectTicket(t.id, { focus: true }),
          },
          h(
            "span",
            { class: "ticket-item-top" },
            h("span", { class: "ticket-item-ref" }, t.reference),
            h("span", { class: "ticket-item-time" }, timeAgo(t.created_at)),
          ),
          h(
            "span",
            { class: "ticket-item-reason" },
            reasons.length ? reasonWords(reasons[0]) : "Needs review",
          ),
          h(
            "span",
            { class: "ticket-item-who" },
            [t.customer_email || "unknown customer", t.order_id].filter(Boolean).join(" · "),
          ),
        ),
      );
    }),
  );
}

$("refresh").addEventListener("click", () => loadTickets());

// ---- one ticket -----------------------------------------------------------------------------

function resetDetail() {
  $("detail").replaceChildren(
    h(
      "div",
      { class: "card detail-empty" },
      h("p", {}, "Select a ticket to see the conversation, the order and why it was escalated."),
    ),
  );
}

async function selectTicket(id, { focus = false } = {}) {
  // Selecting the ticket that is already loading joins that load instead of starting a
  // second one whose later answer would replace the form (and the reviewer's focus).
  if (state.loading && String(state.loading.id) === String(id)) {
    await state.loading.done;
    if (focus && String(id) === String(state.selected)) $("detail-title").focus();
    return;
  }
  const done = loadTicket(id);
  state.loading = { id, done };
  try {
    await done;
  } finally {
    if (state.loading?.done === done) state.loading = null;
  }
  if (focus && String(id) === String(state.selected)) $("detail-title").focus();
}

async function loadTicket(id) {
  if (String(id) !== String(state.selected)) Object.assign(state, { flash: null, draft: "" });
  state.selected = id;
  // Only the latest load may render: an earlier, slower answer must not replace it.
  const load = (state.loads = (state.loads || 0) + 1);
  renderQueue();
  let ticket;
  try {
    ticket = await api(`/v1/tickets/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    $("detail").replaceChildren(
      h("p", { class: "alert alert-error", role: "alert" }, politeError(err)),
    );
    return;
  }
  if (load !== state.loads) return; // another load (maybe of another ticket) came later
  renderDetail(ticket);
}

function panel(title, ...children) {
  return h("section", { class: "card panel" }, h("h3", {}, title), ...children);
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))),
  );
}

function statusBadge(status, testid = null) {
  const css =
    { open: "badge-open", approved: "badge-ok", denied: "badge-bad" }[status] || "badge-muted";
  return h("span", { class: `badge ${css}`, "data-testid": testid }, status);
}

function renderDetail(t) {
  // The order as it is now (after any refunds since the escalation), else as it was then.
  const ctx = { ...(t.context || {}), order: t.order_now || (t.context || {}).order };
  const reasons = byImportance(ctx.reasons?.length ? ctx.reasons : splitReasons(t.reason));
  const head = h(
    "div",
    { class: "detail-head" },
    h(
      "div",
      {},
      h(
        "h2",
        { id: "detail-title", tabindex: "-1" },
        t.reference,
        statusBadge(t.status, "ticket-status"),
      ),
      h(
        "p",
        { class: "detail-meta" },
        h(
          "span",
          {},
          t.customer_email || ctx.customer_email || "unknown customer",
          " ",
          ctx.identity_verified
            ? h("span", { class: "badge badge-ok" }, "verified")
            : h("span", { class: "badge badge-muted" }, "not verified"),
        ),
        t.order_id && h("span", {}, "Order ", h("strong", {}, t.order_id)),
        h("span", {}, "Opened ", formatTime(t.created_at)),
      ),
    ),
  );

  const left = h(
    "div",
    { class: "stack" },
    whyPanel(reasons, ctx),
    triedPanel(ctx),
    signalsPanel(ctx.injection_signals || []),
    panel(
      "Conversation",
      h(
        "ol",
        { class: "transcript", "data-testid": "transcript" },
        (ctx.transcript || []).map((m) =>
          h(
            "li",
            { class: m.role === "customer" ? "t-customer" : "t-agent" },
            h("span", { class: "t-role" }, m.role === "customer" ? "Customer" : "Agent"),
            m.text,
          ),
        ),
      ),
    ),
  );
  const right = h("div", { class: "stack" }, orderPanel(ctx), decisionPanel(t, ctx));

  $("detail").replaceChildren(
    head,
    state.flash || "",
    h("div", { class: "detail-grid" }, left, right),
    auditPanel(t.audit || [], t.audit_chain),
  );
}

function whyPanel(reasons, ctx) {
  const decision = ctx.decision;
  const details = decision?.details || {};
  return panel(
    "Why it was escalated",
    h(
      "ul",
      { class: "reason-list", "data-testid": "reasons" },
      reasons.map((code) =>
        h(
          "li",
          {},
          h("span", { class: "reason-words" }, reasonWords(code)),
          h("span", {}, h("code", { class: "chip" }, code)),
        ),
      ),
    ),
    h(
      "p",
      { class: "reason-note" },
      "Customer asked for ",
      h(
        "strong",
        {},
        ctx.requested_amount ? `${formatAmount(ctx.requested_amount)} USDC` : "a full refund",
      ),
      ctx.refund_reason ? ` (reason: ${ctx.refund_reason.replaceAll("_", " ")})` : "",
      ". ",
      decision &&
        `The policy gate${decision.policy_version ? ` (version ${decision.policy_version})` : ""} decided: ${decision.action}.`,
      !decision &&
        ctx.previous_decision &&
        `Earlier in the conversation the policy gate decided: ${ctx.previous_decision.action}` +
          ` (${(ctx.previous_decision.reasons || []).map(reasonWords).join("; ")}).`,
    ),
    Object.keys(details).length
      ? h(
          "div",
          { style: "margin-top:12px" },
          facts(
            Object.entries(details).map(([key, value]) => [
              DETAIL_LABELS[key] || key.replaceAll("_", " "),
              formatAmount(value),
            ]),
          ),
        )
      : null,
  );
}

function triedPanel(ctx) {
  const attempted = ctx.attempted_action;
  const error = ctx.moltpe_error;
  const body = [];
  if (attempted) {
    body.push(
      h(
        "p",
        { style: "margin:0 0 10px" },
        "The agent tried to refund ",
        h("strong", {}, `${formatAmount(attempted.amount) || "?"} USDC`),
        attempted.order_id ? ` on ${attempted.order_id}` : "",
        " through MoltPe. ",
        attempted.status && h("span", { class: "badge badge-bad" }, attempted.status),
      ),
    );
  } else {
    body.push(
      h(
        "p",
        { class: "muted", style: "margin:0" },
        "No refund was attempted: the request was stopped before any money moved.",
      ),
    );
  }
  if (error) {
    body.push(
      h(
        "p",
        { class: "alert alert-error" },
        "MoltPe refused: ",
        h("code", {}, error.code || "error"),
        error.reason ? ` (${error.reason})` : "",
      ),
    );
  }
  if (ctx.failed_lookups)
    body.push(
      h("p", { class: "reason-note" }, `Failed order lookups in this chat: ${ctx.failed_lookups}`),
    );
  return panel("What the agent tried", ...body);
}

function signalsPanel(signals) {
  if (!signals.length) {
    return panel(
      "Injection signals",
      h("p", { class: "muted", style: "margin:0" }, "None detected in this conversation."),
    );
  }
  return panel(
    "Injection signals",
    h(
      "ul",
      { class: "signals" },
      signals.map((code) =>
        h(
          "li",
          { class: "alert alert-warn" },
          h("strong", {}, signalWords(code)),
          " ",
          h("code", { class: "chip" }, code),
        ),
      ),
    ),
  );
}

function orderPanel(ctx) {
  const order = ctx.order;
  if (!order) {
    return panel(
      "Order",
      h("p", { class: "muted", style: "margin:0" }, "No order was verified in this conversation."),
    );
  }
  return h(
    "section",
    { class: "card panel", "data-testid": "order" },
    h("h3", {}, "Order", h("span", { class: "chip" }, order.id)),
    h("p", { class: "order-amount" }, order.amount_usdc, " ", h("small", {}, "USDC paid")),
    facts([
      ["Item", order.description],
      ["Refunded", `${order.refunded_usdc} USDC`],
      ["Unrefunded", h("strong", {}, `${order.unrefunded_usdc} USDC`)],
      ["Placed", `${formatTime(order.created_at)} (${timeAgo(order.created_at)})`],
      ["Refund status", order.refund_status],
    ]),
  );
}

/** The amount to propose: what was asked for, capped to what is left on the order. */
// Reasons a person was asked because of the amount itself: the reviewer types the
// amount they approve; nothing is pre-filled for them to confirm by reflex.
const AMOUNT_REASONS = ["over_per_tx_cap", "over_daily_budget", "exceeds_order"];

function proposedAmount(ctx) {
  const left = ctx.order?.unrefunded_usdc;
  const asked = ctx.requested_amount;
  const reasons = ctx.reasons || ctx.decision?.reasons || [];
  if (!asked || reasons.some((r) => AMOUNT_REASONS.includes(r))) return "";
  if (left && compareDecimal(asked, left) > 0) return "";
  return formatAmount(asked);
}

function decisionPanel(t, ctx) {
  if (t.status !== "open") {
    const r = t.resolution || {};
    return panel(
      "Decision",
      facts([
        ["Outcome", statusBadge(t.status)],
        ["By", r.resolved_by],
        ["At", r.resolved_at && formatTime(r.resolved_at)],
        ["Note", r.note],
      ]),
    );
  }
  const left = ctx.order?.unrefunded_usdc;
  const amount = h("input", {
    id: "resolve-amount",
    name: "amount",
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    value: proposedAmount(ctx),
    "aria-describedby": "resolve-amount-hint",
  });
  const note = h("textarea", {
    id: "resolve-note",
    name: "note",
    rows: "3",
    required: true,
    "aria-describedby": "resolve-note-hint",
  });
  note.value = state.draft; // kept when MoltPe refused and the form is shown again
  note.addEventListener("input", () => {
    state.draft = note.value;
  });
  const error = h("p", { class: "alert alert-error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "resolve-form", novalidate: true },
    h(
      "div",
      { class: "field" },
      h("label", { for: "resolve-amount" }, "Refund amount (USDC)"),
      amount,
      h(
        "p",
        { class: "hint", id: "resolve-amount-hint" },
        `Asked for ${ctx.requested_amount ? formatAmount(ctx.requested_amount) + " USDC" : "a full refund"}`,
        left ? `; ${formatAmount(left)} USDC is left to refund on this order.` : ".",
      ),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "resolve-note" }, "Note (required)"),
      note,
      h(
        "p",
        { class: "hint", id: "resolve-note-hint" },
        "Kept in the audit log with your decision.",
      ),
    ),
    error,
    h(
      "div",
      { class: "resolve-actions" },
      h(
        "button",
        { type: "submit", class: "btn btn-approve", name: "decision", value: "approve" },
        "Approve refund",
      ),
      h(
        "button",
        { type: "submit", class: "btn btn-deny", name: "decision", value: "deny" },
        "Deny",
      ),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter?.value || "approve";
    const fail = (message, field) => {
      error.textContent = message;
      error.hidden = false;
      field?.focus();
    };
    error.hidden = true;
    const body = { decision, note: note.value.trim() };
    if (decision === "approve") {
      const value = amount.value.trim();
      if (!AMOUNT_RE.test(value) || compareDecimal(value, "0") <= 0) {
        return fail("Enter an amount in USDC, for example 40 or 12.50.", amount);
      }
      if (left && compareDecimal(value, left) > 0) {
        return fail(`That is more than the ${left} USDC left to refund on this order.`, amount);
      }
      body.amount = value;
    }
    if (!body.note) return fail("Add a note explaining your decision.", note);
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    await resolve(t, body, fail);
    for (const button of form.querySelectorAll("button")) button.disabled = false;
  });
  return h("section", { class: "card panel" }, h("h3", {}, "Your decision"), form);
}

async function resolve(ticket, body, fail) {
  let result;
  try {
    result = await api(`/v1/tickets/${encodeURIComponent(ticket.id)}/resolve`, {
      method: "POST",
      body,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    if (err instanceof ApiError && err.code === "ticket_not_open") {
      state.flash = h(
        "div",
        { class: "alert alert-warn result", role: "status" },
        "This ticket was already resolved.",
      );
    } else {
      return fail(politeError(err));
    }
  }
  if (result) state.flash = resultBox(result);
  await loadTickets();
  await selectTicket(ticket.id);
  $("result")?.focus();
}

function resultBox({ ticket, refund, customer_message: message }) {
  const told = message ? h("p", {}, "Sent to the customer: ", h("em", {}, message)) : null;
  let box;
  if (refund?.tx_hash) {
    box = h(
      "div",
      { class: "alert alert-ok result" },
      h("p", {}, h("strong", {}, `Refund sent: ${refund.amount} USDC`)),
      h(
        "p",
        {},
        "Transaction ",
        h("code", { class: "tx", "data-testid": "result-tx" }, refund.tx_hash),
      ),
      told,
    );
  } else if (ticket?.status === "open") {
    box = h(
      "div",
      { class: "alert alert-error result" },
      h(
        "p",
        {},
        h("strong", {}, "MoltPe refused the refund"),
        refund?.error_code ? [": ", h("code", {}, refund.error_code)] : "",
        refund?.error_reason ? ` (${refund.error_reason})` : "",
      ),
      h("p", {}, "No money moved and the ticket is still open. Try a smaller amount, or deny it."),
    );
  } else if (ticket?.status === "denied") {
    box = h(
      "div",
      { class: "alert alert-info result" },
      h("p", {}, h("strong", {}, "Request denied.")),
      told,
    );
  } else {
    box = h(
      "div",
      { class: "alert alert-warn result" },
      h(
        "p",
        {},
        h("strong", {}, `Ticket ${ticket?.status || "updated"}`),
        refund?.status ? ` (refund ${refund.status})` : "",
      ),
      told,
    );
  }
  box.id = "result";
  box.tabIndex = -1;
  box.setAttribute("role", "status");
  box.dataset.testid = "resolve-result";
  return box;
}

// ---- audit trail ----------------------------------------------------------------------------

function summarise(payload) {
  if (!payload || typeof payload !== "object") return String(payload ?? "");
  return Object.entries(payload)
    .filter(([, v]) => v !== null && typeof v !== "object")
    .slice(0, 4)
    .map(([k, v]) => `${k}=${String(v).length > 28 ? String(v).slice(0, 27) + "…" : v}`)
    .join("  ");
}

function auditPanel(events, chain) {
  const badge = chain?.ok
    ? h(
        "span",
        { class: "badge badge-ok", "data-testid": "chain-status" },
        h("span", { class: "dot" }),
        `Chain intact (${chain.checked} events)`,
      )
    : h(
        "span",
        { class: "badge badge-bad", "data-testid": "chain-status" },
        h("span", { class: "dot" }),
        `Chain broken: ${chain?.problem || "verification failed"}`,
      );
  return h(
    "section",
    { class: "card panel audit-panel", "aria-label": "Audit trail" },
    h("div", { class: "audit-head" }, h("h3", {}, `Audit trail · ${events.length} events`), badge),
    h(
      "div",
      { class: "audit-table-wrap" },
      h(
        "table",
        { class: "audit-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "#"),
            h("th", { class: "when" }, "When"),
            h("th", {}, "Event"),
            h("th", {}, "Actor"),
            h("th", {}, "Details"),
          ),
        ),
        h(
          "tbody",
          {},
          events.map((e) =>
            h(
              "tr",
              {},
              h("td", { class: "num" }, e.seq),
              h("td", { class: "when" }, formatTime(e.ts)),
              h("td", {}, h("code", { class: "chip" }, e.event_type)),
              h("td", {}, e.actor),
              h(
                "td",
                { class: "details" },
                h(
                  "details",
                  {},
                  h("summary", {}, summarise(e.payload) || "payload"),
                  h("pre", {}, JSON.stringify(e.payload, null, 2)),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (!saved) {
    showLogin();
  } else {
    try {
      await enter(saved);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        signOut("Your session has ended or the token is no longer valid. Please sign in again.");
      } else {
        showLogin(politeError(err));
      }
    }
  }
  document.body.dataset.ready = "true";
}

start();
