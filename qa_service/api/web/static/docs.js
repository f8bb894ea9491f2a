/* /docs: Swagger UI from the package's own copy, reading this service's OpenAPI document.
 * A file of its own rather than an inline script, so the page keeps the site's CSP. */
"use strict";
(() => {
  const box = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({url: box.dataset.spec, dom_id: "#swagger-ui", deepLinking: true,
    layout: "BaseLayout", presets: [SwaggerUIBundle.presets.apis]});
})();
