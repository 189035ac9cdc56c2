/* Imprint's merchant pages: confirmation dialogs, streamed uploads with progress, the product
   picker. Every page works without this script: links lead to confirmation pages and the upload
   form posts as multipart. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* Confirmation: a link with data-dialog opens that <dialog> instead of its confirmation page. */
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("input:not([type=hidden]), button");
        if (first) { first.focus(); }
      }
      return;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) {
      event.preventDefault();
      closer.closest("dialog").close();
    }
  });

  /* Uploads: the file goes as the raw body of a PUT, so the server streams it to storage. */
  function upload(form, file) {
    var status = form.querySelector("[data-upload-status]");
    var bar = form.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    var request = new XMLHttpRequest();
    request.open("PUT", form.getAttribute("data-upload"));
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    if (bar) { bar.hidden = false; bar.value = 0; bar.max = 100; }
    if (button) { button.disabled = true; }
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.floor((e.loaded / e.total) * 100);
      if (bar) { bar.value = percent; }
      if (status) { status.textContent = "Uploading " + file.name + ": " + percent + "%"; }
    });
    request.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = {}; }
      if (request.status >= 200 && request.status < 300 && answer.redirect) {
        if (status) { status.textContent = "Upload complete. Saving…"; }
        window.location.assign(answer.redirect);
        return;
      }
      if (button) { button.disabled = false; }
      if (status) { status.textContent = answer.error || "The upload failed. Please try again."; }
    });
    request.addEventListener("error", function () {
      if (button) { button.disabled = false; }
      if (status) { status.textContent = "The upload was interrupted. Check your connection and try again."; }
    });
    if (status) { status.textContent = "Uploading " + file.name + "…"; }
    // Inside Shopify's admin the iframe's cookies may be blocked: the request carries a fresh
    // App Bridge session token instead, as every htmx request there does (embedded.js).
    if (window.shopify && typeof window.shopify.idToken === "function") {
      window.shopify.idToken().then(function (token) {
        request.setRequestHeader("Authorization", "Bearer " + token);
        request.send(file);
      });
      return;
    }
    request.send(file);
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    form.addEventListener("submit", function (event) {
      if (!input || !input.files.length) { return; }
      event.preventDefault();
      upload(form, input.files[0]);
    });
    var zone = form.querySelector(".dropzone");
    if (!zone) { return; }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        upload(form, event.dataTransfer.files[0]);
      }
    });
  });

  /* Product picker: choosing a product (or a variant) fills the attach form's fields. */
  document.addEventListener("click", function (event) {
    var choice = event.target.closest("[data-pick-product]");
    if (!choice) { return; }
    event.preventDefault();
    var form = choice.closest("form");
    form.querySelector("[name=product]").value = choice.getAttribute("data-pick-product");
    form.querySelector("[name=title]").value = choice.getAttribute("data-title") || "";
    form.querySelector("[name=variant]").value = choice.getAttribute("data-variant") || "";
    form.querySelector("[name=variant_title]").value = choice.getAttribute("data-variant-title") || "";
    var chosen = form.querySelector("[data-chosen]");
    if (chosen) {
      chosen.textContent = "Chosen: " + choice.getAttribute("data-label");
    }
  });
})();
