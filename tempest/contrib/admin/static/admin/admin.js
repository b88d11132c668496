// tempest admin: the few behaviours that need a script. No inline scripts (the admin's
// Content-Security-Policy forbids them); everything is attached by data attributes.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var confirmable = target.closest("[data-confirm]");
    if (confirmable && !window.confirm(confirmable.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    var choice = target.closest("[data-fk-choice]");
    if (choice) {
      var box = choice.closest("[data-autocomplete]");
      box.querySelector("input[type=hidden]").value = choice.getAttribute("data-value");
      box.querySelector(".autocomplete-input").value = choice.getAttribute("data-label");
      box.querySelector(".autocomplete-results").innerHTML = "";
    }
  });
  document.addEventListener("input", function (event) {
    // Typing in a search box forgets the row chosen before: the text no longer names it.
    // An emptied box means "no related row"; other text must be completed by a click.
    var target = event.target;
    if (!(target instanceof Element) || !target.matches(".autocomplete-input")) return;
    target.closest("[data-autocomplete]").querySelector("input[type=hidden]").value = "";
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || !target.matches("[data-select-all]")) return;
    var form = target.closest("form");
    form.querySelectorAll("input[name=ids]").forEach(function (box) {
      box.checked = target.checked;
    });
  });
})();
