// Small helpers shared by the chat page and the reviewer console. No framework.

/**
 * Build a DOM element: h("p", {class: "x", onclick: fn}, "text", child, [more]).
 * Strings become text nodes (never HTML), null/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An API failure with the HTTP status and the server's error code. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Turn a non-2xx response into an ApiError, reading `{"error": {code, message}}` if present. */
export async function apiError(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "Request failed";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status text
  }
  const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new ApiError(response.status, code, message, Number.isFinite(retry) ? retry : null);
}

/** fetch() that parses JSON and throws ApiError on failure (network errors get status 0). */
export async function requestJson(url, { method = "GET", body, token, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = "Bearer " + token;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "We could not reach the server.");
  }
  if (!response.ok) throw await apiError(response);
  return response.json();
}

/** A polite sentence for an error, for people rather than programs. */
export function politeError(err) {
  if (!(err instanceof ApiError)) return "Something went wrong. Please try again.";
  switch (err.status) {
    case 0:
      return "We could not reach the server. Check your connection and try again.";
    case 413:
      return "That message is too long for us to handle. Please shorten it and send it again.";
    case 429: {
      const wait = err.retryAfter
        ? ` in ${err.retryAfter} second${err.retryAfter === 1 ? "" : "s"}`
        : " in a moment";
      return `You're sending messages faster than we can answer. Please try again${wait}.`;
    }
    case 422:
      return err.message || "That request was not valid.";
    default:
      return err.status >= 500
        ? "Something went wrong on our side. Please try again in a moment."
        : err.message || "Something went wrong. Please try again.";
  }
}

/**
 * Compare two non-negative decimal strings exactly ("40" vs "40.000000"): -1, 0 or 1.
 * Money stays a string end to end; no floats.
 */
export function compareDecimal(a, b) {
  const [ai, af = ""] = String(a).trim().split(".");
  const [bi, bf = ""] = String(b).trim().split(".");
  const ia = ai.replace(/^0+/, "");
  const ib = bi.replace(/^0+/, "");
  if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
  if (ia !== ib) return ia < ib ? -1 : 1;
  const width = Math.max(af.length, bf.length);
  const fa = af.padEnd(width, "0");
  const fb = bf.padEnd(width, "0");
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}

/** "100.000000" -> "100.00", "12.345600" -> "12.3456": at least 2 places, no trailing zeros. */
export function formatAmount(value) {
  const text = String(value ?? "");
  const match = /^(\d+)\.(\d+)$/.exec(text);
  if (!match) return text;
  const places = match[2].replace(/0+$/, "").padEnd(2, "0");
  return `${match[1]}.${places}`;
}

/** A plain USDC amount: digits with up to 6 decimal places. */
export const AMOUNT_RE = /^\d{1,12}(\.\d{1,6})?$/;

/** "12 Mar 2025, 14:05" in the viewer's locale. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso ?? "");
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "5 minutes ago", "2 days ago". */
export function timeAgo(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return rtf.format(Math.round(value), unit);
    value /= size;
  }
  return rtf.format(Math.round(value), "year");
}

/** Copy text to the clipboard, then show "Copied" on the button for a moment. */
export async function copyWithFeedback(button, text) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Press Ctrl+C";
    const code = button.parentElement?.querySelector("code");
    if (code) window.getSelection()?.selectAllChildren(code);
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1800);
}
