// The console's little JavaScript: conveniences only. Every rule is also the server's
// (a redrive needs a selection, a purge the DLQ's name typed), so the pages work without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A checkbox that selects or clears every box of its form with the given name.
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    const boxes = () => all.form.querySelectorAll(`input[name="${all.dataset.selectAll}"]`);
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
      all.form.dispatchEvent(new Event("change"));
    });
  }

  // Buttons that need a checked box in their form stay disabled until there is one.
  for (const button of document.querySelectorAll("button[data-needs-selection]")) {
    const form = button.form;
    const update = () => { button.disabled = !form.querySelector('input[name="ids"]:checked'); };
    form.addEventListener("change", update);
    update();
  }

  // Purge: enabled once the DLQ's name is typed exactly.
  for (const input of document.querySelectorAll("input[data-must-equal]")) {
    const button = input.form.querySelector("button[data-purge]");
    const update = () => { button.disabled = input.value !== input.dataset.mustEqual; };
    input.addEventListener("input", update);
    update();
  }

  // Irreversible in one click: ask first.
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});
