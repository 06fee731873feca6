// Payment allocation screen: "Fill oldest first" spreads the unallocated money over the invoices in the
// order listed (oldest due first), and the remainder updates as amounts are typed. Amounts are summed as
// integers of the currency's minor unit, never as floats.
(() => {
  const form = document.getElementById("allocation-form");
  if (!form) return;
  const currency = form.dataset.currency;
  const unitsElement = document.getElementById("currency-minor-units");
  const exponent = (unitsElement ? JSON.parse(unitsElement.textContent) : {})[currency] ?? 2;
  const inputs = Array.from(form.querySelectorAll("input[data-open]"));
  const remaining = document.getElementById("remaining");
  const applied = document.getElementById("applied");

  const toMinor = (text) => {
    const value = (text || "").trim().replace(/,/g, "");
    const match = /^(\d*)(?:\.(\d*))?$/.exec(value);
    if (!value || !match) return 0;
    const fraction = ((match[2] || "") + "0".repeat(exponent)).slice(0, exponent);
    return Number(match[1] || "0") * 10 ** exponent + Number(fraction || "0");
  };
  const toText = (minor) => (minor / 10 ** exponent).toFixed(exponent);
  const format = (minor) => {
    try {
      return new Intl.NumberFormat("en-US", {
        style: "currency", currency, minimumFractionDigits: exponent, maximumFractionDigits: exponent,
      }).format(minor / 10 ** exponent);
    } catch {
      return `${currency} ${toText(minor)}`;
    }
  };
  const available = toMinor(form.dataset.unallocated);

  const update = () => {
    const total = inputs.reduce((sum, input) => sum + toMinor(input.value), 0);
    const left = available - total;
    applied.textContent = format(total);
    remaining.textContent = format(left);
    remaining.classList.toggle("text-danger", left < 0);
    for (const input of inputs) {
      input.classList.toggle("is-invalid", toMinor(input.value) > toMinor(input.dataset.open));
    }
  };

  form.querySelector("[data-fill-oldest]").addEventListener("click", () => {
    let left = available;
    for (const input of inputs) {
      const amount = Math.min(left, toMinor(input.dataset.open));
      input.value = amount > 0 ? toText(amount) : "";
      left -= Math.max(amount, 0);
    }
    update();
  });
  form.querySelector("[data-clear]").addEventListener("click", () => {
    for (const input of inputs) input.value = "";
    update();
    inputs[0]?.focus();
  });
  for (const button of form.querySelectorAll("[data-fill-oldest], [data-clear]")) button.hidden = false;
  form.addEventListener("input", update);
  update();
})();
