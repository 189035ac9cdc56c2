// Inside Shopify's admin only (base.html loads this after App Bridge when the page is embedded).
// Cookies set inside the admin's iframe may be blocked, so every htmx request carries a fresh
// App Bridge session token instead: shopify.idToken() is asynchronous, so the request waits for
// it in htmx:confirm and picks it up in htmx:configRequest.
(function () {
  "use strict";
  if (!window.shopify || typeof window.shopify.idToken !== "function") {
    return;
  }
  var token = null;
  document.addEventListener("htmx:confirm", function (event) {
    event.preventDefault();
    var question = event.detail.question;
    if (question && !window.confirm(question)) {
      return;
    }
    window.shopify.idToken().then(function (fresh) {
      token = fresh;
      event.detail.issueRequest(true);
    });
  });
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) {
      event.detail.headers["Authorization"] = "Bearer " + token;
    }
  });
})();
