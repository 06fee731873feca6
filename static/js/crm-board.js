// Pipeline board: drag a card onto another stage (htmx POST to its move URL; the server answers with the
// redrawn board), onto Won (the handoff) or onto Lost (asks for the reason first).
(() => {
  let dragged = null;
  let pendingLost = null;

  const board = () => document.getElementById("board");
  const urlFor = (template, id) => template.replace("/0/", `/${id}/`);
  const mineQuery = () => (board().dataset.mine ? "?mine=1" : "");

  function move(id, stage, reason) {
    const values = { stage };
    if (reason) values.reason = reason;
    htmx.ajax("POST", urlFor(board().dataset.moveUrl, id) + mineQuery(), {
      target: "#board", swap: "outerHTML", values,
    });
  }

  function win(id) {
    htmx.ajax("POST", urlFor(board().dataset.winUrl, id), { target: "#board", swap: "afterbegin" });
  }

  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest(".crm-card");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.id);
  });

  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".drag-over").forEach((el) => el.classList.remove("drag-over"));
  });

  const dropZone = (target) => target.closest && target.closest(".crm-column, .crm-drop-target");

  document.addEventListener("dragover", (event) => {
    const zone = dropZone(event.target);
    if (!zone || !dragged) return;
    event.preventDefault();
    document.querySelectorAll(".drag-over").forEach((el) => el !== zone && el.classList.remove("drag-over"));
    zone.classList.add("drag-over");
  });

  document.addEventListener("drop", (event) => {
    const zone = dropZone(event.target);
    if (!zone || !dragged) return;
    event.preventDefault();
    const id = dragged.dataset.id;
    const name = dragged.dataset.name;
    zone.classList.remove("drag-over");
    if (zone.dataset.outcome === "lost") {
      pendingLost = id;
      const modal = document.getElementById("lose-modal");
      modal.querySelector("[data-lose-name]").textContent = name;
      modal.querySelector("textarea").value = "";
      bootstrap.Modal.getOrCreateInstance(modal).show();
    } else if (zone.dataset.outcome === "won") {
      win(id);
    } else if (zone.dataset.stage !== dragged.closest(".crm-column").dataset.stage) {
      move(id, zone.dataset.stage);
    }
    dragged = null;
  });

  document.addEventListener("submit", (event) => {
    if (event.target.id !== "lose-form") return;
    event.preventDefault();
    const reason = event.target.querySelector("textarea").value.trim();
    if (!reason || !pendingLost) return;
    move(pendingLost, "lost", reason);
    pendingLost = null;
    bootstrap.Modal.getOrCreateInstance(document.getElementById("lose-modal")).hide();
  });

  document.addEventListener("shown.bs.modal", (event) => {
    const field = event.target.querySelector("textarea");
    if (field) field.focus();
  });
})();
