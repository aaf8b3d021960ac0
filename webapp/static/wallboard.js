// The lead's wallboard: draws the one JSON document (GET /api/wallboard, and the same
// document pushed as event "wallboard" on /live/wallboard after every change), ticks the
// times in state and waits locally between documents, and sends the lead's actions to
// the JSON API. All data goes in as text (hotline.el), never as HTML.
"use strict";
(function () {
  const el = hotline.el, t = hotline.t;
  let doc = null;
  let offset = 0; // server clock minus ours, so times tick from the server's "now"
  const notes = new Map(); // staff number -> {text, cls, retry: body to send with override}
  const listening = new Map(); // staff number -> {id, status, result}
  const agentRows = new Map(); // staff number -> <tr>

  function now() { return Date.now() + offset; }
  function secondsSince(iso) { return Math.max(0, (now() - Date.parse(iso)) / 1000); }
  function pct(value) { return value === null || value === undefined ? "–" : Math.round(value * 100) + "%"; }
  function secs(value) { return value === null || value === undefined ? "–" : hotline.fmtDuration(value); }
  function byId(id) { return document.getElementById(id); }

  // Rebuild a container only when what it shows changed (times tick on their own), so
  // a button is never swapped out from under the lead's click.
  function fill(container, items, build) {
    const signature = JSON.stringify(items);
    if (container.dataset.signature === signature) return;
    container.dataset.signature = signature;
    container.replaceChildren(...items.map(build));
  }

  function ticker(since) { return el("span", { class: "elapsed", dataset: { since: since } }, secs(secondsSince(since))); }

  function tick() {
    for (const node of document.querySelectorAll(".elapsed[data-since]")) {
      node.textContent = hotline.fmtDuration(secondsSince(node.dataset.since));
    }
    // Overdue aways turn red as their limit passes, between documents too.
    if (!doc) return;
    for (const agent of doc.agents) {
      const row = agentRows.get(agent.staff_number);
      if (row) row.classList.toggle("alert-row", overdue(agent));
    }
  }

  function overdue(agent) {
    if (agent.state !== "away") return false;
    if (agent.overdue_minutes) return true;
    return agent.away_limit_minutes ? secondsSince(agent.since) > agent.away_limit_minutes * 60 : false;
  }

  // --- sections ------------------------------------------------------------------

  function renderStaffing() {
    const s = doc.staffing;
    const parts = [];
    if (s) {
      parts.push(el("span", { id: "on-duty", class: s.below_minimum ? "red" : "ok" },
        t("wallboard.staffing.on_duty", { on_duty: s.on_duty, required: s.required })));
      parts.push(el("span", { class: "muted" }, t("wallboard.hours." + s.hours)));
    } else {
      parts.push(el("span", { class: "muted" }, t("wallboard.staffing.no_rules")));
    }
    const acting = doc.agents.find((a) => a.acting_lead);
    parts.push(el("span", { id: "acting-lead" }, t("wallboard.acting_lead.current", {
      name: acting ? acting.name + " (" + acting.staff_number + ")" : t("wallboard.acting_lead.none") })));
    const waiting = doc.queues.reduce((sum, q) => sum + q.waiting, 0);
    parts.push(el("span", { id: "waiting-total", class: waiting ? "warn" : "" }, t("wallboard.staffing.waiting", { count: waiting })));
    byId("staffing").replaceChildren(...parts);
    // Every staffing alert is shown in red: each needs the lead to act.
    fill(byId("alerts"), doc.alerts, (a) => el("li", {
      class: "red alert-row", dataset: { kind: a.kind, severity: a.severity },
    }, el("b", {}, alertTitle(a.kind)), " ", a.message));
  }

  function alertTitle(kind) {
    const key = "wallboard.alert." + kind;
    const text = t(key);
    return text === key ? kind : text;
  }

  function renderUrgent() {
    fill(byId("urgent-complaints"), doc.urgent, (u) => el("li", {
      class: "red alert-row", dataset: { ticketId: u.ticket_id },
    },
      el("b", {}, "#" + u.ticket_id), " ",
      t("wallboard.kind." + u.kind), u.injury ? " · " + t("wallboard.urgent.injury") : "",
      " · ", t("wallboard.severity." + u.severity), " · ", u.summary || "", " ",
      el("span", { class: "muted" }, t("wallboard.urgent.by", { who: u.created_by, status: u.status }), " ", ticker(u.created_at))));
    byId("urgent-none").hidden = doc.urgent.length > 0;
  }

  function renderSla() {
    fill(byId("sla-breaches"), doc.sla, (b) => el("li", {
      class: b.state === "breached" ? "red alert-row" : "warn", dataset: { ticketId: b.ticket_id, state: b.state },
    },
      el("b", {}, "#" + b.ticket_id), " ", t("wallboard.kind." + b.kind), " · ",
      t("wallboard.sla.target", { target: b.target }), " · ",
      b.state === "breached" ? t("wallboard.sla.breached", { time: hotline.fmtDuration(b.overdue_seconds) })
        : t("wallboard.sla.near", { time: hotline.fmtDuration(-b.overdue_seconds) }),
      b.assignee ? " · " + t("wallboard.sla.assignee", { who: b.assignee }) : ""));
    byId("sla-none").hidden = doc.sla.length > 0;
  }

  function renderQueues() {
    fill(byId("queues"), doc.queues.map((q) => Object.assign({}, q, { longest_wait_seconds: null })), (q) => {
      const kinds = Object.entries(q.by_kind).map(([k, n]) => t("wallboard.kind." + k) + " " + n).join(", ");
      const idle = !q.waiting && !q.answered && !q.abandoned;
      const low = q.service_level !== null && q.service_level < 0.8;
      return el("tr", { class: idle ? "idle" : "", dataset: { queue: q.queue } },
        el("td", {}, q.queue),
        el("td", { class: "num waiting" + (q.waiting ? " warn" : "") }, String(q.waiting)),
        el("td", { class: "num longest" }, q.oldest_waiting_since ? ticker(q.oldest_waiting_since) : "–"),
        el("td", { class: "num service-level" + (low ? " red" : ""), title: t("wallboard.queues.sl_detail", {
          on_time: q.answered_on_time, threshold: q.threshold_seconds }) }, pct(q.service_level)),
        el("td", { class: "num asa" }, secs(q.asa_seconds)),
        el("td", { class: "num abandoned" }, q.abandoned + " (" + pct(q.abandonment_rate) + ")"),
        el("td", { class: "num answered" }, String(q.answered)),
        el("td", { class: "kinds" }, kinds || "–"));
    });
  }

  function stateText(agent) {
    let text = t("wallboard.state." + agent.state);
    if (agent.reason) text += " (" + t("wallboard.reason." + agent.reason) + ")";
    return text;
  }

  // The agent's phone as the controllers' Asterisks see it, when it is not ready: calls
  // cannot reach an offline phone (the reason, e.g. Asterisk's refusal, as its title).
  function phoneBadge(agent) {
    if (agent.phone === "offline") {
      return [" ", el("span", { class: "phone pill red", dataset: { phone: "offline" },
        title: agent.phone_reason || t("wallboard.phone.no_reason") }, t("wallboard.phone.offline"))];
    }
    if (agent.phone === "busy") {
      return [" ", el("span", { class: "phone pill warn", dataset: { phone: "busy" },
        title: t("wallboard.phone.busy_help") }, t("wallboard.phone.busy"))];
    }
    return [];
  }

  function actionsFor(agent) {
    const me = doc.me.staff_number;
    const buttons = [];
    const present = !["offline", "on_leave"].includes(agent.state);
    if (agent.staff_number !== me) {
      if (["available", "wrap_up"].includes(agent.state)) {
        buttons.push(el("button", { type: "button", class: "force-away",
          onclick: () => seatChange(agent, { state: "away", reason: byId("force-reason").value, note: "forced by " + me }) },
          t("wallboard.action.away")));
      }
      if (agent.state === "away") {
        buttons.push(el("button", { type: "button", class: "force-back",
          onclick: () => seatChange(agent, { state: "available", note: "back by " + me }) }, t("wallboard.action.back")));
      }
      if (present && agent.state !== "on_call") {
        buttons.push(el("button", { type: "button", class: "force-logout",
          onclick: () => seatChange(agent, { state: "offline", note: "logged out by " + me }) }, t("wallboard.action.logout")));
      }
    }
    if (agent.state === "on_call" && agent.staff_number !== me) {
      const l = listening.get(agent.staff_number);
      buttons.push(el("button", { type: "button", class: "listen", disabled: l && l.status !== "failed" ? true : null,
        onclick: () => listen(agent) }, t("wallboard.action.listen")));
    }
    return buttons;
  }

  function noteFor(agent) {
    const parts = [];
    const l = listening.get(agent.staff_number);
    if (l && agent.state === "on_call") {
      parts.push(el("span", { class: "listening " + (l.status === "failed" ? "error" : "ok"), dataset: { status: l.status } },
        l.status === "failed" ? t("wallboard.listen.failed", { reason: l.result || "" })
          : t(l.status === "done" ? "wallboard.listen.on" : "wallboard.listen.starting")));
    }
    const n = notes.get(agent.staff_number);
    if (n) {
      parts.push(el("span", { class: "row-note " + (n.cls || "") }, n.text));
      if (n.retry) {
        parts.push(" ", el("button", { type: "button", class: "override danger",
          onclick: () => seatChange(agent, Object.assign({}, n.retry, { override: true, note: "override by " + doc.me.staff_number })) },
          t("wallboard.action.override")));
      }
    }
    return parts;
  }

  function renderAgents() {
    const tbody = byId("agents");
    const wanted = new Set();
    doc.agents.forEach((agent, index) => {
      wanted.add(agent.staff_number);
      let row = agentRows.get(agent.staff_number);
      if (!row) {
        row = el("tr", { dataset: { staffNumber: agent.staff_number } },
          el("td", { class: "who" }), el("td", { class: "state" }), el("td", { class: "num time" }),
          el("td", {}, el("div", { class: "actions" }), el("div", { class: "note" })));
        agentRows.set(agent.staff_number, row);
      }
      if (tbody.children[index] !== row) tbody.insertBefore(row, tbody.children[index] || null);
      row.dataset.state = agent.state;
      row.dataset.phone = agent.phone;
      const who = [agent.name, " (" + agent.staff_number + ")"];
      if (agent.role === "lead") who.push(" · ", t("common.role.lead"));
      if (agent.acting_lead) who.push(" · ", t("wallboard.acting_lead.badge"));
      fillSimple(row.querySelector(".who"), [agent.name, agent.staff_number, agent.role, agent.acting_lead], who);
      fillSimple(row.querySelector(".state"), [agent.state, agent.reason, agent.phone, agent.phone_reason],
        [stateText(agent), ...phoneBadge(agent)]);
      fillSimple(row.querySelector(".time"), [agent.since], [ticker(agent.since)]);
      const l = listening.get(agent.staff_number) || null;
      const n = notes.get(agent.staff_number) || null;
      const key = [agent.state, agent.role, l, n ? n.text : null, doc.me.staff_number];
      fillSimple(row.querySelector(".actions"), key, actionsFor(agent));
      fillSimple(row.querySelector(".note"), key, noteFor(agent));
      row.classList.toggle("alert-row", overdue(agent));
    });
    for (const [staff, row] of agentRows) {
      if (!wanted.has(staff)) { row.remove(); agentRows.delete(staff); }
    }
  }

  function fillSimple(node, key, children) {
    const signature = JSON.stringify(key);
    if (node.dataset.signature === signature) return;
    node.dataset.signature = signature;
    node.replaceChildren(...children);
  }

  function renderRequests() {
    fill(byId("away-requests"), doc.away_requests, (r) => el("li", { class: "warn", dataset: { requestId: r.id, staffNumber: r.staff_number } },
      el("b", {}, r.name + " (" + r.staff_number + ")"), " ",
      t("wallboard.requests.asks", { reason: t("wallboard.reason." + r.reason) }), " ",
      el("span", { class: "muted" }, r.message), " ",
      el("button", { type: "button", class: "approve primary", onclick: () => decide(r, "approve") }, t("wallboard.requests.approve")), " ",
      el("button", { type: "button", class: "deny", onclick: () => decide(r, "deny") }, t("wallboard.requests.deny"))));
    byId("requests-none").hidden = doc.away_requests.length > 0;
  }

  function renderActing() {
    const select = byId("acting-lead-select");
    if (document.activeElement === select) return; // the lead is choosing
    const normal = doc.agents.filter((a) => a.role === "agent");
    fillSimple(select, [normal.map((a) => [a.staff_number, a.name]), doc.acting_lead], [
      el("option", { value: "" }, t("wallboard.acting_lead.none")),
      ...normal.map((a) => el("option", { value: a.staff_number, selected: a.acting_lead }, a.name + " (" + a.staff_number + ")")),
    ]);
  }

  function renderReasons() {
    const select = byId("force-reason");
    if (select.options.length) return;
    for (const reason of doc.away_reasons) {
      if (reason === "missed_calls") continue;
      select.append(el("option", { value: reason, selected: reason === "other" }, t("wallboard.reason." + reason)));
    }
  }

  function renderCharts() {
    for (const [name, chart] of Object.entries(doc.charts)) {
      const img = byId("chart-" + name);
      if (img && img.getAttribute("src") !== chart.url) img.setAttribute("src", chart.url);
    }
  }

  function render(next) {
    doc = next;
    offset = Date.parse(next.now) - Date.now();
    renderReasons();
    renderStaffing();
    renderUrgent();
    renderSla();
    renderQueues();
    renderAgents();
    renderRequests();
    renderActing();
    renderCharts();
    document.body.dataset.wallboard = "ready";
  }

  // --- actions -------------------------------------------------------------------

  async function refresh() {
    try {
      render(await hotline.api("GET", "/api/wallboard"));
      hotline.showError("wallboard-error", null);
    } catch (error) {
      hotline.showError("wallboard-error", error);
    }
  }

  function setNote(staff, note) {
    if (note) notes.set(staff, note); else notes.delete(staff);
    if (doc) renderAgents();
  }

  async function seatChange(agent, body) {
    setNote(agent.staff_number, { text: t("wallboard.action.sending") });
    try {
      await hotline.api("POST", "/api/seats/" + encodeURIComponent(agent.staff_number) + "/state", body);
      setNote(agent.staff_number, { text: t(body.override ? "wallboard.action.overridden" : "wallboard.action.done"), cls: "ok" });
    } catch (error) {
      const retry = error.status === 409 && error.body.may_override && !body.override
        ? { state: body.state, reason: body.reason } : null;
      setNote(agent.staff_number, { text: t("common.error", { message: error.message }), cls: "error", retry: retry });
    }
    await refresh();
  }

  async function listen(agent) {
    const staff = agent.staff_number;
    listening.set(staff, { status: "pending" });
    renderAgents();
    try {
      const answer = await hotline.api("POST", "/api/listen", { staff_number: staff });
      listening.set(staff, { id: answer.control_id, status: "pending" });
      renderAgents();
      follow(staff, answer.control_id, Date.now() + 30000);
    } catch (error) {
      listening.set(staff, { status: "failed", result: error.message });
      renderAgents();
    }
  }

  // The controller answers a listen request in the call control row: poll it.
  async function follow(staff, id, deadline) {
    try {
      const control = await hotline.api("GET", "/api/calls/control/" + id);
      listening.set(staff, { id: id, status: control.status, result: control.result });
      if (doc) renderAgents();
      if ((control.status === "pending" || control.status === "taken") && Date.now() < deadline) {
        setTimeout(() => follow(staff, id, deadline), 1000);
      }
    } catch (error) {
      listening.set(staff, { id: id, status: "failed", result: error.message });
      if (doc) renderAgents();
    }
  }

  async function decide(request, verdict) {
    try {
      await hotline.api("POST", "/api/wallboard/away_requests/" + request.id + "/" + verdict);
      setNote(request.staff_number, { text: t(verdict === "approve" ? "wallboard.requests.approved" : "wallboard.requests.denied"), cls: "ok" });
    } catch (error) {
      setNote(request.staff_number, { text: t("common.error", { message: error.message }), cls: "error" });
    }
    await refresh();
  }

  byId("acting-lead-set").addEventListener("click", async function () {
    const value = byId("acting-lead-select").value;
    try {
      await hotline.api("POST", "/api/acting_lead", { staff_number: value || null });
      hotline.showError("acting-lead-error", null);
    } catch (error) {
      hotline.showError("acting-lead-error", error);
    }
    await refresh();
  });

  refresh();
  hotline.live("/live/wallboard", { wallboard: render });
  setInterval(tick, 1000);
})();
