// The API reference, served from the package (no CDN): works offline, and under the
// pages' Content-Security-Policy, which allows no inline script.
window.addEventListener("load", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    onComplete: () => {
      document.body.dataset.ready = "1";
    },
  });
});
