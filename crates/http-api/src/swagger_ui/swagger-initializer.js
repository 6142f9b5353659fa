// Our document only: query configuration (?url=, ?configUrl=) is off, so
// a link cannot make this page render a foreign spec on our origin.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    queryConfigEnabled: false,
    validatorUrl: null,
    deepLinking: false,
  });
});
