// portgate's GraphiQL page: renders GraphiQL (vendored UMD build) with one tab per kind of user.
// Queries go to the page's own endpoint with fetch; header keys starting with "_" (the hint) are
// not sent, nor are empty values.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("portgate-graphiql-config").textContent);

  function fetcher(params, options) {
    var headers = { "content-type": "application/json", accept: "application/json" };
    var given = (options && options.headers) || {};
    Object.keys(given).forEach(function (key) {
      var value = given[key];
      if (key.charAt(0) !== "_" && value !== "" && value !== null && value !== undefined) {
        headers[key] = String(value);
      }
    });
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
