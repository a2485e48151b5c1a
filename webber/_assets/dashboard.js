// webber's dashboard page: applies batches of what happened in the run (one
// embedded in a report, then streamed by server-sent events while it runs) to a
// graph coloured by state, timeline lanes, counts, failures and printed lines. Every piece of run data goes into the page as
// text (textContent, setAttribute): nothing is ever parsed as HTML.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("webber-data").textContent);
  var LIVE = DATA.live;
  var NS = "http://www.w3.org/2000/svg";
  // The same colours as run.visualize() (webber/viz.py), plus "running", and
  // "stopped": running when the run was stopped (Ctrl-C), so never done.
  var COLORS = {
    pending: "#ffffff", running: "#bbdefb", success: "#c8e6c9", retried: "#ffe082",
    failed: "#ffcdd2", skipped: "#eeeeee", stopped: "#ffe0b2"
  };
  var EDGES = { Success: "#2e7d32", Failure: "#c62828", AnyCase: "#1565c0" };
  var OK = "#81c784", BAD = "#e57373", NOW = "#64b5f6";
  var STRIP = { success: OK, retried: "#ffca28", failed: BAD, skipped: "#bdbdbd", running: NOW,
                stopped: "#ffb74d" };
  var COLLAPSE = 6;      // more tasks than this of one name on one level: one box
  var MAX_LINES = 2000;  // printed lines kept in the output panel
  var W = 170, H = 46, GX = 22, GY = 56, PAD = 16;

  // -- the model: tasks, attempts, lines (one run's; load() starts another) --------
  var tasks;      // id -> task
  var attempts;   // [node, index, number, ok, started, duration, worker, error]
  var live;       // "node|index" -> [node, worker, since]: running now
  var lanes, laneOf;
  var ids;        // the graph's node ids: a batch names a node by its position here
  var lines;      // [node, stream, text]
  var seen;       // how far into the run's ends, attempts, lines, tracebacks
  var finished, duration, allOk, lost = false;

  // The graph comes as columns (see graph() in webber/_dashboard.py).
  function model(g) {
    tasks = new Map();
    ids = g.id;
    g.id.forEach(function (id, i) {
      tasks.set(id, {
        id: id, name: col(g.name, i), level: col(g.level, i), map: false, parents: g.parents[i] || [],
        state: "pending", running: 0, retried: false, error: null, tb: null, items: 0
      });
    });
    g.map.forEach(function (i) { tasks.get(g.id[i]).map = true; });
    attempts = []; live = new Map(); lanes = []; laneOf = new Map(); lines = [];
    seen = [0, 0, 0, 0];
    finished = !DATA.live; duration = null; allOk = null;
  }

  function lane(worker) {
    worker = worker || "unknown";
    if (!laneOf.has(worker)) { laneOf.set(worker, lanes.length); lanes.push(worker); }
  }

  // A column of a batch: a list, or one value for all.
  function col(c, i) { return Array.isArray(c) ? c[i] : c; }
  // A batch's numbers: little-endian, in base64, read one column after another.
  function reader(text) {
    var bytes = atob(text), view = new DataView(new ArrayBuffer(bytes.length)), at = 0;
    for (var i = 0; i < bytes.length; i++) view.setUint8(i, bytes.charCodeAt(i));
    // the next count numbers, of size 8 (doubles), 4 (uint32) or 2 (uint16)
    return function (count, size) {
      var out = new Array(count);
      for (var j = 0; j < count; j++, at += size) {
        out[j] = size === 8 ? view.getFloat64(at, true)
          : size === 4 ? view.getUint32(at, true) : view.getUint16(at, true);
      }
      return out;
    };
  }
  // Nodes come as their positions in the graph's ids.
  function nodesOf(positions) { return positions.map(function (p) { return ids[p]; }); }

  // One batch of what happened, in columns (see batch() in webber/_dashboard_page.py).
  function apply(b) {
    var at = b.att, n = at.n, take = reader(b.bin), size = b.size;
    var nodes = nodesOf(take(n, size[0])), worker = take(n, size[1]);
    var started = take(n, 8), took = take(n, 8);
    started.forEach(function (since, i) {
      var node = nodes[i], t = tasks.get(node);
      if (!t) return;
      var a = [node, col(at.index, i), col(at.number, i), col(at.ok, i), since, took[i],
               at.workers[worker[i]], col(at.error, i)];
      attempts.push(a);
      lane(a[6]);
      if (!a[3]) { t.retried = true; t.error = a[7]; } else if (a[1] !== null) t.items += 1;
      if (t.state === "pending") t.state = "running";
    });
    // (Each task's end right after its one attempt: the attempts' nodes.)
    (b.end.same ? nodes : nodesOf(take(b.end.n, size[0]))).forEach(function (node, i) {
      var t = tasks.get(node), state = col(b.end.state, i);
      if (!t) return;
      t.state = state === "success" && t.retried ? "retried" : state;
    });
    // Every task's end, one state for all (a run that went well, its attempts to follow).
    if (b.end.all) tasks.forEach(function (t) { t.state = b.end.all; });
    live.forEach(function (r) { var t = tasks.get(r[0]); if (t) t.running = 0; });
    live.clear();
    if (!b.done) {
      b.run.forEach(function (r) {
        var t = tasks.get(r[0]);
        if (!t) return;
        live.set(r[0] + "|" + r[1], [r[0], r[3], r[4]]);
        lane(r[3]);
        t.running += 1;
        if (t.state === "pending") t.state = "running";
      });
    }
    b.line.forEach(function (l) { lines.push(l); });
    b.tb.forEach(function (e) { var t = tasks.get(e[0]); if (t) t.tb = e[1]; });
    if (b.done) { duration = b.done[0]; allOk = b.done[1]; finished = true; }
    if (b.done && b.done[1] === null) {  // stopped: what ran then will never end
      tasks.forEach(function (t) { if (t.state === "running") t.state = "stopped"; });
    }
    seen = b.to;
  }

  // -- small DOM helpers (text only) --------------------------------------------------
  function svg(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(name, text, parent, cls) {
    var e = document.createElement(name);
    if (text !== null && text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fit(s, n) { s = String(s); return s.length <= n ? s : s.slice(0, n - 1) + "\u2026"; }
  function seconds(t) {
    if (t === 0) return "0";
    if (t >= 10) return t.toFixed(0) + " s";
    if (t >= 1) return t.toFixed(1) + " s";
    if (t >= 0.01) return (t * 1000).toFixed(0) + " ms";
    return (t * 1000).toFixed(1) + " ms";
  }

  // -- the graph: boxes by level; many tasks of one name on one level share a box --
  var groups, groupOf, edges;
  function build() {
    groups = []; groupOf = new Map(); edges = new Map();
    var count = new Map(), byKey = new Map();
    tasks.forEach(function (t) {
      var k = t.level + "\u0000" + t.name;
      count.set(k, (count.get(k) || 0) + 1);
    });
    tasks.forEach(function (t) {
      var k = t.level + "\u0000" + t.name;
      var key = count.get(k) > COLLAPSE ? "g" + k : "n" + t.id;
      var g = byKey.get(key);
      if (!g) {
        g = { key: key, name: t.name, level: t.level, members: [], ins: [], x: 0, y: 0, el: null, shown: "" };
        byKey.set(key, g);
        groups.push(g);
      }
      g.members.push(t);
      groupOf.set(t.id, g);
    });
    tasks.forEach(function (t) {
      var g = groupOf.get(t.id);
      t.parents.forEach(function (p) {
        var from = groupOf.get(p[0]);
        var k = from.key + "\u0000" + g.key;
        if (!edges.has(k)) { edges.set(k, { from: from, to: g, cond: p[1], data: p[2] }); g.ins.push(from); }
      });
    });
  }

  var selected = null;

  function layout() {
    var rows = [];
    groups.forEach(function (g) { (rows[g.level] = rows[g.level] || []).push(g); });
    var widest = rows.reduce(function (m, r) { return Math.max(m, r ? r.length : 0); }, 1);
    var total = widest * (W + GX) - GX + 2 * PAD;
    rows.forEach(function (row, k) {
      if (!row) return;
      // Order a level by where its parents sit: fewer crossing edges.
      var keyed = row.map(function (g, i) {
        var xs = g.ins.map(function (p) { return p.x; });
        var at = xs.length ? xs.reduce(function (a, b) { return a + b; }, 0) / xs.length : i * (W + GX);
        return [at, i, g];
      });
      keyed.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
      var offset = (total - (row.length * (W + GX) - GX)) / 2;
      keyed.forEach(function (entry, i) {
        entry[2].x = offset + i * (W + GX);
        entry[2].y = PAD + k * (H + GY);
      });
    });
    return { width: total, height: PAD * 2 + rows.length * (H + GY) - GY };
  }

  function drawGraph() {
    var size = layout();
    var height = Math.max(size.height, 40);
    var root = svg("svg", { width: size.width, height: height, viewBox: "0 0 " + size.width + " " + height, role: "img" });
    var defs = svg("defs", {}, root);
    Object.keys(EDGES).forEach(function (c) {
      var m = svg("marker", { id: "arrow-" + c, viewBox: "0 0 10 10", refX: 10, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: EDGES[c] }, m);
    });
    edges.forEach(function (e) {
      var x1 = e.from.x + W / 2, y1 = e.from.y + H, x2 = e.to.x + W / 2, y2 = e.to.y;
      var attrs = {
        d: "M " + x1 + " " + y1 + " C " + x1 + " " + (y1 + GY / 2) + " " + x2 + " " + (y2 - GY / 2) + " " + x2 + " " + y2,
        fill: "none", stroke: EDGES[e.cond], "stroke-width": 1.3, "marker-end": "url(#arrow-" + e.cond + ")"
      };
      if (!e.data) attrs["stroke-dasharray"] = "5 4";
      svg("path", attrs, root);
    });
    groups.forEach(function (g) {
      var one = g.members.length === 1 ? g.members[0] : null;
      var el = svg("g", { "class": "node", transform: "translate(" + g.x + "," + g.y + ")" }, root);
      if (one) el.setAttribute("data-node", one.id); else el.setAttribute("data-group", g.name);
      g.title = svg("title", {}, el);
      g.box = svg("rect", { "class": "box", width: W, height: H, rx: 6, fill: COLORS.pending }, el);
      if (one && one.map) svg("rect", { x: 3, y: 3, width: W - 6, height: H - 6, rx: 4, fill: "none", stroke: "#757575" }, el);
      var name = svg("text", { x: W / 2, y: 19, "text-anchor": "middle" }, el);
      name.textContent = fit(g.name, 24) + (one ? "" : " \u00d7" + g.members.length);
      g.small = svg("text", { "class": "small", x: W / 2, y: 35, "text-anchor": "middle" }, el);
      g.strip = svg("g", {}, el);
      el.addEventListener("click", function () { choose(selected === g ? null : g); });
      g.el = el;
    });
    var box = document.getElementById("graph");
    box.textContent = "";
    box.appendChild(root);
    // A little too wide: shrink it to fit. Much too wide: keep it legible, and scroll.
    if (size.width <= 2 * box.clientWidth) { root.style.maxWidth = "100%"; root.style.height = "auto"; }
  }

  function tally(members) {
    var c = { pending: 0, running: 0, success: 0, retried: 0, failed: 0, skipped: 0, stopped: 0 };
    members.forEach(function (t) { c[t.state] += 1; });
    return c;
  }

  function stateOf(g, c) {
    if (g.members.length === 1) return g.members[0].state;
    if (c.failed) return "failed";
    if (c.running || (!finished && c.pending && c.pending < g.members.length)) return "running";
    if (c.stopped) return "stopped";
    if (c.pending) return "pending";
    if (c.retried) return "retried";
    return c.success ? "success" : "skipped";
  }

  function updateGraph() {
    groups.forEach(function (g) {
      var c = tally(g.members), state = stateOf(g, c), one = g.members.length === 1 ? g.members[0] : null;
      var small, tip;
      if (one) {
        small = (one.id !== one.name ? one.id + " \u00b7 " : "") + state;
        if (one.map) small += " \u00b7 " + one.items + " items";
        tip = one.name + " (" + one.id + "): " + state + (one.error ? "\n" + one.error : "");
      } else {
        var done = g.members.length - c.pending - c.running - c.stopped;
        small = done + "/" + g.members.length + " done" + (c.failed ? ", " + c.failed + " failed" : "");
        tip = g.name + ": " + g.members.length + " tasks, " + small;
      }
      var key = state + "\u0000" + small;
      if (key === g.shown) return;
      g.shown = key;
      g.el.setAttribute("data-state", state);
      g.box.setAttribute("fill", COLORS[state]);
      g.small.textContent = fit(small, 30);
      g.title.textContent = tip;
      if (!one) {  // a strip of the members' states along the box's bottom
        g.strip.textContent = "";
        var x = 0;
        ["success", "retried", "failed", "skipped", "running", "stopped"].forEach(function (s) {
          var w = (W - 12) * c[s] / g.members.length;
          if (w > 0) svg("rect", { x: 6 + x, y: H - 7, width: w, height: 4, fill: STRIP[s] }, g.strip);
          x += w;
        });
      }
    });
  }

  // -- the header: status, counts, progress bar ----------------------------------------
  function updateHeader() {
    var c = tally(Array.from(tasks.values()));
    var total = tasks.size, done = c.success + c.retried + c.failed + c.skipped;
    var status = document.getElementById("status");
    if (DATA.waiting) { status.textContent = "waiting for a run"; status.setAttribute("data-state", "lost"); }
    else if (finished && allOk === null) {
      status.textContent = "stopped before the end"; status.setAttribute("data-state", "lost");
    } else if (finished) {
      status.textContent = (allOk === false ? "failed" : "finished") + (duration !== null ? " in " + seconds(duration) : "");
      status.setAttribute("data-state", allOk === false ? "failed" : "finished");
    } else if (lost) { status.textContent = "reconnecting\u2026"; status.setAttribute("data-state", "lost"); }
    else { status.textContent = "running"; status.setAttribute("data-state", "running"); }
    var counts = document.getElementById("counts");
    counts.textContent = "";
    [[done + "/" + total + " done", "done"], [c.running + " running", "running"],
     [c.success + c.retried + " succeeded", "success"], [c.failed + " failed", "failed"],
     [c.skipped + " skipped", "skipped"]].concat(c.stopped ? [[c.stopped + " stopped", "stopped"]] : [])
     .forEach(function (p) {
      html("span", p[0], counts).setAttribute("data-count", p[1]);
    });
    var bar = document.getElementById("bar");
    bar.textContent = "";
    bar.setAttribute("aria-valuenow", String(done));
    bar.setAttribute("aria-valuemax", String(total));
    [["success", c.success + c.retried, OK], ["failed", c.failed, BAD], ["skipped", c.skipped, "#bdbdbd"],
     ["running", c.running, NOW], ["stopped", c.stopped, STRIP.stopped]].forEach(function (p) {
      if (!p[1]) return;
      var d = html("div", null, bar);
      d.style.width = (100 * p[1] / Math.max(total, 1)) + "%";
      d.style.background = p[2];
      d.title = p[1] + " " + p[0];
    });
  }

  // -- failures --------------------------------------------------------------------------
  var failureEls = new Map();
  function updateFailures() {
    var box = document.getElementById("failures");
    tasks.forEach(function (t) {
      if (t.state !== "failed") return;
      var f = failureEls.get(t.id);
      if (!f) {
        if (!failureEls.size) box.textContent = "";
        var d = html("details", null, box, "failure");
        d.open = true;
        d.setAttribute("data-node", t.id);
        var s = html("summary", null, d);
        html("b", t.name, s);
        if (t.id !== t.name) html("span", " (" + t.id + ")", s);
        html("span", ": ", s);
        f = { error: html("span", "", s, "error"), tb: html("pre", "", d), shown: null };
        failureEls.set(t.id, f);
      }
      var key = (t.error || "") + "\u0000" + (t.tb || "");
      if (key !== f.shown) {
        f.shown = key;
        f.error.textContent = t.error || "failed";
        f.tb.textContent = t.tb || "";
      }
    });
  }

  // -- printed lines -------------------------------------------------------------------
  var shownLines = 0;
  function wanted(line) {
    if (!selected) return true;
    return selected.members.some(function (t) { return t.id === line[0] || t.name === line[0]; });
  }
  function addLine(box, line) {
    var row = html("div", null, box);
    var t = tasks.get(line[0]);
    html("span", t ? t.name : line[0] || "webber", row, "task");
    html("span", line[2], row, line[1] === "stdout" ? "" : line[1]);
  }
  function updateOutput() {
    var box = document.getElementById("output");
    var atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    // Far behind (a report, a new filter): start at the last MAX_LINES that match.
    var kept = 0, from = lines.length;
    while (from > shownLines && kept < MAX_LINES) { from--; if (wanted(lines[from])) kept++; }
    shownLines = from;
    for (; shownLines < lines.length; shownLines++) {
      if (wanted(lines[shownLines])) addLine(box, lines[shownLines]);
    }
    while (box.childNodes.length > MAX_LINES) box.removeChild(box.firstChild);
    if (!box.childNodes.length) html("p", selected ? "no output from this task" : "no output yet", box, "none");
    else if (box.firstChild.className === "none") box.removeChild(box.firstChild);
    if (atEnd) box.scrollTop = box.scrollHeight;
  }
  function choose(g) {
    if (selected && selected.el) selected.el.classList.remove("selected");
    selected = g;
    if (g) g.el.classList.add("selected");
    document.getElementById("filter").textContent = g ? "(of " + g.name + " only; click it again for all)" : "";
    document.getElementById("output").textContent = "";
    shownLines = 0;
    updateOutput();
  }

  // -- the timeline: a canvas, redrawn per batch (thousands of bars stay cheap) ---------
  function drawTimeline() {
    var box = document.getElementById("timeline"), cv = document.getElementById("lanes");
    var LEFT = 150, ROW = 24, BAR = 18, TOP = 8;
    var width = Math.max(box.clientWidth - 2, 320), height = TOP + ROW * Math.max(lanes.length, 1) + 26;
    var ratio = window.devicePixelRatio || 1;
    cv.width = width * ratio; cv.height = height * ratio;
    cv.style.width = width + "px"; cv.style.height = height + "px";
    // What the canvas shows, for a screen reader (a canvas has no text of its own).
    cv.setAttribute("aria-label", "timeline: " + attempts.length + " attempts on " +
                    lanes.length + " lanes" + (live.size ? ", " + live.size + " running" : ""));
    var c = cv.getContext("2d");
    c.scale(ratio, ratio);
    c.font = "11px Helvetica, Arial, sans-serif";
    c.textBaseline = "middle";
    var now = Date.now() / 1000, t0 = Infinity, t1 = -Infinity;
    attempts.forEach(function (a) { t0 = Math.min(t0, a[4]); t1 = Math.max(t1, a[4] + a[5]); });
    live.forEach(function (r) { t0 = Math.min(t0, r[2]); t1 = Math.max(t1, now); });
    if (!isFinite(t0)) { c.fillStyle = "#757575"; c.fillText("no attempt yet", 10, TOP + ROW / 2); return; }
    var span = Math.max(t1 - t0, 1e-3), scale = (width - LEFT - 20) / span;
    var axis = TOP + ROW * lanes.length + 4, step = tick(span);
    c.textAlign = "center";
    for (var t = 0; t <= span * 1.0001; t += step) {
      var x = LEFT + t * scale;
      c.fillStyle = "#e0e0e0"; c.fillRect(x, TOP - 4, 1, axis - TOP + 4);
      c.fillStyle = "#616161"; c.fillText(seconds(t), x, axis + 12);
    }
    c.textAlign = "right";
    c.fillStyle = "#212121";
    lanes.forEach(function (name, i) { c.fillText(fit(name, 22), LEFT - 8, TOP + ROW * i + BAR / 2); });
    c.textAlign = "left";
    function bar(node, index, from, to, color, worker) {
      var x = LEFT + (from - t0) * scale, w = Math.max((to - from) * scale, 1);
      var y = TOP + ROW * laneOf.get(worker || "unknown");
      c.fillStyle = color; c.fillRect(x, y, w, BAR);
      var t = tasks.get(node), label = (t ? t.name : node) + (index === null ? "" : "[" + index + "]");
      if (c.measureText(label).width + 6 <= w) { c.fillStyle = "#212121"; c.fillText(label, x + 3, y + BAR / 2); }
    }
    attempts.forEach(function (a) { bar(a[0], a[1], a[4], a[4] + a[5], a[3] ? OK : BAD, a[6]); });
    live.forEach(function (r, key) { bar(r[0], null, r[2], now, NOW, r[1]); });
  }
  function tick(span) {
    var raw = span / 6, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var factors = [1, 2, 5];
    for (var i = 0; i < factors.length; i++) if (factors[i] * power >= raw) return factors[i] * power;
    return 10 * power;
  }

  // -- legend, drawing, streaming ------------------------------------------------------
  (function legend() {
    var box = document.getElementById("legend");
    Object.keys(COLORS).forEach(function (s) {
      var item = html("span", null, box);
      html("i", null, item).style.background = COLORS[s];
      item.appendChild(document.createTextNode(s));
    });
    [["on success", "Success", ""], ["on failure", "Failure", ""], ["in any case", "AnyCase", ""],
     ["order only", "Success", "order"]].forEach(function (e) {
      var item = html("span", null, box);
      html("b", null, item, e[2]).style.borderColor = EDGES[e[1]];
      item.appendChild(document.createTextNode(e[0]));
    });
  })();

  var timer = null;
  // A run loaded and not drawn yet; a run event's run waits for its first batch
  // (sent with it, in one write) to be drawn: the page never shows that run
  // without it (every task pending, "running", for a run that ended).
  var fresh = false, unbatched = false;
  function render() {
    timer = null;
    if (unbatched) return;
    if (fresh) { clear(); drawGraph(); fresh = false; }
    updateGraph(); updateHeader(); updateFailures(); updateOutput(); drawTimeline();
  }
  function schedule() { if (timer === null) timer = setTimeout(render, 16); }

  // Show the run in ``data`` (the page's own, or the next one the server shows).
  function load(data) {
    if (data.nodes === "same") data.nodes = DATA.nodes;  // another run of the same flow
    DATA = data;
    model(DATA.nodes);
    build();
    failureEls = new Map();
    shownLines = 0;
    if (DATA.batch) apply(DATA.batch);
    fresh = true;
  }
  // The page's parts that show one run, emptied for the run loaded.
  function clear() {
    selected = null;
    var failures = document.getElementById("failures");
    failures.textContent = "";
    html("p", "none", failures, "none");
    document.getElementById("output").textContent = "";
    document.getElementById("filter").textContent = "";
    document.title = "webber: " + DATA.name;
    document.getElementById("title").textContent = DATA.name;
  }
  load(DATA);
  render();
  window.addEventListener("resize", schedule);

  if (LIVE) {
    // One stream for as long as the page is open: batches of the run shown, and
    // a "run" event with the next run's graph when the dashboard moves on to it.
    var token = new URLSearchParams(location.search).get("token") || "";
    var events = new EventSource("events?token=" + encodeURIComponent(token) + "&run=" + DATA.run);
    events.onmessage = function (m) {
      var batch = JSON.parse(m.data);
      if (String(batch.from) !== String(seen)) { events.close(); location.reload(); return; }  // a gap: start over
      apply(batch);
      lost = unbatched = false;
      schedule();
    };
    events.addEventListener("run", function (m) {
      lost = false; unbatched = true; load(JSON.parse(m.data));
    });
    events.onerror = function () { if (!finished) { lost = true; schedule(); } };
    // Running bars grow while nothing else happens.
    setInterval(function () { if (!finished && live.size) schedule(); }, 250);
  }
})();
