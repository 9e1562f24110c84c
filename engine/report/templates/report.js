/* gitjit report: draws the charts from the JSON in #report-data with Chart.js. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var charts = data.charts;
  var palette = ["#3d7bd9", "#ef8f00", "#2e9d57", "#c62828", "#7b4fc9", "#0097a7",
                 "#8d6e63", "#d81b60", "#607d8b", "#9e9d24"];
  var common = { animation: false, responsive: true, maintainAspectRatio: false };
  var drawn = [];

  function draw(id, config) {
    var canvas = document.getElementById(id);
    config.options = Object.assign({}, common, config.options || {});
    drawn.push(new Chart(canvas, config));
  }

  draw("chart-over-time", {
    type: "bar",
    data: {
      labels: charts.buckets,
      datasets: charts.grants_over_time.map(function (series, i) {
        return { label: series.policy, data: series.values,
                 backgroundColor: palette[i % palette.length] };
      })
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
                                                   ticks: { precision: 0 } } } }
  });

  var hours = [];
  for (var h = 0; h < 24; h += 1) { hours.push(String(h)); }
  var cells = [];
  var most = 1;
  charts.heatmap.counts.forEach(function (row, day) {
    row.forEach(function (count, hour) {
      cells.push({ x: String(hour), y: charts.heatmap.weekdays[day], v: count });
      most = Math.max(most, count);
    });
  });
  draw("chart-heatmap", {
    type: "matrix",
    data: {
      datasets: [{
        label: "activations",
        data: cells,
        backgroundColor: function (ctx) {
          var cell = ctx.dataset.data[ctx.dataIndex];
          var alpha = cell && cell.v ? 0.15 + 0.85 * cell.v / most : 0.04;
          return "rgba(61, 123, 217, " + alpha.toFixed(3) + ")";
        },
        borderWidth: 1,
        borderColor: "#ffffff",
        width: function (ctx) { var a = ctx.chart.chartArea; return a ? a.width / 24 - 1 : 10; },
        height: function (ctx) { var a = ctx.chart.chartArea; return a ? a.height / 7 - 1 : 10; }
      }]
    },
    options: {
      plugins: { legend: { display: false },
                 tooltip: { callbacks: {
                   title: function () { return ""; },
                   label: function (ctx) {
                     var c = ctx.raw;
                     return c.y + " " + c.x + ":00 UTC: " + c.v;
                   } } } },
      scales: {
        x: { type: "category", labels: hours, offset: true, grid: { display: false } },
        y: { type: "category", labels: charts.heatmap.weekdays, offset: true,
             grid: { display: false } }
      }
    }
  });

  function histogram(id, series, color) {
    draw(id, {
      type: "bar",
      data: { labels: series.buckets,
              datasets: [{ label: "count", data: series.counts, backgroundColor: color }] },
      options: { plugins: { legend: { display: false } },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
  histogram("chart-approval", charts.approval_latency, "#2e9d57");
  histogram("chart-revocation", charts.revocation_latency, "#c62828");

  function top(id, rows, key, color) {
    draw(id, {
      type: "bar",
      data: { labels: rows.map(function (r) { return r.login; }),
              datasets: [{ label: key, data: rows.map(function (r) { return r[key]; }),
                           backgroundColor: color }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
  top("chart-requesters", charts.top_requesters, "activations", "#3d7bd9");
  top("chart-approvers", charts.top_approvers, "approvals", "#7b4fc9");

  document.body.setAttribute("data-charts", String(drawn.length));
}());
