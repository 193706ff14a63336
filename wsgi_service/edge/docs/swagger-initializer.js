// Swagger UI on the contract this service serves. A file of its own, not an
// inline script: the page's Content-Security-Policy runs scripts from this
// origin only. The contract's URL is relative to the page, so it is found
// wherever the service is mounted (/docs, or /ml/docs behind a prefix).
"use strict";

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default would send the contract to validator.swagger.io and show its badge.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
