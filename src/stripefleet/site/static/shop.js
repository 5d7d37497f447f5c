// Live stock and order status without reloading the page.
// Catalogue and product pages poll GET /api/products every 2 s with If-None-Match: the
// site answers 304 (no body) until the stock changes. The success page polls the order.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var etag = null;

  function applyProducts(products) {
    products.forEach(function (p) {
      var state = p.soldOut ? "sold" : (p.inStock ? "available" : "reserved");
      document.querySelectorAll('[data-buy-for="' + p.id + '"]').forEach(function (box) {
        if (box.dataset.state === state) { return; }
        box.dataset.state = state;
        box.querySelector(".state.sold").hidden = state !== "sold";
        box.querySelector(".state.reserved").hidden = state !== "reserved";
        box.querySelector("form.add").hidden = state !== "available";
      });
    });
  }

  function pollProducts() {
    var headers = etag ? {"If-None-Match": etag} : {};
    fetch("/api/products", {headers: headers, cache: "no-cache"}).then(function (r) {
      if (r.status === 200) {
        etag = r.headers.get("ETag");
        return r.json().then(function (body) { applyProducts(body.products); });
      }
    }).catch(function () {}).finally(function () { setTimeout(pollProducts, POLL_MS); });
  }

  function pollOrder(box) {
    var sid = box.dataset.sessionId;
    fetch("/commande/statut?session_id=" + encodeURIComponent(sid), {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.status && body.status !== box.dataset.status) {
          box.dataset.status = body.status;
          box.querySelectorAll(".status").forEach(function (s) {
            s.hidden = s.dataset.for !== body.status;
          });
        }
        if (!body.status || body.status === "pending") { setTimeout(function () { pollOrder(box); }, 1000); }
      }).catch(function () { setTimeout(function () { pollOrder(box); }, POLL_MS); });
  }

  if (document.querySelector("[data-buy-for]")) { pollProducts(); }
  var status = document.getElementById("order-status");
  if (status && status.dataset.sessionId) { pollOrder(status); }
})();
