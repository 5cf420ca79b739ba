"use strict";
// The interactive API page: Swagger UI over the app's own OpenAPI document. A file of its own
// (not an inline script), so the page works under its Content-Security-Policy (script-src 'self').
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  tryItOutEnabled: true,
});
