// Copy buttons: <button data-copy-target="#id">. Works for inputs (value) and other elements (text).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const target = document.querySelector(button.dataset.copyTarget);
  if (!target) return;
  const text = "value" in target ? target.value : target.textContent.trim();
  const label = button.querySelector(".copy-label") || button;
  const original = label.textContent;
  try {
    await navigator.clipboard.writeText(text);
    label.textContent = "Copied";
  } catch {
    if (target.select) target.select();
    label.textContent = "Press Ctrl+C to copy";
  }
  setTimeout(() => { label.textContent = original; }, 2000);
});

// Close buttons that empty their table row: <button data-clear-row>. (No inline handlers: the CSP forbids them.)
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-clear-row]");
  if (button) button.closest("tr").replaceChildren();
});
