// portgate outlook dashboard (Apache-2.0). Plain DOM, no framework, nothing from a CDN.
// Asks the gateway's `outlook` and draws it; a port that did not answer is shown as missing,
// never as zero. Text goes in with textContent only: no answer can inject markup.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("portgate-dashboard-config").textContent);
  var KEY_STORAGE = "portgate.apiKey"; // GraphiQL's page reads the same one
  var SVG = "http://www.w3.org/2000/svg";
  var QUERY = [
    "query PortgateDashboard($days: Int!) {",
    "  outlook(days: $days) {",
    "    generatedAt windowStart windowEnd",
    "    ports { UNLocationCode name answered status vesselsAtAnchor vesselsAtBerth",
    "      expectedArrivals averageDelayHours containerDwellDays truckTurnTimeMinutes",
    "      lateArrivals { transportCallReference vesselName plannedArrivalDateTime",
    "        estimatedArrivalDateTime delayHours } }",
    "    comparison { mostVesselsAtAnchor mostDelayed longestDwell longestTruckTurn missing }",
    "  }",
    "}",
  ].join("\n");

  var timer = null;
  var inFlight = false;

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

  // A figure for display: null is "—" (not available), a number is rounded to one decimal.
  function figure(value) {
    if (value === null || value === undefined) return "—";
    if (Number.isInteger(value)) return String(value);
    return String(Math.round(value * 10) / 10);
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

  function portRows(ports) {
    return ports.map(function (port) {
      var tr = el("tr", null, port.answered ? "answered" : "missing");
      tr.dataset.port = port.UNLocationCode;
      tr.dataset.answered = String(port.answered);
      var name = el("td");
      name.appendChild(el("strong", port.UNLocationCode));
      if (port.name) name.appendChild(el("span", " " + port.name, "port-name"));
      tr.appendChild(name);
      var answered = el("td", port.answered ? "yes" : "MISSING", "answered-cell");
      answered.dataset.field = "answered";
      tr.appendChild(answered);
      FIGURES.forEach(function (field) {
        var td = el("td", port.answered ? figure(port[field]) : "missing", "num");
        td.dataset.field = field;
        if (port.answered && port[field] === null) td.title = "withheld or not reported";
        tr.appendChild(td);
      });
      var status = el("td", port.answered ? port.status || "—" : "MISSING");
      status.dataset.field = "status";
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
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(ports.length * rowHeight));
    svg.setAttribute("role", "img");
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
        value.textContent = figure(port[field]) + (unit ? " " + unit : "");
      }
      svg.appendChild(value);
    });
    while (target.firstChild) target.removeChild(target.firstChild);
    target.appendChild(svg);
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
      tr.appendChild(el("td", figure(r.call.delayHours), "num"));
      return tr;
    });
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

  function render(body) {
    var outlook = body.data.outlook;
    $("window").textContent =
      "next " + config.days + " days: " + when(outlook.windowStart) + " to " + when(outlook.windowEnd);
    replaceRows(document.querySelector("#ports tbody"), portRows(outlook.ports));
    barChart($("chart-anchor"), outlook.ports, "vesselsAtAnchor", "");
    barChart($("chart-delay"), outlook.ports, "averageDelayHours", "h");
    barChart($("chart-dwell"), outlook.ports, "containerDwellDays", "d");
    replaceRows(document.querySelector("#late tbody"), lateRows(outlook.ports));
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
    var headers = { "Content-Type": "application/json", "X-Portgate-CSRF": "1" };
    var key = storedKey();
    if (key) headers["X-API-Key"] = key;
    fetch(config.endpoint, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({ query: QUERY, variables: { days: config.days } }),
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
        setStatus(key ? "Live (with your API key)" : "Live (public view)", false);
      })
      .catch(function (error) {
        // Keep the last figures on screen, and say plainly that they are not current.
        setStatus("Refresh failed: " + error.message + " (figures shown may be old)", true);
      })
      .then(function () {
        inFlight = false;
      });
  }

  function schedule() {
    if (timer !== null) window.clearInterval(timer);
    timer = window.setInterval(refresh, config.refreshSeconds * 1000);
  }

  $("refresh-seconds").textContent = String(config.refreshSeconds);
  $("api-key").value = storedKey();
  $("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    storeKey($("api-key").value.trim());
    refresh();
    schedule();
  });
  $("forget-key").addEventListener("click", function () {
    $("api-key").value = "";
    storeKey("");
    refresh();
    schedule();
  });
  $("refresh-now").addEventListener("click", function () {
    refresh();
    schedule();
  });
  refresh();
  schedule();
})();
