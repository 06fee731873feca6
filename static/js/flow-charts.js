// Draws each <canvas data-flow-chart="id"> of the flow-health page from the JSON in <script id="id">:
// {labels, throughput: [n], median: [days|null], p90: [days|null]}: bars of items finished per month on the
// left axis, the latency median and p90 in days as lines on the right.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("canvas[data-flow-chart]").forEach(function (canvas) {
    const spec = JSON.parse(document.getElementById(canvas.dataset.flowChart).textContent);
    const numbers = function (values) { return values.map(function (v) { return v === null ? null : Number(v); }); };
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [
          {label: "Finished", data: spec.throughput, backgroundColor: "#9ec5fe", yAxisID: "y"},
          {label: "Median (days)", type: "line", data: numbers(spec.median), borderColor: "#0d6efd", backgroundColor: "#0d6efd", yAxisID: "days", spanGaps: true},
          {label: "p90 (days)", type: "line", data: numbers(spec.p90), borderColor: "#dc3545", backgroundColor: "#dc3545", yAxisID: "days", spanGaps: true},
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          y: {beginAtZero: true, title: {display: true, text: "items"}, ticks: {precision: 0}},
          days: {position: "right", beginAtZero: true, grid: {display: false}, title: {display: true, text: "days"}},
        },
      },
    });
  });
});
