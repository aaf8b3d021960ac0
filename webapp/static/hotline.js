// Shared by every page: JSON API calls carrying the CSRF token, translated strings, and
// live updates over Server-Sent Events that reconnect by themselves (EventSource does;
// we only show the user when the line is down).
"use strict";
window.hotline = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const strings = window.HOTLINE_I18N || {};

  function t(key, values) {
    let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (values) {
      for (const [name, value] of Object.entries(values)) {
        text = text.split("{" + name + "}").join(String(value));
      }
    }
    return text;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || "HTTP " + status);
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(method, url, body) {
    const init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("application/json")) data = await response.json();
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // EventSource with the lost-connection banner; handlers: {eventName: fn(data)}.
  function live(url, handlers) {
    const banner = document.getElementById("live-lost");
    const source = new EventSource(url);
    source.onopen = function () { if (banner) banner.hidden = true; document.body.dataset.live = "open"; };
    source.onerror = function () { if (banner) banner.hidden = false; document.body.dataset.live = "lost"; };
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, function (event) { handler(JSON.parse(event.data)); });
    }
    return source;
  }

  // Text into an element, never HTML: data from callers and tickets is not trusted.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function showError(target, error) {
    const node = typeof target === "string" ? document.getElementById(target) : target;
    if (!node) return;
    node.textContent = error ? t("common.error", { message: error.message }) : "";
    node.hidden = !error;
  }

  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  return { t, api, live, el, showError, fmtDuration, ApiError, csrf };
})();
