// gitexp ui without a server: the page that gitexp report --format html writes (gitexp/ui/twin.py) holds, in
// script#gitexp-data, what the API would answer for the report's sweep. This answers the page's questions from
// it, as the API does; the live page has no such element and asks the server.
"use strict";
const GitexpSnapshot = (() => {
  function read() {
    const node = document.getElementById("gitexp-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  // ``spec`` (dvc_render's Vega-Lite of every embedded trial, a "rev" field per row) with the rows and the
  // color scale's entries of ``ids`` only: what the API draws for that selection; null when none has a row.
  function restrict(spec, ids) {
    const keep = new Set(ids);
    let rows = 0;
    const copy = JSON.parse(JSON.stringify(spec));
    (function walk(node) {
      if (!node || typeof node !== "object") return;
      if (node.data && Array.isArray(node.data.values)) {
        node.data.values = node.data.values.filter((row) => !row || row.rev === undefined || keep.has(row.rev));
        rows += node.data.values.length;
      }
      if (node.field === "rev" && node.scale && Array.isArray(node.scale.domain)) {
        const kept = node.scale.domain.map((rev, index) => [rev, index]).filter(([rev]) => keep.has(rev));
        if (Array.isArray(node.scale.range)) node.scale.range = kept.map(([, index]) => node.scale.range[index % node.scale.range.length]);
        node.scale.domain = kept.map(([rev]) => rev);
      }
      Object.values(node).forEach(walk);
    })(copy);
    return rows ? copy : null;
  }

  function source(snapshot) {
    const missing = (what) => ({error: `${what} is not in this file: gitexp ui shows it live`});
    return {
      live: false,
      plottable: (id) => snapshot.plotted.includes(id),
      experiments: async () => snapshot.experiments,
      trial: async (id) => snapshot.trials[id] || missing(`trial ${id}`),
      sweepPlots: async (sweep) => snapshot.sweepPlots[sweep] || missing(`sweep ${sweep}`),
      plots: async (ids) => ({
        plots: snapshot.plots.map((plot) => ({...plot, spec: restrict(plot.spec, ids)})).filter((plot) => plot.spec),
      }),
    };
  }

  return {read, source, restrict};
})();
