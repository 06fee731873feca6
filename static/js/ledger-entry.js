// Manual journal entry editor: add and remove lines, and live debit/credit totals per currency.
// Works on top of the plain form: without this script, "Add line" posts the form back for one more row.
(() => {
  const form = document.getElementById("entry-form");
  if (!form) return;
  const table = form.querySelector("table.entry-lines");
  const template = document.getElementById("line-template");
  const totalForms = form.querySelector('input[name="lines-TOTAL_FORMS"]');
  const status = document.getElementById("balance-status");
  const balanceBody = document.querySelector("#balance-table tbody");
  const unitsElement = document.getElementById("currency-units");
  const units = unitsElement ? JSON.parse(unitsElement.textContent) : {};

  const lines = () => Array.from(table.querySelectorAll("tbody[data-line]"));

  // Amounts are summed as integers of the currency's minor unit, never as floats.
  const toMinor = (text, exponent) => {
    const value = (text || "").trim().replace(/,/g, "");
    const match = /^(\d*)(?:\.(\d*))?$/.exec(value);
    if (!value || !match) return 0;
    const whole = match[1] || "0";
    const fraction = ((match[2] || "") + "0".repeat(exponent)).slice(0, exponent);
    return Number(whole) * 10 ** exponent + Number(fraction || "0");
  };

  const format = (minor, currency) => {
    const exponent = units[currency] ?? 2;
    const amount = minor / 10 ** exponent;
    try {
      return new Intl.NumberFormat("en-US", {
        style: "currency", currency, minimumFractionDigits: exponent, maximumFractionDigits: exponent,
      }).format(amount);
    } catch {
      return `${currency} ${amount.toFixed(exponent)}`;
    }
  };

  const cell = (text, className) => {
    const td = document.createElement("td");
    td.className = className;
    td.textContent = text;
    return td;
  };

  const badge = (text, tone) => {
    const span = document.createElement("span");
    span.className = `badge text-bg-${tone}`;
    span.textContent = text;
    return span;
  };

  const recompute = () => {
    const totals = new Map();
    let filled = 0;
    for (const line of lines()) {
      const currency = line.querySelector('[data-field="currency"]').value;
      const exponent = units[currency] ?? 2;
      const debit = toMinor(line.querySelector('[data-field="debit"]').value, exponent);
      const credit = toMinor(line.querySelector('[data-field="credit"]').value, exponent);
      if (!debit && !credit) continue;
      filled += 1;
      const sums = totals.get(currency) || { debit: 0, credit: 0 };
      sums.debit += debit;
      sums.credit += credit;
      totals.set(currency, sums);
    }
    balanceBody.replaceChildren();
    if (!totals.size) {
      const row = document.createElement("tr");
      const td = cell("Enter amounts to see the totals.", "text-body-secondary");
      td.colSpan = 4;
      row.append(td);
      balanceBody.append(row);
      status.replaceChildren();
      return;
    }
    let balanced = filled >= 2;
    for (const [currency, sums] of [...totals.entries()].sort()) {
      const row = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.className = "fw-normal";
      th.textContent = currency;
      const difference = sums.debit - sums.credit;
      const state = document.createElement("td");
      state.className = "text-end text-nowrap";
      if (difference === 0) {
        state.append(badge("Balanced", "success"));
      } else {
        balanced = false;
        state.append(badge(`Off by ${format(Math.abs(difference), currency)}`, "warning"));
      }
      row.append(th, cell(format(sums.debit, currency), "text-end text-nowrap"),
        cell(format(sums.credit, currency), "text-end text-nowrap"), state);
      balanceBody.append(row);
    }
    const icon = document.createElement("i");
    icon.setAttribute("aria-hidden", "true");
    const text = document.createElement("span");
    if (balanced) {
      icon.className = "bi bi-check-circle-fill me-1";
      text.className = "text-success-emphasis";
      text.append(icon, "Balanced");
    } else {
      icon.className = "bi bi-exclamation-triangle-fill me-1";
      text.className = "text-warning-emphasis";
      text.append(icon, filled < 2 ? "Needs at least two lines" : "Not balanced");
    }
    status.replaceChildren(text);
  };

  // Keep names, ids and labels in step with the rows' order, as the formset expects (lines-0-…, lines-1-…).
  const renumber = () => {
    lines().forEach((line, index) => {
      for (const element of line.querySelectorAll("[name], [id], label[for]")) {
        for (const attribute of ["name", "id", "for"]) {
          const value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace(/lines-(\d+|__prefix__)-/, `lines-${index}-`));
        }
      }
      for (const number of line.querySelectorAll("[data-line-number]")) number.textContent = index + 1;
    });
    totalForms.value = lines().length;
    const removable = lines().length > 2;
    for (const button of table.querySelectorAll("[data-remove-line]")) button.hidden = !removable;
  };

  form.querySelector("[data-add-line]").addEventListener("click", (event) => {
    event.preventDefault();
    const fragment = template.content.cloneNode(true);
    const line = fragment.querySelector("tbody[data-line]");
    const currency = line.querySelector('[data-field="currency"]');
    const previous = lines().at(-1);
    if (previous) currency.value = previous.querySelector('[data-field="currency"]').value;
    table.append(fragment);
    renumber();
    recompute();
    lines().at(-1).querySelector('[data-field="account"]').focus();
  });

  table.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-line]");
    if (!button) return;
    const line = button.closest("tbody[data-line]");
    const next = line.nextElementSibling || line.previousElementSibling;
    line.remove();
    renumber();
    recompute();
    if (next) next.querySelector('[data-field="account"]')?.focus();
  });

  form.addEventListener("input", recompute);
  form.addEventListener("change", recompute);
  renumber();
  recompute();
})();
