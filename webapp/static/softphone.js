// The demo softphone: a call into the hotline from this page. The simulator plays the
// prompts (in the same process as the web app); we poll what it is playing to this caller
// and play the same WAV files here, in order, stopping one the hotline cut short (a key
// pressed during a prompt). Keys go to the simulator one digit at a time, as DTMF does.
// The desk-phone card lets someone playing an agent answer the queue's ring themselves.
"use strict";
(function () {
  const h = window.hotline;
  const root = document.getElementById("softphone");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const number = root.dataset.hotlineNumber;
  const CALL_POLL_MS = 300;
  const DESK_POLL_MS = 1000;
  const KEYS = "0123456789*#";

  // -- tones, made in the page (DTMF feedback, hold music, the desk phone's ring) ---------
  let audioContext = null;
  function tone(freqs, seconds, gain) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audioContext = audioContext || new Ctx();
    const now = audioContext.currentTime;
    const level = audioContext.createGain();
    level.gain.setValueAtTime(gain, now);
    level.gain.exponentialRampToValueAtTime(0.0001, now + seconds);
    level.connect(audioContext.destination);
    for (const f of freqs) {
      const osc = audioContext.createOscillator();
      osc.frequency.value = f;
      osc.connect(level);
      osc.start(now);
      osc.stop(now + seconds);
    }
  }
  const DTMF_ROWS = { "1": 697, "2": 697, "3": 697, "4": 770, "5": 770, "6": 770,
    "7": 852, "8": 852, "9": 852, "*": 941, "0": 941, "#": 941 };
  const DTMF_COLS = { "1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336,
    "8": 1336, "0": 1336, "3": 1477, "6": 1477, "9": 1477, "#": 1477 };

  // Music on hold has no file behind it: a quiet tune while the simulator says it plays.
  const HOLD_NOTES = [523.25, 587.33, 659.25, 783.99, 880.0, 783.99, 659.25, 587.33];
  let holdTimer = null;
  function holdMusic(on) {
    if (on && holdTimer === null) {
      let i = 0;
      holdTimer = setInterval(function () {
        if (current === null) tone([HOLD_NOTES[i++ % HOLD_NOTES.length]], 0.35, 0.04);
      }, 450);
    } else if (!on && holdTimer !== null) {
      clearInterval(holdTimer);
      holdTimer = null;
    }
  }

  // -- the prompts' audio, in the order the simulator played them -------------------------
  const player = new Audio();
  let queue = []; // [{index, url}]
  let current = null; // index of the item playing in the page
  player.addEventListener("ended", playNext);
  player.addEventListener("error", playNext);

  function audioUrl(file) {
    return "/softphone/audio/" + file.split("/").map(encodeURIComponent).join("/");
  }
  function enqueue(item) {
    queue.push({ index: item.index, url: audioUrl(item.file) });
    if (current === null) playNext();
  }
  function playNext() {
    current = null;
    const next = queue.shift();
    if (!next) return;
    current = next.index;
    player.src = next.url;
    const started = player.play();
    if (started) {
      started.catch(function (err) {
        if (err && err.name === "NotAllowedError") {
          $("audio-blocked").hidden = false;
          queue = [];
          current = null;
        }
      });
    }
  }
  function cut(index) {
    queue = queue.filter((q) => q.index !== index);
    if (current === index) {
      player.pause();
      playNext();
    }
  }
  function stopAudio() {
    queue = [];
    current = null;
    player.pause();
    holdMusic(false);
  }
  document.addEventListener("click", function () { $("audio-blocked").hidden = true; });

  // -- the call ------------------------------------------------------------------------------
  let call = null; // {id, next, firstOpen, items: Map(index → {li, done}), ended}
  let pollTimer = null;

  function itemLabel(item) {
    if (item.name === "moh") return h.t("softphone.moh");
    return item.file || item.name; // the file played, under the prompts directory
  }

  function setControls(onCall) {
    $("dial").disabled = onCall;
    $("caller-number").disabled = onCall;
    $("hangup").disabled = !onCall;
    for (const button of $("keypad").querySelectorAll("button")) button.disabled = !onCall;
  }

  function render(data) {
    let firstOpen = null;
    for (const item of data.heard) {
      let entry = call.items.get(item.index);
      if (!entry) {
        entry = { li: h.el("li", { dataset: { index: item.index } }, itemLabel(item)), done: false };
        call.items.set(item.index, entry);
        $("heard-log").append(entry.li);
        if (item.file && !item.cut) enqueue(item);
      }
      if (item.cut && !entry.done) {
        entry.li.classList.add("cut");
        cut(item.index);
      }
      if (item.playing) {
        if (firstOpen === null) firstOpen = item.index;
      } else {
        entry.done = true;
      }
    }
    call.next = data.next;
    call.firstOpen = firstOpen;

    const playing = data.heard.filter((item) => item.playing);
    const prompts = playing.filter((item) => item.name !== "moh");
    holdMusic(!data.ended && playing.length > prompts.length && prompts.length === 0);
    let text = "";
    if (prompts.length) text = h.t("softphone.playing", { name: itemLabel(prompts[prompts.length - 1]) });
    else if (playing.length) text = h.t("softphone.moh");
    $("now-playing").textContent = text;

    const state = $("call-state");
    state.dataset.state = data.state;
    if (data.state === "ended") {
      state.textContent = h.t("softphone.state.ended");
      $("now-playing").textContent = data.hangup_by ? h.t("softphone.ended_by." + data.hangup_by) : "";
    } else if (data.agent) {
      state.textContent = h.t("softphone.state.agent", { agent: data.agent });
    } else if (data.state === "up") {
      state.textContent = h.t("softphone.state.up");
    } else {
      state.textContent = h.t("softphone.state.ringing", { number: number });
    }
    if (data.ended) finish(data);
  }

  function finish(data) {
    call.ended = true;
    clearTimeout(pollTimer);
    setControls(false);
    // Hanging up ourselves silences the line at once; when the hotline ends the call, its
    // last words (goodbye) still play out here.
    if (data.hangup_by === "caller") stopAudio();
    else holdMusic(false);
  }

  async function poll() {
    if (!call || call.ended) return;
    const since = call.firstOpen !== null ? call.firstOpen : call.next;
    try {
      const url = "/softphone/api/calls/" + encodeURIComponent(call.id) + "?since=" + since;
      const data = await h.api("GET", url);
      h.showError("softphone-error", null);
      if (call && data.channel_id === call.id) render(data);
    } catch (err) {
      h.showError("softphone-error", err);
      if (err.status === 404 && call) finish({ hangup_by: null });
    }
    if (call && !call.ended) pollTimer = setTimeout(poll, CALL_POLL_MS);
  }

  $("dial-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    h.showError("softphone-error", null);
    try {
      const data = await h.api("POST", "/softphone/api/calls", { from: $("caller-number").value.trim() });
      stopAudio();
      call = { id: data.channel_id, next: 0, firstOpen: null, items: new Map(), ended: false };
      root.dataset.channelId = data.channel_id;
      $("heard-log").replaceChildren();
      $("keys-pressed").textContent = "";
      setControls(true);
      render(data);
      pollTimer = setTimeout(poll, CALL_POLL_MS);
    } catch (err) {
      h.showError("softphone-error", err);
    }
  });

  $("hangup").addEventListener("click", async function () {
    if (!call || call.ended) return;
    try {
      render(await h.api("POST", "/softphone/api/calls/" + encodeURIComponent(call.id) + "/hangup"));
    } catch (err) {
      h.showError("softphone-error", err);
    }
  });

  async function press(key) {
    if (!call || call.ended) return;
    tone([DTMF_ROWS[key], DTMF_COLS[key]], 0.15, 0.08);
    $("keys-pressed").textContent += key;
    try {
      await h.api("POST", "/softphone/api/calls/" + encodeURIComponent(call.id) + "/keys", { key: key });
    } catch (err) {
      h.showError("softphone-error", err);
    }
  }
  $("keypad").addEventListener("click", function (event) {
    const button = event.target.closest("button[data-key]");
    if (button && !button.disabled) press(button.dataset.key);
  });
  document.addEventListener("keydown", function (event) {
    const typing = event.target.closest && event.target.closest("input, select, textarea");
    if (!typing && KEYS.includes(event.key) && call && !call.ended) press(event.key);
  });

  // -- the desk phone (agents and leads) ------------------------------------------------------
  const desk = $("desk-phone");
  if (!desk) return;
  let deskShown = "";
  let ringTimer = null;

  function ring(on) {
    if (on && ringTimer === null) {
      tone([440, 480], 0.9, 0.05);
      ringTimer = setInterval(function () { tone([440, 480], 0.9, 0.05); }, 3000);
    } else if (!on && ringTimer !== null) {
      clearInterval(ringTimer);
      ringTimer = null;
    }
  }

  async function deskAction(call, action) {
    try {
      await h.api("POST", "/softphone/api/phone/calls/" + encodeURIComponent(call.channel_id) + "/" + action);
      h.showError("desk-error", null);
      pollDesk();
    } catch (err) {
      h.showError("desk-error", err);
    }
  }

  function renderDesk(phone) {
    $("take-phone").checked = phone.mine;
    desk.dataset.mine = String(phone.mine);
    ring(phone.mine && phone.calls.some((c) => c.state === "ringing"));
    const shown = JSON.stringify(phone);
    if (shown === deskShown) return; // unchanged: keep the buttons under the pointer
    deskShown = shown;
    $("desk-idle").hidden = phone.calls.length > 0;
    $("desk-calls").replaceChildren(
      ...phone.calls.map(function (c) {
        const ringing = c.state === "ringing";
        return h.el(
          "li",
          { dataset: { channelId: c.channel_id, state: c.state } },
          h.el("span", { class: ringing ? "pill warn" : "pill ok" },
            h.t(ringing ? "softphone.desk.ringing" : "softphone.desk.on_call")),
          h.el("span", {}, [c.caller_name, c.caller_number].filter(Boolean).join(" ")),
          phone.mine
            ? [
                ringing
                  ? h.el("button", { type: "button", class: "primary desk-answer", onclick: () => deskAction(c, "answer") },
                      h.t("softphone.desk.answer"))
                  : null,
                h.el("button", { type: "button", class: "danger desk-hangup", onclick: () => deskAction(c, "hangup") },
                  h.t(ringing ? "softphone.desk.decline" : "softphone.desk.hangup")),
              ]
            : h.el("span", { class: "muted" }, h.t("softphone.desk.simulated"))
        );
      })
    );
  }

  async function pollDesk() {
    try {
      renderDesk(await h.api("GET", "/softphone/api/phone"));
      h.showError("desk-error", null);
    } catch (err) {
      h.showError("desk-error", err);
    }
  }

  $("take-phone").addEventListener("change", async function (event) {
    try {
      renderDesk(await h.api("POST", "/softphone/api/phone", { mine: event.target.checked }));
      h.showError("desk-error", null);
    } catch (err) {
      h.showError("desk-error", err);
    }
  });

  pollDesk();
  setInterval(pollDesk, DESK_POLL_MS);
})();
