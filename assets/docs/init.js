// Starts Swagger UI on this server's own OpenAPI document. The document's
// address is fixed here: `?url=` and `?configUrl=` are not read
// (queryConfigEnabled stays off), so a link cannot make this page load and
// run someone else's spec.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    queryConfigEnabled: false,
    // No badge fetched from validator.swagger.io: the page talks to this
    // server only.
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
