// The week grid: keyboard moves between cells, focus survives autosave swaps, notes, and "Submit week"
// waits for the saves still in flight.
(() => {
  let pending = 0;
  let submitWaiting = false;
  let refocus = null;

  const inputs = (row) => Array.from(row.querySelectorAll("input.cell-input"));
  const rowOf = (el) => el.closest("tr[data-row]");
  const dayOf = (input) => input.dataset.dayIndex;

  function focusInput(input, select = true) {
    if (!input) return false;
    input.focus();
    if (select) input.select();
    return true;
  }

  function inputInRow(row, day) {
    return row ? row.querySelector(`input.cell-input[data-day-index="${day}"]`) : null;
  }

  function moveVertical(input, step) {
    let row = rowOf(input);
    while (row) {
      row = step > 0 ? row.nextElementSibling : row.previousElementSibling;
      if (row && focusInput(inputInRow(row, dayOf(input)))) return true;
    }
    return false;
  }

  function moveHorizontal(input, step) {
    const all = Array.from(document.querySelectorAll("#week-grid input.cell-input"));
    const index = all.indexOf(input);
    return focusInput(all[index + step]);
  }

  document.addEventListener("keydown", (event) => {
    const input = event.target.closest && event.target.closest("input.cell-input");
    if (!input) return;
    const atStart = input.selectionStart === 0 && input.selectionEnd === 0;
    const atEnd = input.selectionStart === input.value.length && input.selectionEnd === input.value.length;
    if (event.key === "Enter" || event.key === "ArrowDown") {
      event.preventDefault();
      if (!moveVertical(input, 1)) input.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      moveVertical(input, -1);
    } else if (event.key === "ArrowLeft" && atStart) {
      if (moveHorizontal(input, -1)) event.preventDefault();
    } else if (event.key === "ArrowRight" && atEnd) {
      if (moveHorizontal(input, 1)) event.preventDefault();
    } else if (event.key === "Escape") {
      input.value = input.defaultValue;
    }
  });

  document.addEventListener("htmx:beforeRequest", () => { pending += 1; });
  // Cell saves are queued one after the other (hx-sync), so each response's totals are current; a
  // queued save starts a moment after the previous one ends, hence the short wait before submitting.
  function submitWhenIdle() {
    setTimeout(() => {
      if (pending > 0 || !submitWaiting) return;
      submitWaiting = false;
      const form = document.querySelector("form[data-week-submit]");
      if (form) form.submit();
    }, 150);
  }
  document.addEventListener("htmx:afterRequest", () => {
    pending = Math.max(pending - 1, 0);
    if (pending === 0 && submitWaiting) submitWhenIdle();
  });

  // A swap that replaces the focused cell (Enter on the last row, a note saved) gives the focus back.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const active = document.activeElement;
    refocus = null;
    if (active && active.classList.contains("cell-input") && event.detail.target.contains(active)) {
      refocus = { row: rowOf(active) && rowOf(active).dataset.row, day: dayOf(active) };
    }
  });
  // After settling: htmx has wired the new inputs by then, so keys typed at once are not lost.
  document.addEventListener("htmx:afterSettle", () => {
    const auto = document.querySelector("#week-grid [data-autofocus]");
    if (auto) {
      auto.removeAttribute("data-autofocus");
      focusInput(auto);
      return;
    }
    if (refocus && refocus.row) {
      const row = document.querySelector(`tr[data-row="${refocus.row}"]`);
      const input = inputInRow(row, refocus.day);
      if (input) focusInput(input, false);
    }
    refocus = null;
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-week-submit]");
    if (!form) return;
    if (document.activeElement && document.activeElement.classList.contains("cell-input")) {
      document.activeElement.blur();
    }
    if (pending > 0) {
      event.preventDefault();
      submitWaiting = true;
    }
  });

  // Notes: one modal for every cell.
  let noteCell = null;
  document.addEventListener("click", (event) => {
    const button = event.target.closest(".cell-note");
    if (!button) return;
    noteCell = button.closest("[data-cell]");
    const input = noteCell.querySelector("input.cell-input");
    const modal = document.getElementById("note-modal");
    modal.querySelector("#note-text").value = button.dataset.note || "";
    modal.querySelector("[data-note-context]").textContent = input ? input.getAttribute("aria-label").replace(/^Hours, /, "") : "";
    bootstrap.Modal.getOrCreateInstance(modal).show();
  });
  document.addEventListener("shown.bs.modal", (event) => {
    if (event.target.id === "note-modal") event.target.querySelector("#note-text").focus();
  });
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-note-form]");
    if (!form) return;
    event.preventDefault();
    const modal = document.getElementById("note-modal");
    const input = noteCell && noteCell.querySelector("input.cell-input");
    if (input) {
      const values = JSON.parse(input.getAttribute("hx-vals"));
      values.hours = input.value;
      values.notes = modal.querySelector("#note-text").value;
      htmx.ajax("POST", input.getAttribute("hx-post"), { target: noteCell, swap: "outerHTML", values });
    }
    bootstrap.Modal.getOrCreateInstance(modal).hide();
  });
})();
