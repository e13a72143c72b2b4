// Reviewer console: token sign-in; the queue's views (open, mine, resolved) with one search
// box; one ticket's full context with both sides of the conversation; claim, approve (with a
// second click beyond the policy's limits) or deny with a note; and the audit trail in plain
// words, the technical record folded under each line, with the hash chain's status.

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

const VIEWS = {
  open: { list: "Open tickets", empty: "No open tickets. Everything is handled." },
  mine: {
    list: "Tickets you claimed",
    empty: "You have not claimed any open ticket. Claim one to keep it here.",
  },
  resolved: { list: "Resolved tickets", empty: "No ticket has been resolved yet." },
};
const VIEW_NAMES = { open: "Open", mine: "Mine", resolved: "Resolved" };
const PAGE = 50;
const SEARCH_DELAY_MS = 250;
const REFRESH_MS = 5000; // the queue refreshes itself this often while the page is shown

const $ = (id) => document.getElementById(id);
const FRESH = {
  me: null,
  view: "open",
  q: "",
  tickets: [],
  counts: null,
  nextOffset: null,
  selected: null,
  flash: null,
  draft: "",
  amountDraft: null,
};
const state = { token: null, ...FRESH };
const same = (a, b) => a !== null && b !== null && String(a) === String(b);
const actor = () => `reviewer:${state.me}`;
const reviewerName = (who) => String(who || "").replace(/^reviewer:/, "");

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
  clearTimeout(state.searchTimer);
  Object.assign(state, { token: null, ...FRESH });
  $("ticket-list").replaceChildren();
  $("search").value = "";
  renderViews();
  resetDetail();
  showLogin(message);
}

