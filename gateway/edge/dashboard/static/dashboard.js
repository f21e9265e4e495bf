// portgate outlook dashboard (Apache-2.0). Plain DOM, no framework, nothing from a CDN.
// Subscribes to the gateway's `outlookUpdates` (asking `outlook` again every refresh interval
// when live updates cannot be had) and draws it; a port that did not answer is shown as missing,
// never as zero. Text goes in with textContent only: no answer can inject markup.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("portgate-dashboard-config").textContent);
  var KEY_STORAGE = "portgate.apiKey"; // GraphiQL's page reads the same one
  var SVG = "http://www.w3.org/2000/svg";
  var BOXES_STORAGE = "portgate.dashboard.containers";
  var MAX_BOXES = 20;
  var QUERY = [
    "query PortgateDashboard($days: Int!, $boxes: [String!]) {",
    "  outlook(days: $days, containers: $boxes) {",
    "    generatedAt windowStart windowEnd",
    "    ports { UNLocationCode name answered status vesselsAtAnchor vesselsAtBerth",
    "      expectedArrivals averageDelayHours containerDwellDays truckTurnTimeMinutes",
    "      lateArrivals { transportCallReference vesselName plannedArrivalDateTime",
    "        estimatedArrivalDateTime delayHours }",
    "      notOffered gateClosures { facilitySMDGCode terminalName date closureReason }",
    "      emptyReturnRestrictions { facilitySMDGCode terminalName date carrierSCACCode",
    "        ISOEquipmentCode } }",
    "    comparison { mostVesselsAtAnchor mostDelayed longestDwell longestTruckTurn missing }",
    "    containers { equipmentReference found sourcePort status firstAvailableDate",
    "      lastFreeDay holdsPending atRisk reasons }",
    "  }",
    "}",
  ].join("\n");
  // The same, by subscription: the outlook again whenever a figure changes (GraphQL over SSE).
  var SUBSCRIPTION = QUERY.replace(
    "query PortgateDashboard",
    "subscription PortgateDashboardLive"
  ).replace("  outlook(days", "  outlook: outlookUpdates(days");

  var timer = null;
  var stream = null; // the open subscription's AbortController, if any
  var inFlight = false;
  var lastSuccess = null; // when the figures on screen were fetched (ms since the epoch)
  var lastFailed = false;
  var view = viewSettings();

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function storedKey() {
    try {
      return window.localStorage.getItem(KEY_STORAGE) || "";
    } catch (e) {
      return "";
    }
  }

  function storeKey(value) {
    try {
      if (value) window.localStorage.setItem(KEY_STORAGE, value);
      else window.localStorage.removeItem(KEY_STORAGE);
    } catch (e) {
      /* storage refused (private mode): the key lasts for this page only */
    }
  }

  // The window and the refresh interval: the page's link (?days=&refresh=), else the defaults.
  function viewSettings() {
    var params = new URLSearchParams(window.location.search);
    return {
      days: bounded(params.get("days"), 1, 14, config.days),
      refreshSeconds: bounded(params.get("refresh"), 10, 3600, config.refreshSeconds),
    };
  }

  function bounded(text, low, high, otherwise) {
    var value = Number(text);
    return text !== null && Number.isInteger(value) && value >= low && value <= high
      ? value
      : otherwise;
  }

  // Decimals of each figure, the same in every row: counts whole, the rest to one decimal.
  var DECIMALS = {
    vesselsAtAnchor: 0,
    vesselsAtBerth: 0,
    expectedArrivals: 0,
    averageDelayHours: 1,
    containerDwellDays: 1,
    truckTurnTimeMinutes: 1,
    delayHours: 1,
  };

  // A figure for display: null is "—" (not available), a number to its field's decimals.
  function figure(value, field) {
    if (value === null || value === undefined) return "—";
    var decimals = DECIMALS[field] === undefined ? 1 : DECIMALS[field];
    return Number(value).toFixed(decimals);
  }

  function when(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function replaceRows(tbody, rows) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    rows.forEach(function (row) {
      tbody.appendChild(row);
    });
  }

  var FIGURES = [
    "vesselsAtAnchor",
    "vesselsAtBerth",
    "expectedArrivals",
    "averageDelayHours",
    "containerDwellDays",
    "truckTurnTimeMinutes",
  ];

  var LABELS = {
    vesselsAtAnchor: "At anchor",
    vesselsAtBerth: "At berth",
    expectedArrivals: "Expected arrivals",
    averageDelayHours: "Avg delay (h)",
    containerDwellDays: "Dwell (days)",
    truckTurnTimeMinutes: "Truck turn (min)",
  };

  function portRows(ports) {
    return ports.map(function (port) {
      var tr = el("tr", null, port.answered ? "answered" : "missing");
      tr.dataset.port = port.UNLocationCode;
      tr.dataset.answered = String(port.answered);
      var name = el("td");
      name.dataset.label = "Port";
      name.appendChild(el("strong", port.UNLocationCode));
      if (port.name) name.appendChild(el("span", " " + port.name, "port-name"));
      tr.appendChild(name);
      var answered = el("td", port.answered ? "yes" : "MISSING", "answered-cell");
      answered.dataset.field = "answered";
      answered.dataset.label = "Answered";
      tr.appendChild(answered);
      FIGURES.forEach(function (field) {
        var td = el("td", port.answered ? figure(port[field], field) : "missing", "num");
        td.dataset.field = field;
        td.dataset.label = LABELS[field];
        if (port.answered && port[field] === null) td.title = "withheld or not reported";
        tr.appendChild(td);
      });
      var status = el("td", port.answered ? port.status || "—" : "MISSING");
      status.dataset.field = "status";
      status.dataset.label = "Status";
      tr.appendChild(status);
      return tr;
    });
  }

  // Horizontal bars, one per port, as inline SVG; a missing port gets a label, not a bar.
  function barChart(target, ports, field, unit) {
    var rowHeight = 26;
    var labelWidth = 64;
    var width = 360;
    var barSpace = width - labelWidth - 70;
    var values = ports
      .filter(function (p) {
        return p.answered && typeof p[field] === "number";
      })
      .map(function (p) {
        return p[field];
      });
    var max = Math.max.apply(null, values.concat([0])) || 1;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + ports.length * rowHeight);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", chartSummary(ports, field, unit));
    ports.forEach(function (port, i) {
      var y = i * rowHeight;
      var label = document.createElementNS(SVG, "text");
      label.setAttribute("x", "0");
      label.setAttribute("y", String(y + 17));
      label.textContent = port.UNLocationCode;
      svg.appendChild(label);
      var value = document.createElementNS(SVG, "text");
      value.setAttribute("y", String(y + 17));
      if (!port.answered) {
        value.setAttribute("x", String(labelWidth));
        value.setAttribute("class", "missing");
        value.textContent = "missing";
      } else if (typeof port[field] !== "number") {
        value.setAttribute("x", String(labelWidth));
        value.textContent = "— not available";
      } else {
        var length = Math.max(1, (port[field] / max) * barSpace);
        var bar = document.createElementNS(SVG, "rect");
        bar.setAttribute("x", String(labelWidth));
        bar.setAttribute("y", String(y + 4));
        bar.setAttribute("width", length.toFixed(1));
        bar.setAttribute("height", String(rowHeight - 8));
        bar.setAttribute("class", "bar");
        svg.appendChild(bar);
        value.setAttribute("x", String(labelWidth + length + 6));
        value.textContent = figure(port[field], field) + (unit ? " " + unit : "");
      }
      svg.appendChild(value);
    });
    while (target.firstChild) target.removeChild(target.firstChild);
    target.appendChild(svg);
  }

  // What a chart shows, in words, for a screen reader.
  function chartSummary(ports, field, unit) {
    return ports
      .map(function (port) {
        if (!port.answered) return port.UNLocationCode + " missing";
        if (typeof port[field] !== "number") return port.UNLocationCode + " not available";
        return port.UNLocationCode + " " + figure(port[field], field) + (unit ? " " + unit : "");
      })
      .join(", ");
  }

  function lateRows(ports) {
    var rows = [];
    ports.forEach(function (port) {
      (port.lateArrivals || []).forEach(function (call) {
        rows.push({ port: port.UNLocationCode, call: call });
      });
    });
    rows.sort(function (a, b) {
      return b.call.delayHours - a.call.delayHours;
    });
    if (!rows.length) {
      var none = el("tr");
      var td = el("td", "No late arrivals among the ports that answered.");
      td.colSpan = 6;
      none.appendChild(td);
      return [none];
    }
    return rows.map(function (r) {
      var tr = el("tr");
      tr.appendChild(el("td", r.port));
      tr.appendChild(el("td", r.call.vesselName || "—"));
      tr.appendChild(el("td", r.call.transportCallReference));
      tr.appendChild(el("td", when(r.call.plannedArrivalDateTime)));
      tr.appendChild(el("td", when(r.call.estimatedArrivalDateTime)));
      tr.appendChild(el("td", figure(r.call.delayHours, "delayHours"), "num"));
      return tr;
    });
  }

  var CLOSURE_WORDS = {
    HOLIDAY: "holiday",
    WEATHER: "weather",
    MAINTENANCE: "maintenance",
    SECURITY: "security",
    OTHER: "other reason",
  };

  function terminalRows(ports) {
    // Gate closures and refused empties by terminal; a port that does not publish them says
    // so, and one that did not answer is missing: never an empty list that reads as "none".
    var rows = [];
    function row(port, terminal, date, what, className) {
      var tr = el("tr", null, className);
      tr.dataset.port = port;
      tr.appendChild(el("td", port));
      tr.appendChild(el("td", terminal));
      tr.appendChild(el("td", date));
      tr.appendChild(el("td", what));
      rows.push(tr);
    }
    ports.forEach(function (port) {
      var code = port.UNLocationCode;
      if (!port.answered) {
        row(code, "—", "—", "missing: the port did not answer", "missing");
        return;
      }
      var lacking = [];
      if (port.gateClosures === null) lacking.push("gate hours");
      if (port.emptyReturnRestrictions === null) lacking.push("empty-return rules");
      (port.gateClosures || []).forEach(function (c) {
        var reason = CLOSURE_WORDS[c.closureReason] || c.closureReason;
        row(code, c.terminalName || c.facilitySMDGCode, c.date, "gate closed (" + reason + ")");
      });
      (port.emptyReturnRestrictions || []).forEach(function (r) {
        var what = "empties refused: " + r.carrierSCACCode + " " + r.ISOEquipmentCode;
        row(code, r.terminalName || r.facilitySMDGCode, r.date, what);
      });
      if (lacking.length) {
        row(code, "—", "—", "not published by this port: " + lacking.join(", "), "not-offered");
      }
    });
    if (!rows.length) {
      var none = el("tr");
      var td = el("td", "No gate closures or refused empties at the ports that answered.");
      td.colSpan = 4;
      none.appendChild(td);
      return [none];
    }
    return rows;
  }

  function comparisonText(comparison) {
    var parts = [];
    parts.push("Most at anchor: " + (comparison.mostVesselsAtAnchor || "—"));
    parts.push("most delayed: " + (comparison.mostDelayed || "—"));
    parts.push("longest dwell: " + (comparison.longestDwell || "—"));
    parts.push("longest truck turn: " + (comparison.longestTruckTurn || "—"));
    parts.push(
      "missing: " + (comparison.missing.length ? comparison.missing.join(", ") : "none")
    );
    return parts.join(" · ");
  }

  function sourceRows(ports, sources) {
    var byPort = {};
    (sources || []).forEach(function (s) {
      byPort[s.port] = s;
    });
    return ports.map(function (port) {
      var s = byPort[port.UNLocationCode];
      var tr = el("tr");
      tr.dataset.port = port.UNLocationCode;
      tr.appendChild(el("td", port.UNLocationCode));
      var status = el("td", s ? s.status : "not asked", "source-" + (s ? s.status : "none"));
      status.dataset.field = "source";
      tr.appendChild(status);
      var age = "—";
      if (s && typeof s.cacheAgeSeconds === "number") age = "cached " + s.cacheAgeSeconds + " s ago";
      else if (s && typeof s.latencyMs === "number") age = Math.round(s.latencyMs) + " ms";
      tr.appendChild(el("td", age, "num"));
      tr.appendChild(el("td", (s && s.code) || ""));
      return tr;
    });
  }

  function showErrors(errors) {
    var list = $("errors");
    var items = (errors || []).map(function (e) {
      var code = e.extensions && e.extensions.code ? " (" + e.extensions.code + ")" : "";
      return el("li", e.message + code);
    });
    replaceRows(list, items);
    $("errors-section").hidden = !items.length;
  }

  function showWithheld(withheld) {
    // Figures the policy keeps from this key's role: blank in the tables, said once, quietly.
    var note = $("withheld");
    var count = (withheld || []).reduce(function (n, w) {
      return n + (typeof w.count === "number" ? w.count : 1);
    }, 0);
    note.textContent = count
      ? count + " figure(s) are withheld for this key's role; they show as —."
      : "";
    note.hidden = !count;
  }

  function storedBoxes() {
    try {
      return parseBoxes(window.localStorage.getItem(BOXES_STORAGE) || "");
    } catch (e) {
      return [];
    }
  }

  function parseBoxes(text) {
    var seen = {};
    return String(text)
      .toUpperCase()
      .split(/[\s,;]+/)
      .filter(function (box) {
        if (!box || seen[box]) return false;
        seen[box] = true;
        return true;
      })
      .slice(0, MAX_BOXES);
  }

  function containerRows(containers, boxes) {
    if (!boxes.length || !containers) {
      var none = el("tr");
      var td = el(
        "td",
        boxes.length ? "No answer about these containers." : "Enter container numbers above."
      );
      td.colSpan = 8;
      none.appendChild(td);
      return [none];
    }
    return containers.map(function (box) {
      var tr = el("tr");
      tr.dataset.container = box.equipmentReference;
      tr.appendChild(el("td", box.equipmentReference));
      tr.appendChild(el("td", box.found ? box.sourcePort || "—" : "not found"));
      tr.appendChild(el("td", box.status || "—"));
      tr.appendChild(el("td", box.firstAvailableDate || "—"));
      tr.appendChild(el("td", box.lastFreeDay || "—"));
      tr.appendChild(el("td", (box.holdsPending || []).join(", ") || "none"));
      var risk = box.atRisk === null ? "—" : box.atRisk ? "AT RISK" : "no";
      tr.appendChild(el("td", risk, box.atRisk ? "risk" : ""));
      tr.appendChild(el("td", (box.reasons || []).join("; ")));
      return tr;
    });
  }

  function showMissing(comparison) {
    var banner = $("missing-banner");
    var missing = comparison.missing || [];
    banner.textContent = missing.length
      ? "Not answering: " +
        missing.join(", ") +
        ". Their figures are missing below, not zero."
      : "";
    banner.hidden = !missing.length;
  }

  // How old the figures on screen are; red once they are older than two refreshes or the
  // last refresh failed.
  function showAge() {
    var box = $("freshness");
    if (lastSuccess === null) return;
    var seconds = Math.max(0, Math.round((Date.now() - lastSuccess) / 1000));
    $("age").textContent = "(" + seconds + " s ago)";
    var stale = lastFailed || seconds > 2 * view.refreshSeconds;
    box.className = stale ? "freshness stale" : "freshness";
  }

  function render(body) {
    var outlook = body.data.outlook;
    $("window").textContent =
      "Next " + view.days + " day(s): " + when(outlook.windowStart) + " to " + when(outlook.windowEnd);
    showMissing(outlook.comparison);
    replaceRows(
      document.querySelector("#containers tbody"),
      containerRows(outlook.containers, storedBoxes())
    );
    replaceRows(document.querySelector("#ports tbody"), portRows(outlook.ports));
    barChart($("chart-anchor"), outlook.ports, "vesselsAtAnchor", "");
    barChart($("chart-delay"), outlook.ports, "averageDelayHours", "h");
    barChart($("chart-dwell"), outlook.ports, "containerDwellDays", "d");
    replaceRows(document.querySelector("#late tbody"), lateRows(outlook.ports));
    replaceRows(document.querySelector("#terminal-notes tbody"), terminalRows(outlook.ports));
    $("comparison").textContent = comparisonText(outlook.comparison);
    replaceRows(
      document.querySelector("#sources tbody"),
      sourceRows(outlook.ports, body.extensions && body.extensions.sources)
    );
    showErrors(body.errors);
    showWithheld(body.extensions && body.extensions.withheld);
    var updated = $("last-updated");
    updated.textContent = when(outlook.generatedAt).replace(" UTC", "") + " UTC";
    updated.dateTime = outlook.generatedAt;
    document.body.dataset.loaded = "true";
  }

  function setStatus(text, failed) {
    var status = $("status");
    status.textContent = text;
    status.className = failed ? "failed" : "";
  }

  function refresh() {
    if (inFlight) return;
    inFlight = true;
    var headers = requestHeaders();
    var key = storedKey();
    var boxes = storedBoxes();
    var variables = { days: view.days, boxes: boxes.length ? boxes : null };
    fetch(config.endpoint, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({ query: QUERY, variables: variables }),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, status: response.status, body: body };
        });
      })
      .then(function (r) {
        if (!r.body || !r.body.data || !r.body.data.outlook) {
          var message = r.body && r.body.errors ? r.body.errors[0].message : "no outlook";
          throw new Error("HTTP " + r.status + ": " + message);
        }
        render(r.body);
        lastSuccess = Date.now();
        lastFailed = false;
        setStatus(key ? "Live (with your API key)" : "Live (public view)", false);
        showAge();
      })
      .catch(function (error) {
        // Keep the last figures on screen, and say plainly that they are not current.
        lastFailed = true;
        setStatus("Refresh failed: " + error.message + " (figures shown may be old)", true);
        showAge();
      })
      .then(function () {
        inFlight = false;
      });
  }

  function requestHeaders() {
    var headers = { "Content-Type": "application/json", "X-Portgate-CSRF": "1" };
    var key = storedKey();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  // One block of the stream: a message, the end, or a heartbeat (a comment line).
  function streamed(block) {
    if (block.charAt(0) === ":") {
      lastSuccess = Date.now(); // nothing changed, and the stream is alive: still current
      showAge();
      return;
    }
    var event = "";
    var data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
    });
    if (event !== "next" || !data) return;
    var body = JSON.parse(data);
    if (!body.data || !body.data.outlook) {
      var message = body.errors ? body.errors[0].message : "no outlook";
      throw new Error(message);
    }
    render(body);
    lastSuccess = Date.now();
    lastFailed = false;
    setStatus(storedKey() ? "Live (with your API key)" : "Live (public view)", false);
    showAge();
  }

  // Live updates by subscription; when the stream cannot be had or breaks, the page asks again
  // every refresh interval (and tries the stream again then).
  function subscribe() {
    if (stream !== null) stream.abort();
    var controller = new AbortController();
    stream = controller;
    var headers = requestHeaders();
    headers.Accept = "text/event-stream";
    var boxes = storedBoxes();
    var variables = { days: view.days, boxes: boxes.length ? boxes : null };
    fetch(config.endpoint, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({ query: SUBSCRIPTION, variables: variables }),
      signal: controller.signal,
    })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (type.indexOf("text/event-stream") !== 0) {
          throw new Error("HTTP " + response.status + ": no live updates");
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) throw new Error("the live updates ended");
            buffer += decoder.decode(chunk.value, { stream: true });
            var end;
            while ((end = buffer.indexOf("\n\n")) !== -1) {
              var block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              streamed(block);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (error) {
        if (controller.signal.aborted) return; // replaced by a newer one
        if (stream === controller) stream = null;
        controller.abort();
        refresh(); // the figures now, by query; the stream is tried again at the next interval
        setStatus("Live updates interrupted (" + error.message + "): asking every " +
          view.refreshSeconds + " s", false);
      });
  }

  function schedule() {
    if (timer !== null) window.clearInterval(timer);
    timer = window.setInterval(function () {
      if (stream === null) subscribe();
    }, view.refreshSeconds * 1000);
  }

  function showView() {
    $("refresh-seconds").textContent = String(view.refreshSeconds);
    $("days").value = String(view.days);
    $("refresh").value = String(view.refreshSeconds);
  }

  showView();
  $("boxes").value = storedBoxes().join("\n");
  $("view-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var params = new URLSearchParams(window.location.search);
    params.set("days", String(bounded($("days").value, 1, 14, view.days)));
    params.set("refresh", String(bounded($("refresh").value, 10, 3600, view.refreshSeconds)));
    window.history.replaceState(null, "", "?" + params.toString());
    view = viewSettings();
    showView();
    subscribe();
    schedule();
  });
  $("boxes-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var boxes = parseBoxes($("boxes").value);
    try {
      window.localStorage.setItem(BOXES_STORAGE, boxes.join(","));
    } catch (e) {
      /* storage refused: nothing to keep them in */
    }
    $("boxes").value = boxes.join("\n");
    subscribe();
    schedule();
  });
  window.setInterval(showAge, 1000);
  $("api-key").value = storedKey();
  $("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    storeKey($("api-key").value.trim());
    subscribe();
    schedule();
  });
  $("forget-key").addEventListener("click", function () {
    $("api-key").value = "";
    storeKey("");
    subscribe();
    schedule();
  });
  $("refresh-now").addEventListener("click", function () {
    refresh();
    schedule();
  });
  subscribe();
  schedule();
})();
