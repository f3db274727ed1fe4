// The live status page: fetches status.json every 2 s and draws it. Every text goes in
// through textContent (staff and counter names come from the hall's configuration).
"use strict";

(function () {
  const REFRESH_MS = 2000;
  const TIMEOUT_MS = 5000;
  const STATES = {
    closed: ["未开窗", "closed"],
    idle: ["空闲", "idle"],
    serving: ["办理中", "serving"],
    invited: ["待评价", "invited"],
    paused: ["暂停服务", "paused"],
  };
  const KINDS = {
    not_prompted: ["未提示评价", "not prompted"],
    refused_evaluation: ["拒绝评价", "refused evaluation"],
    device_offline: ["评价器离线", "device offline"],
    left_mid_service: ["中途离岗", "left mid-service"],
    long_pause: ["暂停超时", "long pause"],
    consecutive_rating: ["连续评价", "consecutive rating"],
    self_rating: ["自我评价", "self rating"],
    unbound_rating: ["无效评价", "unbound rating"],
  };
  const DEVICE = {
    online: ["在线", "online"],
    offline: ["离线", "offline"],
    link_lost: ["链路断开", "link lost"],
    fault: ["故障", "fault"],
    unknown: ["未见", "not seen"],
  };
  // A repair record's status (RULES.md §3: reported, then verified by the IT department).
  const FAULT_STATUS = {
    unverified: ["待核实", "awaiting the IT department"],
    verified: ["已查实", "verified device fault"],
    rejected: ["非设备故障", "not a device fault"],
  };
  const SOURCES = { staff: "工作人员 staff", pad: "评价器自检 pad", it: "信息技术科 IT" };
  let lastGood = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // A Chinese label with its English in small type.
  function label(pair, cls) {
    const e = el("span", cls, pair[0] + " ");
    e.appendChild(el("small", null, pair[1]));
    return e;
  }

  function fill(id, ...children) {
    document.getElementById(id).replaceChildren(...children);
  }

  function text(id, value) {
    document.getElementById(id).textContent = value === undefined || value === null ? "—" : String(value);
  }

  // The hall's local time as written in the ISO string (not the browser's time zone).
  function clock(iso) {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(typeof iso === "string" ? iso : "");
    return m ? { date: m[1], time: m[2] } : null;
  }

  function timeOf(iso) {
    const c = clock(iso);
    return c ? c.time : "—";
  }

  function duration(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds) || seconds < 0) return "—";
    const s = Math.floor(seconds);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    return m + " min " + (s % 60) + " s";
  }

  function num(value) {
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  function percent(rate) {
    const r = num(rate);
    return r === null ? "—" : (r * 100).toFixed(1) + "%";
  }

  function penalty(value) {
    const p = num(value);
    return p === null ? "—" : p.toFixed(1);
  }

  function renderHeader(snap) {
    const hall = snap.hall || {};
    const agent = snap.agent || {};
    const journal = agent.journal || {};
    const center = agent.center;
    text("hall", hall.id);
    const c = clock(hall.now);
    text("clock", c ? c.date + " " + c.time : null);
    text("uptime", duration(agent.uptime_s));
    text("seq", num(journal.seq));
    text("inbox", num(agent.inbox));
    const since = clock(agent.started);
    text("since", since ? since.date + " " + since.time : null);
    if (center === null || center === undefined) {
      text("backlog", "—");
      fill("center", label(["未配置上传", "no center uplink"], "muted"));
    } else {
      text("backlog", num(center.backlog));
      const parts = [el("span", null, "已确认 "), el("small", null, "confirmed "),
        el("strong", null, num(center.confirmed_seq) === null ? "—" : center.confirmed_seq)];
      if (center.last_error) {
        parts.push(el("br"), el("span", "error", "错误 "), el("small", "error", "error "),
          el("span", "error", center.last_error));
      }
      fill("center", ...parts);
    }
  }

  function deviceState(d) {
    if (d.fault) return "fault";
    if (d.online !== false && d.link_lost) return "link_lost";
    if (d.online === true) return "online";
    if (d.online === false) return "offline";
    return "unknown";
  }

  function renderDevice(d) {
    const state = deviceState(d);
    const li = el("li", "device device-" + state);
    li.appendChild(el("span", "dot"));
    li.appendChild(el("span", "device-id", d.id));
    li.appendChild(el("small", "device-kind", [d.kind, d.link].filter(Boolean).join(" · ")));
    li.appendChild(label(DEVICE[state], "device-state"));
    li.appendChild(el("small", "seen", d.last_seen ? "最后 " + timeOf(d.last_seen) : "从未 never"));
    if (typeof d.pixels === "string" && d.pixels.length) li.appendChild(padScreen(d.pixels, d.id));
    (Array.isArray(d.repairs) ? d.repairs : []).forEach((r) => li.appendChild(renderRepair(r)));
    return li;
  }

  // A pad's or sign's screen: the display's 1024 bytes (128x64, SSD1306 page order),
  // drawn by the firmware's own code on the agent.
  function padScreen(b64, id) {
    const wrap = el("div", "pad-screen-wrap");
    const canvas = document.createElement("canvas");
    canvas.width = 128;
    canvas.height = 64;
    canvas.className = "pad-screen";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", id + " 屏幕 screen");
    let bytes = "";
    try { bytes = atob(b64); } catch (e) { return wrap; }
    if (bytes.length !== 1024) return wrap;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(128, 64);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 128; x++) {
        const lit = bytes.charCodeAt((y >> 3) * 128 + x) & (1 << (y & 7));
        const at = (y * 128 + x) * 4;
        image.data[at] = lit ? 150 : 8;
        image.data[at + 1] = lit ? 215 : 12;
        image.data[at + 2] = lit ? 255 : 20;
        image.data[at + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    wrap.appendChild(canvas);
    return wrap;
  }

  function renderPadFont(padFont) {
    const items = [];
    if (padFont && padFont.font === null) {
      const li = el("li", "warn");
      li.appendChild(label(["未安装字库：中文显示为方框", "no glyph file: Chinese shows as boxes"]));
      items.push(li);
    }
    const missing = padFont && Array.isArray(padFont.missing) ? padFont.missing : [];
    missing.forEach((m) => {
      const li = el("li", "warn");
      li.appendChild(el("span", "padfont-text", m.text));
      li.appendChild(el("small", "padfont-chars", "缺字 lacks " + m.chars));
      items.push(li);
    });
    fill("padfont", ...(items.length ? items : [el("li", "muted", "无缺字 none missing")]));
  }

  // One open repair record (报修) of a device: its ref, who filed it, and its status.
  function renderRepair(r) {
    const status = Object.prototype.hasOwnProperty.call(FAULT_STATUS, r.status) ? r.status : "unverified";
    const div = el("small", "repair repair-" + status);
    div.appendChild(el("span", "repair-what", "报修 repair " + (r.ref || "—") + " · " +
      (SOURCES[r.source] || r.source || "") + " · " + timeOf(r.t) + " "));
    div.appendChild(label(FAULT_STATUS[status], "repair-status"));
    return div;
  }

  // A device_offline incident's standing: exempt once a covering report is verified,
  // pending (deducted until ruled) while one is unverified, deducted when all are rejected.
  function outageNote(i) {
    const faults = Array.isArray(i.faults) ? i.faults : [];
    if (i.exempt) return ["exempt", ["已查实 免扣", "verified fault: exempt"]];
    if (i.pending) return ["pending", ["待核实 暂扣", "deducted until the IT department rules"]];
    if (faults.length && faults.every((f) => f.status === "rejected")) {
      return ["counted", ["非设备故障 扣分", "not a device fault: counted"]];
    }
    return null;
  }

  function figure(pair, value, cls) {
    const div = el("div", cls);
    div.appendChild(el("dt", null)).appendChild(label(pair));
    div.appendChild(el("dd", null, value === null || value === undefined ? "—" : value));
    return div;
  }

  function renderIncident(i, c) {
    const charged = !i.exempt && num(i.penalty) !== null && i.penalty > 0;
    const outage = outageNote(i);
    const cls = outage ? outage[0] : i.exempt ? "exempt" : charged ? "counted" : "listed";
    const tr = el("tr", cls);
    tr.appendChild(el("td", "t", timeOf(i.t)));
    const kind = el("td", "kind");
    kind.appendChild(label(KINDS[i.kind] || [String(i.kind), ""]));
    if (i.device) kind.appendChild(el("small", "incident-device", i.device));
    tr.appendChild(kind);
    const named = i.staff && i.staff === c.staff && c.staff_name;
    tr.appendChild(el("td", "staff", named ? c.staff_name + " " + i.staff : i.staff || "—"));
    tr.appendChild(el("td", "penalty", penalty(i.penalty)));
    const note = outage ? outage[1] : { exempt: ["免扣", "exempt"],
      counted: ["扣分", "counted"], listed: ["记录", "listed"] }[cls];
    const td = el("td", "note");
    td.appendChild(label(note));
    (Array.isArray(i.faults) ? i.faults : []).forEach((f) => {
      const status = FAULT_STATUS[f.status] || [String(f.status), ""];
      td.appendChild(el("small", "fault-ref", (f.ref || "—") + " " + status[0]));
    });
    tr.appendChild(td);
    return tr;
  }

  function renderCounter(c) {
    const state = Object.prototype.hasOwnProperty.call(STATES, c.state) ? c.state : "unknown";
    const card = el("article", "card state-" + state);
    card.dataset.counter = String(c.id);
    const head = el("header", "card-head");
    head.appendChild(el("span", "counter-id", c.id));
    head.appendChild(el("span", "counter-name", c.name || ""));
    head.appendChild(label(STATES[state] || [String(c.state), "unknown"], "badge"));
    card.appendChild(head);

    const staff = el("p", "staff");
    staff.appendChild(label(["工作人员", "staff"], "key"));
    const who = c.staff_name || c.staff;
    staff.appendChild(el("strong", "staff-name", who || "—"));
    if (c.staff_name && c.staff) staff.appendChild(el("small", "staff-id", c.staff));
    if (c.screen && c.screen !== c.state) {
      staff.appendChild(el("small", "screen", "屏幕 screen: " + c.screen));
    }
    card.appendChild(staff);

    const devices = el("ul", "devices");
    (Array.isArray(c.devices) ? c.devices : []).forEach((d) => devices.appendChild(renderDevice(d)));
    if (!devices.children.length) devices.appendChild(el("li", "muted", "无设备 no devices"));
    card.appendChild(devices);

    const t = c.today || {};
    const figs = el("dl", "today");
    figs.appendChild(figure(["叫号", "tickets"], num(t.tickets)));
    figs.appendChild(figure(["评价", "ratings"], num(t.ratings)));
    figs.appendChild(figure(["有效", "accepted"], num(t.accepted)));
    figs.appendChild(figure(["满意", "satisfied"], num(t.satisfied)));
    figs.appendChild(figure(["满意率", "rate"], percent(t.rate), "rate"));
    card.appendChild(figs);

    const incidents = Array.isArray(c.incidents) ? c.incidents : [];
    if (incidents.length) {
      const table = el("table", "incidents");
      const body = el("tbody");
      incidents.forEach((i) => body.appendChild(renderIncident(i, c)));
      table.appendChild(body);
      card.appendChild(table);
    } else {
      card.appendChild(label(["今日无事件", "no incidents today"], "muted none"));
    }
    return card;
  }

  function isTable(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // A value of a link's health as words: "k v, k v" for a table, never raw JSON.
  function describe(value) {
    if (isTable(value)) {
      const keys = Object.keys(value);
      return keys.length ? keys.map((k) => k + " " + describe(value[k])).join(", ") : "—";
    }
    if (Array.isArray(value)) return value.map(describe).join(", ") || "—";
    return value === null || value === undefined ? "—" : String(value);
  }

  function renderLinks(links) {
    const items = Object.keys(links || {}).sort().map((name) => {
      const link = links[name] || {};
      const up = link.open === true || link.connected === true;
      const down = link.open === false || link.connected === false;
      const li = el("li", up ? "link up" : down ? "link down" : "link");
      li.appendChild(el("span", "dot"));
      li.appendChild(el("span", "link-name", name));
      const extra = [];
      const parts = [];  // a link of several devices (evdev): one line each
      Object.keys(link).filter((k) => k !== "open" && k !== "connected").forEach((k) => {
        if (isTable(link[k]) && Object.values(link[k]).some(isTable)) {
          Object.keys(link[k]).sort().forEach((sub) => parts.push(sub + ": " + describe(link[k][sub])));
        } else {
          extra.push(k + " " + describe(link[k]));
        }
      });
      if (extra.length) li.appendChild(el("small", "link-extra", extra.join(" · ")));
      parts.forEach((line) => li.appendChild(el("small", "link-extra link-part", line)));
      return li;
    });
    fill("links", ...(items.length ? items : [el("li", "muted", "无 none")]));
  }

  function renderRejections(rejections) {
    const rows = Object.keys(rejections || {}).sort().map((reason) => {
      const tr = el("tr");
      tr.appendChild(el("td", "reason", reason));
      tr.appendChild(el("td", "count", rejections[reason]));
      return tr;
    });
    if (!rows.length) {
      const tr = el("tr");
      tr.appendChild(el("td", "muted", "无 none"));
      rows.push(tr);
    }
    document.querySelector("#rejections tbody").replaceChildren(...rows);
  }

  function render(snap) {
    renderHeader(snap);
    const counters = Array.isArray(snap.counters) ? snap.counters : [];
    fill("counters", ...(counters.length ? counters.map(renderCounter)
      : [label(["未配置窗口", "no counters"], "muted")]));
    renderLinks(snap.links);
    renderRejections(snap.rejections);
    renderPadFont(snap.pad_font);
  }

  const UNREACHABLE = ["无法连接评价代理", "agent unreachable"];
  const BAD_DATA = ["状态数据有误", "bad status data"];

  function setConn(ok, why, what) {
    const conn = document.getElementById("conn");
    document.body.classList.remove("waiting");
    document.body.classList.toggle("stale", !ok);
    if (ok) {
      conn.className = "conn ok";
      conn.replaceChildren();
      return;
    }
    conn.className = "conn down";
    const since = lastGood ? "最后更新 last update " + lastGood : "尚未收到数据 no data yet";
    conn.replaceChildren(label(what || UNREACHABLE, "what"),
      el("small", "why", " " + why + " · " + since));
  }

  async function refresh() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
    let snap;
    try {
      const r = await fetch("status.json", { cache: "no-store", signal: ctl.signal });
      if (!r.ok) throw new Error("HTTP " + r.status);
      snap = await r.json();
    } catch (e) {
      setConn(false, e && e.name === "AbortError" ? "timeout" : String(e && e.message || e));
      return;
    } finally {
      clearTimeout(timer);
    }
    try {
      render(snap);
    } catch (e) {
      setConn(false, String(e && e.message || e), BAD_DATA);
      return;
    }
    const at = clock(snap && snap.hall && snap.hall.now);
    lastGood = at ? at.time : new Date().toLocaleTimeString();
    text("updated", lastGood);
    setConn(true);
  }

  async function loop() {
    await refresh();
    setTimeout(loop, REFRESH_MS);
  }

  loop();
})();