async function enter(token) {
  const me = await requestJson("/v1/me", { token });
  state.token = token;
  state.me = me.reviewer;
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

/** Load the current view (and search) from the start, or its next page with `more`. */
async function loadTickets({ more = false, again = false } = {}) {
  const queueError = $("queue-error");
  // `again`: the same list, fresh (as many tickets as are shown, from the top).
  const limit = again ? Math.max(PAGE, state.tickets.length) : PAGE;
  const params = new URLSearchParams({ view: state.view, limit: String(limit) });
  if (state.q) params.set("q", state.q);
  if (more && state.nextOffset !== null) params.set("offset", String(state.nextOffset));
  // Only the latest request may fill the list: typing fires several.
  const asked = (state.listLoads = (state.listLoads || 0) + 1);
  let page;
  try {
    page = await api(`/v1/tickets?${params}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    if (asked !== state.listLoads) return;
    queueError.textContent = politeError(err);
    queueError.hidden = false;
    return;
  }
  if (asked !== state.listLoads) return;
  queueError.hidden = true;
  state.tickets = more ? [...state.tickets, ...page.tickets] : page.tickets;
  state.counts = page.counts;
  state.nextOffset = page.next_offset ?? null;
  renderQueue();
  if (state.selected === null && state.tickets.length) await selectTicket(state.tickets[0].id);
}

/** After a view or a search changed the list: show its first ticket unless one shown is in it. */
async function followList() {
  if (state.tickets.some((t) => same(t.id, state.selected))) return;
  if (state.tickets.length) {
    await selectTicket(state.tickets[0].id);
  } else {
    state.selected = null;
    resetDetail();
  }
}

function renderViews() {
  for (const tab of document.querySelectorAll(".queue-view")) {
    const selected = tab.dataset.view === state.view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    const count = state.counts?.[tab.dataset.view];
    $(`count-${tab.dataset.view}`).textContent = count === undefined ? "0" : String(count);
  }
  $("ticket-list").setAttribute("aria-label", VIEWS[state.view].list);
}

function emptyWords() {
  if (!state.q) return VIEWS[state.view].empty;
  const elsewhere = Object.keys(VIEW_NAMES)
    .filter((v) => v !== state.view && state.counts?.[v])
    .map((v) => `${VIEW_NAMES[v]} (${state.counts[v]})`);
  return (
    `No ${VIEW_NAMES[state.view].toLowerCase()} ticket matches “${state.q}”.` +
    (elsewhere.length ? ` Found in ${elsewhere.join(" and ")}.` : "")
  );
}

function renderQueue() {
  renderViews();
  const empty = $("queue-empty");
  empty.textContent = state.tickets.length ? "" : emptyWords();
  empty.hidden = state.tickets.length > 0;
  $("more").hidden = state.nextOffset === null;
  // A refresh must not take the keyboard away from the ticket the reviewer is on.
  const focused = document.activeElement?.closest?.("#ticket-list [data-ticket]");
  $("ticket-list").replaceChildren(...state.tickets.map(queueItem));
  if (focused) {
    const again = $("ticket-list").querySelector(
      `[data-ticket="${CSS.escape(focused.dataset.ticket)}"]`,
    );
    again?.focus();
  }
}

function queueItem(t) {
  const reasons = byImportance(splitReasons(t.reason));
  const resolved = t.status !== "open";
  const who = [t.customer_email || "unknown customer", t.order_id].filter(Boolean).join(" · ");
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "ticket-item",
        "aria-current": same(t.id, state.selected) ? "true" : "false",
        "data-ticket": t.reference,
        onclick: () => selectTicket(t.id, { focus: true }),
      },
      h(
        "span",
        { class: "ticket-item-top" },
        h("span", { class: "ticket-item-ref" }, t.reference),
        resolved && t.resolved_at
          ? h(
              "span",
              { class: "ticket-item-time", title: formatTime(t.resolved_at) },
              `resolved ${timeAgo(t.resolved_at)}`,
            )
          : h(
              "span",
              { class: "ticket-item-time", title: formatTime(t.created_at) },
              timeAgo(t.created_at),
            ),
      ),
      resolved
        ? h(
            "span",
            { class: "ticket-item-status" },
            statusBadge(t.status),
            t.refund_amount ? ` ${t.refund_amount} USDC` : "",
            t.resolved_by ? ` by ${reviewerName(t.resolved_by)}` : "",
          )
        : h(
            "span",
            { class: "ticket-item-reason" },
            reasons.length ? reasonWords(reasons[0]) : "Needs review",
          ),
      h("span", { class: "ticket-item-who" }, who),
      !resolved && t.assignee
        ? h(
            "span",
            { class: "ticket-item-claim" },
            t.assignee === actor() ? "Claimed by you" : `Claimed by ${reviewerName(t.assignee)}`,
          )
        : null,
    ),
  );
}

async function switchView(view) {
  if (!VIEWS[view] || view === state.view) return;
  state.view = view;
  state.nextOffset = null;
  renderViews();
  await loadTickets();
  await followList();
}

const tabs = () => [...document.querySelectorAll(".queue-view")];
for (const tab of tabs()) {
  tab.addEventListener("click", () => switchView(tab.dataset.view));
  // Arrow keys move between the views, as in any tab list.
  tab.addEventListener("keydown", (event) => {
    const all = tabs();
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = all[(all.indexOf(tab) + step + all.length) % all.length];
    next.focus();
    switchView(next.dataset.view);
  });
}

async function search(text) {
  clearTimeout(state.searchTimer);
  const q = text.trim();
  if (q === state.q) return;
  state.q = q;
  state.nextOffset = null;
  await loadTickets();
  await followList();
}

$("search").addEventListener("input", (event) => {
  clearTimeout(state.searchTimer);
  const text = event.target.value;
  state.searchTimer = setTimeout(() => search(text), SEARCH_DELAY_MS);
});
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  search($("search").value);
});
$("refresh").addEventListener("click", () => loadTickets());
// New escalations and other reviewers' claims and resolutions show up without a click.
setInterval(async () => {
  if (!state.token || document.hidden || state.refreshing) return;
  state.refreshing = true;
  try {
    await loadTickets({ again: true });
  } finally {
    state.refreshing = false;
  }
}, REFRESH_MS);
$("more").addEventListener("click", () => loadTickets({ more: true }));

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
  if (!same(id, state.selected)) Object.assign(state, { flash: null, draft: "", amountDraft: null });
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
    claimBox(t),
  );

  const left = h(
    "div",
    { class: "stack" },
    whyPanel(reasons, ctx),
    triedPanel(ctx),
    signalsPanel(ctx.injection_signals || []),
    conversationPanel(t, ctx),
  );
  const right = h("div", { class: "stack" }, orderPanel(ctx), decisionPanel(t, ctx));

  $("detail").replaceChildren(
    head,
    state.flash || "",
    h("div", { class: "detail-grid" }, left, right),
    auditPanel(t),
  );
}

// ---- claiming -------------------------------------------------------------------------------

function claimBox(t) {
  if (t.status !== "open") return null;
  const button = (label, action) =>
    h(
      "button",
      {
        type: "button",
        class: "btn btn-ghost btn-small",
        onclick: (event) => claim(t, action, event.currentTarget),
      },
      label,
    );
  let body;
  if (!t.assignee) {
    body = [h("span", { class: "muted" }, "Nobody has claimed it"), button("Claim", "claim")];
  } else if (t.assignee === actor()) {
    body = [h("span", { class: "badge badge-ok" }, "Claimed by you"), button("Release", "release")];
  } else {
    body = [
      h("span", { class: "badge badge-open" }, `Claimed by ${reviewerName(t.assignee)}`),
      button("Take over", "take_over"),
    ];
  }
  return h("div", { class: "claim-box", "data-testid": "claim" }, ...body);
}

async function claim(t, action, button) {
  button.disabled = true;
  const path = action === "release" ? "release" : "claim";
  try {
    await api(`/v1/tickets/${encodeURIComponent(t.id)}/${path}`, {
      method: "POST",
      body: action === "take_over" ? { take_over: true } : undefined,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    state.flash = h(
      "div",
      { class: "alert alert-warn result", role: "alert" },
      politeError(err),
    );
  }
  await loadTickets();
  await selectTicket(t.id);
}

// ---- the conversation -----------------------------------------------------------------------

const ROLE_WORDS = { customer: "Customer", agent: "Agent" };

function conversationPanel(t, ctx) {
  const conversation = t.conversation || {
    source: "ticket",
    messages: ctx.transcript || [],
    omitted: 0,
  };
  const notes = [];
  if (conversation.source === "ticket") {
    notes.push("As recorded when the ticket was opened.");
  }
  if (conversation.omitted) {
    notes.push(`${conversation.omitted} earlier messages are not shown.`);
  }
  return h(
    "section",
    { class: "card panel" },
    h("h3", {}, "Conversation", h("span", { class: "panel-sub" }, "customer and agent, in order")),
    notes.length ? h("p", { class: "hint conversation-note" }, notes.join(" ")) : null,
    h(
      "ol",
      { class: "transcript", "data-testid": "transcript" },
      conversation.messages.map((m) =>
        h(
          "li",
          { class: `t-${m.role}`, "data-role": m.role },
          h(
            "span",
            { class: "t-role" },
            m.role === "reviewer"
              ? `Reviewer ${reviewerName(m.author)}, sent as the agent`
              : ROLE_WORDS[m.role] || m.role,
          ),
          m.text,
        ),
      ),
    ),
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
        ["By", r.resolved_by && reviewerName(r.resolved_by)],
        ["At", r.resolved_at && formatTime(r.resolved_at)],
        ["Note", r.note],
      ]),
    );
  }
  if (t.assignee && t.assignee !== actor()) {
    return panel(
      "Your decision",
      h(
        "p",
        { class: "alert alert-info" },
        `${reviewerName(t.assignee)} has claimed this ticket. Take it over to decide it.`,
      ),
    );
  }
  const left = ctx.order?.unrefunded_usdc;
  const budget = t.budget;
  const amount = h("input", {
    id: "resolve-amount",
    name: "amount",
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    value: state.amountDraft ?? proposedAmount(ctx),
    "aria-describedby": "resolve-amount-hint resolve-budget",
  });
  // Beyond the policy's limits the first click only warns; a second click sends.
  const warning = h("div", {
    class: "alert alert-warn limit-warning",
    role: "alert",
    "data-testid": "limit-warning",
    hidden: true,
  });
  const approve = h(
    "button",
    { type: "submit", class: "btn btn-approve", name: "decision", value: "approve" },
    "Approve refund",
  );
  let confirming = null; // the amount the reviewer was warned about
  const unconfirm = () => {
    confirming = null;
    warning.hidden = true;
    approve.textContent = "Approve refund";
  };
  amount.addEventListener("input", () => {
    state.amountDraft = amount.value;
    unconfirm();
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
      budget
        ? h(
            "p",
            { class: "hint", id: "resolve-budget", "data-testid": "budget" },
            `Per-refund cap ${budget.per_refund_cap} USDC; today's refund budget: `,
            h("strong", {}, `${budget.remaining_today} of ${budget.daily_cap} USDC left`),
            ".",
          )
        : null,
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
    warning,
    h(
      "div",
      { class: "resolve-actions" },
      approve,
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
    if (decision === "approve") {
      const over = beyondLimits(body.amount, budget);
      if (over.length && confirming !== body.amount) {
        confirming = body.amount;
        warning.replaceChildren(...limitWarning(body.amount, over));
        warning.hidden = false;
        approve.textContent = "Approve anyway";
        return;
      }
      // Warned (here or by the service, whose budget may be fresher): approve anyway.
      if (confirming === body.amount) body.confirm_beyond_limits = true;
    } else {
      unconfirm();
    }
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    await resolve(t, body, fail, (message) => {
      confirming = body.amount;
      warning.replaceChildren(
        h("p", {}, h("strong", {}, message)),
        h("p", {}, "Check the amount, then select “Approve anyway” to send it."),
      );
      warning.hidden = false;
      approve.textContent = "Approve anyway";
    });
    for (const button of form.querySelectorAll("button")) button.disabled = false;
  });
  return h("section", { class: "card panel" }, h("h3", {}, "Your decision"), form);
}

/** The policy limits an approval of `value` USDC goes beyond, in words. */
function beyondLimits(value, budget) {
  if (!budget) return [];
  const over = [];
  if (compareDecimal(value, budget.per_refund_cap) > 0) {
    over.push(`the per-refund cap of ${budget.per_refund_cap} USDC`);
  }
  if (compareDecimal(value, budget.remaining_today) > 0) {
    over.push(
      `what is left of today's refund budget (${budget.remaining_today} of ${budget.daily_cap} USDC)`,
    );
  }
  return over;
}

/** A typed amount as the API writes amounts: "30" -> "30.00", "012.5" -> "12.50". */
function usdc(value) {
  const text = String(value).replace(/^0+(?=\d)/, "");
  return formatAmount(text.includes(".") ? text : `${text}.00`);
}

function limitWarning(value, over) {
  return [
    h("p", {}, h("strong", {}, `${usdc(value)} USDC is more than ${over.join(" and more than ")}.`)),
    h(
      "p",
      {},
      "The agent would not refund this on its own, and MoltPe's wallet policy may refuse it. " +
        "Check the amount, then select “Approve anyway” to send it.",
    ),
  ];
}

async function resolve(ticket, body, fail, beyond) {
  let result;
  try {
    result = await api(`/v1/tickets/${encodeURIComponent(ticket.id)}/resolve`, {
      method: "POST",
      body,
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    if (err instanceof ApiError && err.code === "beyond_limits") return beyond(err.message);
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
      told,
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

function chainBadge(chain) {
  return chain?.ok
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
}

/** One audit event as recorded: type, seq, actor, time, hashes and the JSON payload. */
function technical(e) {
  return h(
    "div",
    { class: "tech-event", "data-testid": "audit-event" },
    facts([
      ["Event", h("code", { class: "chip" }, e.event_type)],
      ["Seq", e.seq == null ? "not chained yet" : String(e.seq)],
      ["Actor", e.actor],
      ["Time", e.ts],
      ["Conversation", e.thread_id],
      ["Order", e.order_id],
      ["Hash", h("code", { class: "hash" }, e.hash)],
      ["Previous", h("code", { class: "hash" }, e.prev_hash)],
    ]),
    h("pre", {}, JSON.stringify(e.payload, null, 2)),
  );
}

function auditPanel(t) {
  // Trail lines name chained events by seq; an event still waiting for the chainer has
  // none yet (it is counted, and shown once chained).
  const all = t.audit || [];
  const events = new Map(all.filter((e) => e.seq != null).map((e) => [e.seq, e]));
  const lines = t.trail || [];
  return h(
    "section",
    { class: "card panel audit-panel", "aria-label": "Audit trail" },
    h(
      "div",
      { class: "audit-head" },
      h("h3", {}, `Audit trail · ${all.length} events`),
      chainBadge(t.audit_chain),
    ),
    lines.length
      ? h(
          "ol",
          { class: "trail", "data-testid": "trail" },
          lines.map((line) => {
            const recorded = line.seqs.map((seq) => events.get(seq)).filter(Boolean);
            const kinds = [...new Set(recorded.map((e) => e.event_type))].join(", ");
            return h(
              "li",
              { class: `trail-line tone-${line.tone}`, "data-testid": "trail-line" },
              h("span", { class: "trail-dot", "aria-hidden": "true" }),
              h(
                "div",
                { class: "trail-body" },
                h("p", { class: "trail-words" }, line.words),
                h(
                  "p",
                  { class: "trail-meta" },
                  h("time", { datetime: line.ts }, formatTime(line.ts)),
                  line.elsewhere
                    ? h("span", { class: "badge badge-muted" }, "in another conversation")
                    : null,
                ),
                h(
                  "details",
                  { class: "trail-tech" },
                  h(
                    "summary",
                    {},
                    `Technical detail (${recorded.length === 1 ? kinds : `${recorded.length} events: ${kinds}`})`,
                  ),
                  recorded.map(technical),
                ),
              ),
            );
          }),
        )
      : h("p", { class: "muted", style: "margin:0" }, "Nothing recorded yet."),
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
