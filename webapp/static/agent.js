// The agent desk: seat status, the live screen pop, ticket forms per kind, my tickets,
// my callback worklist and handover notes. Every change goes through the JSON API;
// everything shown is built with hotline.el / textContent (caller data is untrusted).
"use strict";
(function () {
  const { api, el, t, live } = window.hotline;
  const config = JSON.parse(document.getElementById("agent-config").textContent);
  const me = document.querySelector(".me").dataset.staffNumber;
  const $ = (id) => document.getElementById(id);

  // --- helpers --------------------------------------------------------------------------

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  function label(prefix, value) {
    const key = prefix + value;
    const text = t(key);
    return text === key ? String(value) : text;
  }

  function showMessage(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  function errorText(err) {
    return t("common.error", { message: err.message });
  }

  // --- seat status ----------------------------------------------------------------------

  let seat = { state: null, since: null };

  function renderSeat() {
    const pill = $("seat-state");
    pill.dataset.state = seat.state || "";
    pill.textContent = seat.state ? label("agent.state.", seat.state) : "";
    if (seat.state === "away" && seat.reason) {
      pill.textContent += " · " + label("agent.reason.", seat.reason);
    }
    const since = seat.since ? (Date.now() - new Date(seat.since).getTime()) / 1000 : null;
    $("seat-since").textContent = since === null ? "" : t("agent.status.since", { duration: hotline.fmtDuration(since) });
    $("wrap-up-end").hidden = seat.state !== "wrap_up";
    renderPhone();
    for (const id of ["status-available", "status-away", "status-offline"]) {
      $(id).disabled = $(id).dataset.state === seat.state;
    }
  }

  // The agent's own phone when it is not ready (the seat event carries it): an offline
  // phone cannot be rung, so the agent must know before waiting for calls.
  function renderPhone() {
    const node = $("phone-warning");
    if (!seat.phone) return; // no seat event yet: keep what the page was rendered with
    // Only on a change: an alert region rewritten every second is announced every second.
    const signature = JSON.stringify([seat.phone, seat.phone_reason]);
    if (node.dataset.signature === signature) return;
    node.dataset.signature = signature;
    node.dataset.phone = seat.phone;
    node.className = "banner " + (seat.phone === "offline" ? "red" : "warn");
    if (seat.phone === "offline") {
      node.textContent = t("agent.phone.offline", { reason: seat.phone_reason || t("agent.phone.no_reason") });
    } else if (seat.phone === "busy") {
      node.textContent = t("agent.phone.busy");
    } else {
      node.textContent = "";
    }
    node.hidden = seat.phone === "ready";
  }

  async function setState(state) {
    const body = { state: state };
    if (state === "away") body.reason = $("away-reason").value;
    showMessage($("status-error"), "");
    try {
      const answer = await api("POST", "/api/seats/" + encodeURIComponent(me) + "/state", body);
      Object.assign(seat, answer.seat);
      renderSeat();
    } catch (err) {
      // A shift rule's refusal (409) names the rule and why: the agent must see it.
      const text = err.status === 409 ? t("agent.status.refused", { reason: err.message }) : errorText(err);
      showMessage($("status-error"), text);
    }
  }

  for (const id of ["status-available", "status-away", "status-offline"]) {
    $(id).addEventListener("click", () => setState($(id).dataset.state));
  }
  $("wrap-up-end").addEventListener("click", async () => {
    showMessage($("status-error"), "");
    try {
      await api("POST", "/api/seats/" + encodeURIComponent(me) + "/wrap_up", { action: "end" });
    } catch (err) {
      showMessage($("status-error"), errorText(err));
    }
  });
  setInterval(renderSeat, 1000);

  // --- ticket form ----------------------------------------------------------------------

  const form = $("ticket-form");
  let linked = null; // {key, callId} of the call the form was opened for

  function formKey() {
    const kind = $("ticket-kind").value;
    if (kind !== "complaint") return kind;
    const category = $("ticket-category").value;
    return category ? "complaint:" + category : null;
  }

  function input(field) {
    const id = "f-" + field.name;
    const attrs = { id: id, name: field.name, "data-field": field.name, "data-widget": field.widget };
    if (field.widget === "textarea") return el("textarea", { ...attrs, maxlength: field.max_length });
    if (field.widget === "select") {
      return el("select", attrs,
        el("option", { value: "" }, t("agent.form.choose")),
        field.options.map((o) => el("option", { value: o }, label("agent.option.", o))));
    }
    if (field.widget === "tristate") {
      return el("select", attrs,
        el("option", { value: "" }, t("agent.option.unknown")),
        el("option", { value: "true" }, t("agent.option.yes")),
        el("option", { value: "false" }, t("agent.option.no")));
    }
    if (field.widget === "checkbox") return el("input", { ...attrs, type: "checkbox" });
    if (field.widget === "number") return el("input", { ...attrs, type: "number", step: 1, min: field.min, max: field.max });
    if (field.widget === "decimal") return el("input", { ...attrs, type: "number", step: "0.01", min: field.min });
    if (field.widget === "date") return el("input", { ...attrs, type: "date" });
    if (field.widget === "tel") return el("input", { ...attrs, type: "tel" });
    return el("input", { ...attrs, type: "text", maxlength: field.max_length });
  }

  function fieldRow(field) {
    const wide = field.widget === "textarea";
    const text = el("span", { class: field.required ? "required" : null }, t("agent.field." + field.name));
    const error = el("span", { class: "field-error", id: "err-" + field.name, hidden: true });
    if (field.widget === "checkbox") {
      return el("label", { class: wide ? "wide" : null }, input(field), " ", text, error);
    }
    return el("label", { class: wide ? "wide" : null }, text, input(field), error);
  }

  function renderDetails() {
    $("category-row").hidden = $("ticket-kind").value !== "complaint";
    const key = formKey();
    const fields = key ? config.forms.forms[key] : [];
    $("details-fields").replaceChildren(...fields.map(fieldRow));
  }

  function clearErrors() {
    for (const node of form.querySelectorAll(".field-error")) showMessage(node, "");
    showMessage($("ticket-error"), "");
  }

  function value(node) {
    if (node.type === "checkbox") return node.checked;
    if (node.dataset.widget === "tristate") return node.value === "" ? null : node.value === "true";
    const text = node.value.trim();
    return text === "" ? null : text;
  }

  function collect() {
    const details = {};
    for (const node of $("details-fields").querySelectorAll("[data-field]")) {
      const v = value(node);
      if (v !== null) details[node.dataset.field] = v;
    }
    const body = { kind: $("ticket-kind").value, details: details };
    if (body.kind === "complaint" && $("ticket-category").value) details.category = $("ticket-category").value;
    for (const node of $("common-fields").querySelectorAll("[data-field]")) {
      const v = value(node);
      // Left empty on a call's form: the server fills it from the call's record.
      if (v !== null) body[node.dataset.field] = v;
    }
    return body;
  }

  function showFieldErrors(errors) {
    const rest = [];
    for (const [field, problem] of Object.entries(errors || {})) {
      const node = $("err-" + field);
      if (node) showMessage(node, problem);
      else rest.push(field + ": " + problem);
    }
    if (rest.length) showMessage($("ticket-error"), t("common.error", { message: rest.join("; ") }));
  }

  function renderLinked() {
    const node = $("ticket-linked");
    if (!linked) return showMessage(node, "");
    showMessage(node, linked.callId
      ? t("agent.form.linked", { call: linked.callId })
      : t("agent.form.linking"));
  }

  function resetForm() {
    form.reset();
    linked = null;
    renderDetails();
    clearErrors();
    renderLinked();
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    showMessage($("ticket-result"), "");
    if ($("ticket-kind").value === "complaint" && !$("ticket-category").value) {
      showMessage($("err-category"), t("agent.form.category_required"));
      return;
    }
    const body = collect();
    const url = linked && linked.callId ? "/api/calls/" + linked.callId + "/ticket" : "/api/tickets";
    $("ticket-submit").disabled = true;
    try {
      const answer = await api("POST", url, body);
      const tk = answer.ticket;
      resetForm();
      showMessage($("ticket-result"), t("agent.form.saved", {
        id: tk.id, kind: label("agent.kind.", tk.kind), severity: label("agent.severity.", tk.severity),
      }));
      loadTickets();
    } catch (err) {
      if (err.body && err.body.errors) showFieldErrors(err.body.errors);
      else showMessage($("ticket-error"), errorText(err));
    } finally {
      $("ticket-submit").disabled = false;
    }
  }

  $("common-fields").replaceChildren(...config.forms.common.map(fieldRow));
  $("ticket-kind").addEventListener("change", () => { renderDetails(); clearErrors(); });
  $("ticket-category").addEventListener("change", () => { renderDetails(); clearErrors(); });
  $("ticket-reset").addEventListener("click", resetForm);
  form.addEventListener("submit", submit);
  renderDetails();

  // --- screen pop -----------------------------------------------------------------------

  let popKey = null;

  function openFormFor(pop) {
    form.reset();
    clearErrors();
    showMessage($("ticket-result"), "");
    $("ticket-kind").value = pop.kind.kind;
    $("ticket-category").value = pop.kind.category || "";
    renderDetails();
    if (pop.kind.injury && $("f-injury")) $("f-injury").checked = true;
    if (pop.name && $("f-contact_name")) $("f-contact_name").value = pop.name;
    // The number stays on the server (it may be masked here): a placeholder only.
    if ($("f-contact_phone")) $("f-contact_phone").placeholder = pop.number;
    linked = { key: pop.key, callId: pop.call_id };
    renderLinked();
  }

  function renderPop(pop) {
    const card = $("pop");
    card.dataset.state = pop.state;
    card.dataset.key = pop.key;
    $("pop-state").textContent = label("agent.state.", pop.state);
    $("pop-number").textContent = pop.number || t("agent.pop.withheld");
    $("pop-name").textContent = pop.name || t("agent.pop.unknown_caller");
    $("pop-tier").textContent = label("agent.tier.", pop.tier);
    $("pop-tier").className = "pill tier-" + pop.tier;
    const path = pop.menu.nodes.join(" › ");
    $("pop-menu").textContent = pop.menu.keys
      ? t("agent.pop.path_keys", { path: path || "-", keys: pop.menu.keys })
      : path || "-";
    $("pop-queue").textContent = pop.callback_id
      ? t("agent.pop.callback", { id: pop.callback_id })
      : pop.queue || "-";
    const calls = pop.history.calls.map((c) => el("tr", {},
      el("td", {}, when(c.started_at)), el("td", {}, c.queue || "-"),
      el("td", {}, c.agent || "-"), el("td", {}, c.end_reason ? label("agent.end.", c.end_reason) : "-")));
    $("pop-calls").tBodies[0].replaceChildren(...(calls.length ? calls
      : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, t("agent.pop.no_calls")))]));
    const tickets = pop.history.tickets.map((tk) => el("tr", { class: tk.severity === "urgent" ? "alert-row" : null },
      el("td", {}, "#" + tk.id), el("td", {}, when(tk.created_at)),
      el("td", {}, label("agent.kind.", tk.kind) + (tk.category ? " · " + label("agent.option.", tk.category) : "")),
      el("td", {}, label("agent.ticket_status.", tk.status)), el("td", {}, tk.summary)));
    $("pop-tickets").tBodies[0].replaceChildren(...(tickets.length ? tickets
      : [el("tr", {}, el("td", { colspan: 5, class: "muted" }, t("agent.pop.no_tickets")))]));
    card.hidden = false;
  }

  function onPop(pop) {
    const fresh = pop.key !== popKey;
    popKey = pop.key;
    renderPop(pop);
    if (fresh && !pop.callback_id) openFormFor(pop);
    else if (linked && linked.key === pop.key && !linked.callId && pop.call_id) {
      linked.callId = pop.call_id; // the call's record was written after the ring
      renderLinked();
    }
  }

  $("pop-close").addEventListener("click", () => { $("pop").hidden = true; });

  // --- my tickets -----------------------------------------------------------------------

  async function loadTickets() {
    showMessage($("tickets-error"), "");
    try {
      const answer = await api("GET", "/api/agent/tickets");
      const rows = answer.tickets.map((tk) => el("tr", { class: tk.severity === "urgent" ? "alert-row" : null, dataset: { id: tk.id } },
        el("td", {}, "#" + tk.id), el("td", {}, when(tk.created_at)),
        el("td", {}, label("agent.kind.", tk.kind) + (tk.category ? " · " + label("agent.option.", tk.category) : "")),
        el("td", {}, label("agent.ticket_status.", tk.status)),
        el("td", {}, [tk.contact_name, tk.contact_phone].filter(Boolean).join(" · ")),
        el("td", {}, tk.summary)));
      $("ticket-rows").replaceChildren(...rows);
      $("tickets-empty").hidden = rows.length > 0;
    } catch (err) {
      showMessage($("tickets-error"), errorText(err));
    }
  }

  // --- callback worklist ----------------------------------------------------------------

  async function dial(item, message) {
    showMessage(message, "");
    try {
      await api("POST", "/api/callbacks/" + item.id + "/dial");
      showMessage(message, t("agent.callbacks.dialling"));
    } catch (err) {
      showMessage(message, errorText(err));
    }
  }

  async function saveOutcome(item, row, message) {
    const body = { outcome: row.querySelector(".outcome-select").value };
    if (body.outcome === "reached") {
      const satisfaction = row.querySelector(".satisfaction-select").value;
      if (satisfaction) body.satisfaction = satisfaction;
      const remarks = row.querySelector(".remarks").value.trim();
      if (remarks) body.remarks = remarks;
    }
    showMessage(message, "");
    try {
      const answer = await api("POST", "/api/callbacks/" + item.id + "/outcome", body);
      showMessage(message, t("agent.callbacks.saved", { status: label("agent.callback_status.", answer.status) }));
      loadCallbacks();
    } catch (err) {
      showMessage(message, errorText(err));
    }
  }

  function callbackRow(item) {
    const message = el("span", { class: "muted message", role: "status", hidden: true });
    const later = item.next_dial_at && new Date(item.next_dial_at) > new Date(Date.now() + 1000);
    const dialButton = el("button", { type: "button", class: "dial", disabled: !!item.dial }, t("agent.callbacks.call"));
    const outcome = el("select", { class: "outcome-select" },
      el("option", { value: "reached" }, t("agent.callbacks.reached")),
      el("option", { value: "not_reached" }, t("agent.callbacks.not_reached")));
    const satisfaction = el("select", { class: "satisfaction-select" },
      el("option", { value: "" }, t("agent.callbacks.satisfaction")),
      config.satisfaction.map((s) => el("option", { value: s }, label("agent.satisfaction.", s))));
    const remarks = el("input", { class: "remarks", type: "text", maxlength: 4000, placeholder: t("agent.callbacks.remarks") });
    const save = el("button", { type: "button", class: "save-outcome" }, t("agent.callbacks.save"));
    outcome.addEventListener("change", () => {
      satisfaction.hidden = remarks.hidden = outcome.value !== "reached";
    });
    const row = el("tr", { dataset: { id: item.id }, class: item.overdue ? "overdue" : null },
      el("td", {}, item.due_at ? when(item.due_at) : "-",
        item.overdue ? el("div", { class: "overdue" }, t("agent.callbacks.overdue")) : null),
      el("td", {}, el("div", {}, item.name || t("agent.pop.unknown_caller")), el("div", { class: "number" }, item.number),
        el("div", { class: "muted" }, label("agent.source.", item.source) + (item.ticket_id ? " · #" + item.ticket_id : ""))),
      el("td", {}, String(item.attempts),
        later ? el("div", { class: "muted" }, t("agent.callbacks.not_before", { when: when(item.next_dial_at) })) : null),
      el("td", {},
        el("div", { class: "outcome" }, dialButton, item.dial ? el("span", { class: "pill" }, label("agent.dial.", item.dial)) : null),
        el("div", { class: "outcome" }, outcome, satisfaction, remarks, save),
        message));
    dialButton.addEventListener("click", () => dial(item, message));
    save.addEventListener("click", () => saveOutcome(item, row, message));
    return row;
  }

  async function loadCallbacks() {
    showMessage($("callbacks-error"), "");
    try {
      const answer = await api("GET", "/api/agent/callbacks");
      $("quiet-now").hidden = !answer.quiet_now;
      const rows = answer.items.map(callbackRow);
      $("callback-rows").replaceChildren(...rows);
      $("callbacks-empty").hidden = rows.length > 0;
    } catch (err) {
      showMessage($("callbacks-error"), errorText(err));
    }
  }

  // --- handover notes -------------------------------------------------------------------

  async function loadHandover() {
    try {
      const answer = await api("GET", "/api/agent/handover");
      const notes = answer.notes.map((n) => el("div", { class: "note" },
        el("div", { class: "muted" }, when(n.at) + " · " + n.author +
          " · " + t("agent.handover.open_callbacks", { count: n.open_callbacks })),
        el("div", {}, n.text)));
      $("handover-notes").replaceChildren(...(notes.length ? notes
        : [el("p", { class: "muted" }, t("agent.handover.empty"))]));
    } catch (err) {
      showMessage($("handover-error"), errorText(err));
    }
  }

  $("handover-add").addEventListener("click", async () => {
    showMessage($("handover-error"), "");
    try {
      await api("POST", "/api/agent/handover", { text: $("handover-text").value });
      $("handover-text").value = "";
      loadHandover();
    } catch (err) {
      showMessage($("handover-error"), errorText(err));
    }
  });

  // --- live -----------------------------------------------------------------------------

  let mine = null;
  function onMine(data) {
    const text = JSON.stringify(data);
    const before = mine ? JSON.parse(mine) : null;
    mine = text;
    if (!before || JSON.stringify(before.tickets) !== JSON.stringify(data.tickets)) loadTickets();
    // The worklist is reloaded unless the agent is typing an outcome into it.
    const editing = $("callback-rows").contains(document.activeElement);
    if (!editing && (!before || JSON.stringify(before.callbacks) !== JSON.stringify(data.callbacks))) loadCallbacks();
  }

  live("/live/agent", {
    seat: (data) => { seat = data; renderSeat(); },
    pop: onPop,
    mine: onMine,
  });
  loadHandover();
  // Quiet hours and "not before" move with the clock, not with the database.
  setInterval(() => {
    if (!$("callback-rows").contains(document.activeElement)) loadCallbacks();
  }, 60000);
})();
