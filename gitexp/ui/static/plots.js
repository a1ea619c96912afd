// gitexp ui: the plots under the table, drawn by the vendored Vega builds from the Vega-Lite specifications the
// server builds (gitexp/ui/plots.py). Titles go in as text. Expressions run through vega-embed's interpreter
// (ast: true), so the page's Content-Security-Policy needs no unsafe-eval.
"use strict";
const GitexpPlots = (() => {
  const OPTIONS = {actions: false, renderer: "svg", ast: true};
  const views = {sweep: {}, trials: [], report: []}; // window.gitexpViews: what tests read the scenegraph of

  async function draw(box, spec) {
    const target = document.createElement("div");
    box.append(target);
    return (await vegaEmbed(target, spec, OPTIONS)).view;
  }

  function figure(title) {
    const node = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = title;
    node.append(caption);
    return node;
  }

  // The trials a parallel-coordinates brush keeps: on every axis the rectangle spans, inside its height.
  function brushed(rows, brush) {
    if (!brush || !brush.axis || !brush.position) return null;
    const [from, to] = brush.axis, [low, high] = brush.position;
    const spanned = (row) => row.axis >= from && row.axis <= to;
    if (!rows.some(spanned)) return null;
    const outside = new Set(rows.filter((row) => spanned(row) && (row.position < low || row.position > high)).map((row) => row.id));
    return new Set(rows.map((row) => row.id).filter((id) => !outside.has(id)));
  }

  async function showSweep(box, found, onBrush) {
    views.sweep = {};
    const figures = [];
    for (const item of found.views) {
      const node = figure(item.spec.title);
      figures.push([node, item]);
    }
    box.replaceChildren(...figures.map(([node]) => node));
    for (const [node, item] of figures) {
      const view = await draw(node, item.spec);
      views.sweep[item.name] = view;
      if (item.name === "parallel") {
        view.addSignalListener("brush", (name, value) => onBrush(brushed(item.spec.data.values, value)));
      }
    }
  }

  async function showTrials(box, found) {
    views.trials = [];
    const figures = found.plots.map((item) => [figure(item.title), item]);
    box.replaceChildren(...figures.map(([node]) => node));
    for (const [node, item] of figures) views.trials.push({id: item.id, view: await draw(node, item.spec)});
  }

  // The report's own plots (the project's dvc.yaml plots of its best trial, in the page gitexp report --format
  // html writes): each script.vega-lite in ``box`` drawn once, in place of its PNG; body[data-plots] when all are.
  async function showSpecs(box) {
    const specs = [...box.querySelectorAll("script.vega-lite")];
    box.querySelectorAll("script.vega-lite").forEach((node) => node.classList.replace("vega-lite", "vega-lite-drawn"));
    try {
      for (const node of specs) {
        const target = document.createElement("div");
        node.before(target);
        views.report.push(await draw(target, JSON.parse(node.textContent)));
        const image = node.parentNode.querySelector("img");
        if (image) image.remove();
      }
      document.body.dataset.plots = "drawn";
    } catch (error) {
      document.body.dataset.plots = "error: " + error;
    }
  }

  window.gitexpViews = views;
  return {showSweep, showTrials, showSpecs, brushed};
})();
