// Draws every <canvas data-chart="id"> of an analytics page from the JSON in <script id="id">:
// {type, labels, unit: "money"|"percent"|"days", currency, datasets: [{label, data, color, type?, axis?}]}.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    const spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    const money = spec.currency ? new Intl.NumberFormat(undefined, {style: "currency", currency: spec.currency, maximumFractionDigits: 0}) : null;
    const format = function (value) {
      if (value === null || value === undefined) return "—";
      if (spec.unit === "percent") return Number(value).toFixed(2) + "%";
      if (spec.unit === "money" && money) return money.format(value);
      return String(value);
    };
    new Chart(canvas, {
      type: spec.type || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set) {
          return {
            label: set.label,
            type: set.type,
            data: set.data.map(function (v) { return v === null ? null : Number(v); }),
            backgroundColor: set.color,
            borderColor: set.color,
            yAxisID: set.axis || "y",
            tension: 0.2,
          };
        }),
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {tooltip: {callbacks: {label: function (item) { return item.dataset.label + ": " + (item.dataset.yAxisID === "y2" ? Number(item.raw).toFixed(2) + "%" : format(item.raw)); }}}},
        scales: Object.assign(
          {y: {ticks: {callback: format}}},
          spec.datasets.some(function (set) { return set.axis === "y2"; }) ? {y2: {position: "right", grid: {display: false}, ticks: {callback: function (v) { return v + "%"; }}}} : {}
        ),
      },
    });
  });
});
