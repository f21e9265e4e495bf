// portgate's GraphiQL page: renders GraphiQL (vendored UMD build) with one tab per kind of user.
// Queries go to the page's own endpoint with fetch; header keys starting with "_" (the hint) are
// not sent, nor are empty values. The API key typed once above GraphiQL is sent from every tab
// (GraphiQL keeps headers per tab), unless a tab's own headers carry a credential; it is kept
// in this browser (shared with the dashboard) until "Forget key".
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("portgate-graphiql-config").textContent);
  var KEY_STORAGE = "portgate.apiKey"; // the dashboard reads the same one
  var pageKey = storedKey();

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

  function showKey() {
    var status = document.getElementById("portgate-key-status");
    status.textContent = pageKey
      ? "every tab sends the key ending in …" + pageKey.slice(-4)
      : "no key: every tab is public";
  }

  document.getElementById("portgate-key").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("portgate-key-input");
    pageKey = input.value.trim();
    input.value = "";
    storeKey(pageKey);
    showKey();
  });
  document.getElementById("portgate-key-forget").addEventListener("click", function () {
    pageKey = "";
    storeKey("");
    showKey();
  });
  showKey();

  // The names of a document's operations (comments and strings set aside).
  function operationNames(document) {
    var text = String(document || "")
      .replace(/"""[\s\S]*?"""/g, " ")
      .replace(/"(?:[^"\\\n]|\\.)*"/g, " ")
      .replace(/#[^\n\r]*/g, " ");
    var names = [];
    var pattern = /(?:^|[^_0-9A-Za-z])(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g;
    var match;
    while ((match = pattern.exec(text)) !== null) names.push(match[1]);
    return names;
  }

  // GraphiQL can send the operation name of the tab shown before, with this tab's document;
  // the gateway would then refuse it (OPERATION_RESOLUTION_FAILURE). A document of one
  // operation runs that one; with several, the name stands, and the gateway says if it is wrong.
  function withOperationOfItsDocument(params) {
    if (!params || !params.operationName) return params;
    var names = operationNames(params.query);
    if (names.indexOf(params.operationName) !== -1 || names.length > 1) return params;
    var fixed = Object.assign({}, params);
    if (names.length === 1) fixed.operationName = names[0];
    else delete fixed.operationName;
    return fixed;
  }

  // A subscription is answered as a stream (GraphQL over SSE): GraphiQL shows each message of
  // the async iterable returned here as it arrives, and stopping it ends the request.
  function isSubscription(params) {
    var text = ((params && params.query) || "").replace(/#[^\n]*/g, "");
    var names = operationNames(text);
    var chosen = params.operationName;
    var pattern = /\b(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      if (!chosen || names.length < 2 || match[2] === chosen) return match[1] === "subscription";
    }
    return false;
  }

  function streamed(endpoint, headers, params) {
    var controller = new AbortController();
    var iterator = (async function* () {
      var response = await fetch(endpoint, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(params),
        credentials: "same-origin",
        signal: controller.signal,
      });
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("text/event-stream") !== 0) {
        yield await response.json(); // refused before the stream: its errors, as for a query
        return;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var event = "";
          var data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) event = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          if (event === "next" && data) yield JSON.parse(data);
          if (event === "complete") return;
        }
      }
    })();
    var stop = iterator.return.bind(iterator);
    iterator.return = function (value) {
      controller.abort();
      return stop(value);
    };
    return iterator;
  }

  function fetcher(params, options) {
    params = withOperationOfItsDocument(params);
    var headers = { "content-type": "application/json", accept: "application/json" };
    var given = (options && options.headers) || {};
    var ownCredential = false;
    Object.keys(given).forEach(function (key) {
      var value = given[key];
      if (key.charAt(0) !== "_" && value !== "" && value !== null && value !== undefined) {
        headers[key] = String(value);
        var name = key.toLowerCase();
        if (name === "x-api-key" || name === "authorization") ownCredential = true;
      }
    });
    if (pageKey && !ownCredential) headers["X-API-Key"] = pageKey;
    if (isSubscription(params)) {
      headers.accept = "text/event-stream";
      return streamed(config.endpoint, headers, params);
    }
    return fetch(config.endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json();
    });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultHeaders: config.headersHint,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
