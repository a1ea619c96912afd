// gitexp ui: the experiments table, a trial's page and the run form. Every value from the repository is put
// into the page as text (textContent, attributes through the DOM), never as HTML.
"use strict";
(() => {
  const ROW_HEIGHT = 28;
  const OVERSCAN = 10;
  const TAIL_MS = 1000; // a running trial's log is read again this often
  const FIXED = [
    {id: "name", label: "Experiment"},
    {id: "status", label: "status"},
    {id: "created", label: "created"},
    {id: "duration", label: "duration"},
    {id: "host", label: "host"},
    {id: "step", label: "step"},
    {id: "pareto", label: "pareto"}, // multi-objective sweeps only: front, the front's number, infeasible or -
  ];
  const state = {
    data: null, version: 0, sort: {column: null, descending: true}, filter: null, hiddenStatuses: new Set(),
    layout: loadLayout(), shown: [], collapsed: new Set(),
    selected: new Set(), brushed: null, sweep: null, // ticked trials (plots), the parallel coordinates' brush
  };
  const MAX_SELECTED = 20;
  const $ = (id) => document.getElementById(id);

  function element(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  async function api(path, body) {
    const options = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    const response = await fetch(path, options);
    if (response.status === 403) {
      notice("This page has no valid token: open the URL that gitexp ui printed.");
      throw new Error("forbidden");
    }
    return response.json();
  }

  // Where the page's data comes from: the server's API, or in the file gitexp report --format html writes, the
  // answers embedded in it (snapshot.js): read-only, no live updates.
  const snapshot = GitexpSnapshot.read();
  const source = snapshot ? GitexpSnapshot.source(snapshot) : {
    live: true,
    plottable: () => true,
    experiments: () => api("/api/experiments"),
    trial: (id) => api("/api/trial?id=" + encodeURIComponent(id)),
    sweepPlots: (sweep) => api("/api/sweep-plots?sweep=" + encodeURIComponent(sweep)),
    plots: (ids) => api("/api/plots?ids=" + ids.map(encodeURIComponent).join(",")),
  };

  function notice(text) {
    $("notice").hidden = false;
    $("notice").textContent = text;
  }

  // -- columns ---------------------------------------------------------------------

  function loadLayout() {
    try { return JSON.parse(localStorage.getItem("gitexp-columns")) || {order: [], hidden: [], shown: [], pinned: ["name"]}; }
    catch (error) { return {order: [], hidden: [], shown: [], pinned: ["name"]}; }
  }

  function saveLayout() { localStorage.setItem("gitexp-columns", JSON.stringify(state.layout)); }

  function allColumns() {
    const data = state.data;
    const params = data.params.map((key) => ({id: "p:" + key, label: key, kind: "param", key}));
    const metrics = data.metrics.map((key) => ({id: "m:" + key, label: key, kind: "metric", key}));
    const columns = [...FIXED.map((column) => ({...column, kind: "fixed"})), ...params, ...metrics];
    const rank = new Map(state.layout.order.map((id, index) => [id, index]));
    return columns
      .map((column, index) => ({...column, index}))
      .sort((a, b) => (rank.has(a.id) ? rank.get(a.id) : 1e6 + a.index) - (rank.has(b.id) ? rank.get(b.id) : 1e6 + b.index));
  }

  function visible(column) {
    if (column.id === "name") return true;
    if (column.id === "pareto" && !state.data.rows.some((row) => row.pareto)) return false;
    if (state.layout.hidden.includes(column.id)) return false;
    if (state.layout.shown.includes(column.id)) return true;
    return column.kind !== "param" || state.data.varying.includes(column.key);
  }

  function columns() {
    const shown = allColumns().filter(visible);
    const pinned = shown.filter((column) => state.layout.pinned.includes(column.id));
    return [...pinned, ...shown.filter((column) => !state.layout.pinned.includes(column.id))];
  }

  function value(row, column) {
    if (column.kind === "param") return row.params ? row.params[column.key] : undefined;
    if (column.kind === "metric") return row.metrics ? row.metrics[column.key] : undefined;
    if (column.id === "name") return row.kind === "commit" ? row.commit.slice(0, 7) + " " + row.subject : row.id;
    return row[column.id];
  }

  function format(raw, column) {
    if (raw === null || raw === undefined || raw === "") return "";
    if (column && column.id === "duration") return raw.toFixed(1) + "s";
    if (column && column.id === "created") return typeof raw === "number" ? new Date(raw * 1000).toLocaleString() : new Date(raw).toLocaleString();
    if (typeof raw === "number") return Number.isInteger(raw) ? String(raw) : String(Number(raw.toPrecision(6)));
    if (typeof raw === "object") return JSON.stringify(raw);
    return String(raw);
  }

  function renderColumnPicker() {
    const box = $("columns");
    box.replaceChildren();
    for (const column of allColumns()) {
      if (column.id === "name") continue;
      const on = visible(column);
      const pinned = state.layout.pinned.includes(column.id);
      const toggle = element("input", {type: "checkbox", dataset: {column: column.id}});
      toggle.checked = on;
      toggle.addEventListener("change", () => {
        const {hidden, shown} = state.layout;
        state.layout.hidden = hidden.filter((id) => id !== column.id);
        state.layout.shown = shown.filter((id) => id !== column.id);
        (toggle.checked ? state.layout.shown : state.layout.hidden).push(column.id);
        changedLayout();
      });
      const pin = element("button", {type: "button", class: pinned ? "on" : "", title: "pin", onclick: () => {
        state.layout.pinned = pinned ? state.layout.pinned.filter((id) => id !== column.id) : [...state.layout.pinned, column.id];
        changedLayout();
      }}, "📌");
      const move = (step) => () => {
        const order = allColumns().map((item) => item.id);
        const at = order.indexOf(column.id);
        const to = at + step;
        if (to < 1 || to >= order.length) return;
        [order[at], order[to]] = [order[to], order[at]];
        state.layout.order = order;
        changedLayout();
      };
      const kind = column.kind === "fixed" ? "" : column.kind + " ";
      box.append(element("div", {class: "column-choice"},
        element("label", {}, toggle, " ", element("span", {class: "kind"}, kind), column.label), pin,
        element("button", {type: "button", title: "move up", onclick: move(-1)}, "↑"),
        element("button", {type: "button", title: "move down", onclick: move(1)}, "↓")));
    }
  }

  function changedLayout() {
    saveLayout();
    renderColumnPicker();
    renderTable(true);
  }

  // -- rows ------------------------------------------------------------------------

  function resolver(name) {
    const data = state.data;
    if (["status", "sweep", "trial", "host", "duration", "step", "branch", "commit", "created", "pareto"].includes(name)) return (row) => row[name];
    if (name === "name" || name === "id") return (row) => row.id;
    if (data.metrics.includes(name)) return (row) => row.metrics && row.metrics[name];
    if (data.params.includes(name)) return (row) => row.params && row.params[name];
    return null;
  }

  // What a column sorts by: its value, but the Pareto column by front (the front first when descending).
  function sortValue(row, column) {
    if (column.id === "pareto") return row.pareto_front ? -row.pareto_front : null;
    return value(row, column);
  }

  function compareRows(column, descending) {
    return (a, b) => {
      const x = sortValue(a, column), y = sortValue(b, column);
      const missing = (v) => v === null || v === undefined || v === "";
      if (missing(x) || missing(y)) return missing(x) - missing(y);
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, {numeric: true});
      return descending ? -order : order;
    };
  }

  function shownRows() {
    const rows = state.data.rows;
    const column = state.sort.column && allColumns().find((item) => item.id === state.sort.column);
    const byCommit = new Map();
    const commits = [];
    for (const row of rows) {
      if (row.kind === "commit") { commits.push(row); byCommit.set(row.id, []); }
      else if (!state.hiddenStatuses.has(row.status) && (!state.filter || state.filter(row)) && (!state.brushed || state.brushed.has(row.id))) {
        byCommit.get(row.parent).push(row);
      }
    }
    const shown = [];
    for (const commit of commits) {
      const trials = byCommit.get(commit.id);
      if (column) trials.sort(compareRows(column, state.sort.descending));
      commit.shownTrials = trials.length;
      shown.push(commit);
      if (!state.collapsed.has(commit.id)) shown.push(...trials);
    }
    return shown;
  }

  // -- the table -------------------------------------------------------------------

  function renderHead(cols) {
    const row = element("tr");
    let left = 0;
    for (const column of cols) {
      const arrow = state.sort.column === column.id ? (state.sort.descending ? " ▼" : " ▲") : "";
      const cell = element("th", {dataset: {column: column.id}, title: (column.kind === "fixed" ? "" : column.kind + " ") + column.label},
        column.label + arrow);
      if (column.kind !== "fixed") cell.classList.add(column.kind);
      pinCell(cell, column, left);
      if (state.layout.pinned.includes(column.id)) left += cell.dataset.width ? Number(cell.dataset.width) : widthOf(column);
      cell.addEventListener("click", () => {
        state.sort = state.sort.column === column.id ? {column: column.id, descending: !state.sort.descending} : {column: column.id, descending: true};
        renderTable(true);
      });
      row.append(cell);
    }
    $("table").tHead.replaceChildren(row);
  }

  function widthOf(column) { return column.id === "name" ? 260 : 120; }

  function pinCell(cell, column, left) {
    cell.style.minWidth = cell.style.maxWidth = widthOf(column) + "px";
    if (state.layout.pinned.includes(column.id)) {
      cell.classList.add("pinned");
      cell.style.left = left + "px";
    }
  }

  function renderTable(rebuild) {
    if (!state.data) return;
    if (rebuild) {
      state.shown = shownRows();
      state.cols = columns();
      renderHead(state.cols);
      renderCounts();
    }
    const scroller = $("scroller");
    const total = state.shown.length;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const body = [spacer(first * ROW_HEIGHT)];
    for (let index = first; index < last; index++) body.push(renderRow(state.shown[index]));
    body.push(spacer((total - last) * ROW_HEIGHT));
    $("table").tBodies[0].replaceChildren(...body);
    document.body.dataset.rows = String(total);
  }

  function spacer(height) {
    const row = element("tr", {class: "spacer"});
    row.style.height = height + "px";
    return row;
  }

  function renderRow(row) {
    const tr = element("tr", {class: row.kind + " " + (row.status || ""), dataset: {id: row.id}});
    let left = 0;
    for (const column of state.cols) {
      const raw = value(row, column);
      const cell = element("td", {dataset: {column: column.id}});
      if (column.id === "name") {
        if (row.kind === "trial") cell.append(selectBox(row), element("a", {href: "#trial/" + encodeURIComponent(row.id)}, row.id));
        else {
          const open = !state.collapsed.has(row.id);
          cell.append(element("button", {type: "button", class: "fold", onclick: () => {
            open ? state.collapsed.add(row.id) : state.collapsed.delete(row.id);
            renderTable(true);
          }}, open ? "▾" : "▸"), element("code", {}, row.commit.slice(0, 7)), " ", row.subject,
          element("span", {class: "muted"}, ` (${row.shownTrials})`));
        }
      } else {
        cell.textContent = format(raw, column);
        if (typeof raw === "number") cell.classList.add("number");
      }
      cell.title = cell.textContent;
      pinCell(cell, column, left);
      if (state.layout.pinned.includes(column.id)) left += widthOf(column);
      tr.append(cell);
    }
    tr.style.height = ROW_HEIGHT + "px";
    return tr;
  }

  function selectBox(row) {
    const box = element("input", {type: "checkbox", class: "select", title: "plot this trial", dataset: {select: row.id}});
    box.checked = state.selected.has(row.id);
    if (!source.plottable(row.id)) Object.assign(box, {disabled: true, title: "this file holds the plots of the best trials only"});
    box.addEventListener("change", () => {
      if (box.checked && state.selected.size >= MAX_SELECTED) {
        box.checked = false;
        notice(`Plots overlay at most ${MAX_SELECTED} trials: untick one first.`);
        return;
      }
      box.checked ? state.selected.add(row.id) : state.selected.delete(row.id);
      showTrialPlots();
    });
    return box;
  }

  // -- plots -----------------------------------------------------------------------

  function sweepsOfTable() {
    return [...new Set(state.data.rows.filter((row) => row.kind === "trial").map((row) => row.sweep))];
  }

  function renderSweepChoice() {
    const sweeps = sweepsOfTable();
    if (!sweeps.includes(state.sweep)) state.sweep = sweeps[0] || null;
    const select = $("sweep-choice");
    select.replaceChildren(...sweeps.map((name) => element("option", {value: name}, name)));
    if (state.sweep) select.value = state.sweep;
  }

  async function showSweepPlots() {
    const version = state.version;
    if (!state.sweep) { $("sweep-views").replaceChildren(); return; }
    const found = await source.sweepPlots(state.sweep);
    if (found.error) { $("sweep-views").replaceChildren(element("p", {class: "error"}, found.error)); return; }
    const objectives = (found.objectives || []).map(([metric, goal]) => `${metric} (${goal})`).join(", ");
    $("sweep-objective").textContent = objectives ? `Pareto front of ${objectives}` :
      found.metric ? `against ${found.metric} (${found.goal}${found.declared ? "" : ", a guess: no objective declared"})` : "no trial has a metric yet";
    setBrush(null);
    await GitexpPlots.showSweep($("sweep-views"), found, setBrush);
    document.body.dataset.sweepPlots = `${state.sweep}:${version}`;
  }

  function setBrush(ids) {
    state.brushed = ids;
    $("brushed").textContent = ids ? `brushed: ${ids.size} trials` : "";
    $("brush-clear").hidden = !ids;
    renderTable(true);
  }

  async function showTrialPlots() {
    const ids = [...state.selected];
    $("selected-count").textContent = ids.length ? `(${ids.length} of at most ${MAX_SELECTED})` : "(tick up to 20 rows)";
    const version = state.version;
    const found = ids.length ? await source.plots(ids) : {plots: []};
    if (found.error) { $("trial-plots").replaceChildren(element("p", {class: "error"}, found.error)); return; }
    if (ids.join(",") !== [...state.selected].join(",")) return; // a later tick draws instead
    await GitexpPlots.showTrials($("trial-plots"), found);
    document.body.dataset.trialPlots = `${ids.join(",")}:${version}`;
  }

  function refreshPlots(previous) {
    const sweep = state.sweep;
    renderSweepChoice();
    if (previous === null || sweep !== state.sweep || (state.version !== previous && !state.brushed)) showSweepPlots();
    const running = state.data.rows.some((row) => state.selected.has(row.id) && row.status === "running");
    if (running || [...state.selected].some((id) => !state.data.rows.some((row) => row.id === id))) {
      for (const id of [...state.selected]) if (!state.data.rows.some((row) => row.id === id)) state.selected.delete(id);
      showTrialPlots();
    }
  }

  function renderCounts() {
    const box = $("counts");
    box.replaceChildren();
    for (const status of Object.keys(state.data.counts)) {  // the server's states, in its order
      const toggle = element("input", {type: "checkbox", dataset: {status}});
      toggle.checked = !state.hiddenStatuses.has(status);
      toggle.addEventListener("change", () => {
        toggle.checked ? state.hiddenStatuses.delete(status) : state.hiddenStatuses.add(status);
        renderTable(true);
      });
      box.append(element("label", {class: "count " + status}, toggle, ` ${status} `, element("b", {dataset: {count: status}}, state.data.counts[status] || 0)));
    }
  }

  // The runs "Queue and run here" started: running, then how each ended (a failure with its last line).
  function renderRuns(runs) {
    $("runs").replaceChildren(...runs.map((run) => {
      const end = run.state === "running" ? "running" : run.state === "finished" ? "finished (exit status 0)" : `failed (exit status ${run.exit_code})`;
      return element("div", {class: "run " + run.state, dataset: {sweep: run.sweep, state: run.state}},
        `gitexp run ${run.sweep} (pid ${run.pid}): ${end}`, run.line ? element("code", {class: "error"}, " " + run.line) : "");
    }));
  }

  function applyFilter() {
    const text = $("filter").value.trim();
    $("filter-error").textContent = "";
    try {
      state.filter = text ? GitexpFilter.parse(text, resolver) : null;
    } catch (error) {
      state.filter = null;
      $("filter-error").textContent = error.message;
    }
    renderTable(true);
  }

  async function loadTable() {
    const data = await source.experiments();
    const previous = state.data ? state.version : null;
    state.data = data;
    state.version = data.version;
    $("branch").textContent = data.branch ? `on ${data.branch}` : "";
    renderRuns(data.runs || []);
    renderColumnPicker();
    if ($("filter").value.trim()) applyFilter(); else renderTable(true);
    document.body.dataset.version = String(data.version);
    document.body.dataset.ready = "1";
    refreshPlots(previous);
    if (location.hash.startsWith("#trial/")) showTrial(decodeURIComponent(location.hash.slice(7)));
  }

  // -- a trial ---------------------------------------------------------------------

  async function showTrial(id) {
    const found = await source.trial(id);
    // A commit or the branch as code, linked to GitHub when the remote is there (found.links, built by the server).
    const linked = (name, text) => {
      const code = element("code", {}, text);
      const href = found.links && found.links[name];
      return href ? element("a", {href, target: "_blank", rel: "noopener noreferrer", dataset: {link: name}}, code) : code;
    };
    const view = $("view-trial");
    if (found.error) { view.replaceChildren(element("p", {class: "error"}, found.error)); return; }
    const params = element("table", {class: "detail"}, element("tr", {}, element("th", {}, "param"), element("th", {}, "baseline"), element("th", {}, "trial")));
    for (const item of found.params) params.append(element("tr", {}, element("td", {}, item.key), element("td", {}, format(item.baseline)), element("td", {}, format(item.value))));
    const metrics = element("table", {class: "detail"}, element("tr", {}, element("th", {}, "metric"), element("th", {}, "baseline"), element("th", {}, "trial"), element("th", {}, "delta")));
    for (const item of found.metrics) {
      const delta = item.delta === null ? "" : (item.delta >= 0 ? "+" : "") + format(item.delta);
      metrics.append(element("tr", {}, element("td", {}, item.key), element("td", {}, format(item.baseline)), element("td", {}, format(item.value)), element("td", {class: "number"}, delta)));
    }
    const commands = element("ul", {class: "commands"});
    for (const command of found.commands) {
      commands.append(element("li", {}, element("code", {}, command), " ",
        element("button", {type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(command)}, "copy")));
    }
    view.replaceChildren(
      element("h2", {}, found.id, " ", element("span", {class: "status " + found.status, id: "trial-status"}, found.status)),
      element("p", {id: "trial-commits"}, "branch ", linked("branch", found.branch || ""),
        " · trial commit ", linked("trial_commit", found.trial_commit.slice(0, 10)),
        ...(found.result_commit ? [" · result commit ", linked("result_commit", found.result_commit.slice(0, 10))] : []),
        " · baseline ", element("code", {}, found.baseline.slice(0, 10)), found.host ? ` · on ${found.host}` : "",
        found.duration !== null ? ` · ${format(found.duration, {id: "duration"})}` : "",
        ...(found.links && found.links.pulls ? [" · ", element("a", {href: found.links.pulls, target: "_blank", rel: "noopener noreferrer", dataset: {link: "pulls"}}, "pull requests on GitHub")] : [])),
      element("h3", {}, "Params changed from the baseline"), params,
      element("h3", {}, "Metrics"), metrics,
      element("h3", {}, "Commands"), commands,
      element("h3", {}, "Log"), element("pre", {id: "trial-log"}, found.log || "(no log yet)"));
    const log = $("trial-log");
    log.scrollTop = log.scrollHeight;
    document.body.dataset.trial = found.id;
    if (found.status === "running" && source.live) setTimeout(() => { if (location.hash === "#trial/" + encodeURIComponent(id)) showTrial(id); }, TAIL_MS);
  }

  // -- the run form ----------------------------------------------------------------

  let baseParams = {};
  let checkTimer = null;

  async function showRunForm() {
    const select = $("run-rev");
    if (!select.options.length && state.data) {
      for (const row of state.data.rows.filter((item) => item.kind === "commit")) {
        select.append(element("option", {value: row.commit}, row.commit.slice(0, 7) + " " + row.subject));
      }
    }
    await loadFields();
  }

  async function loadFields() {
    const found = await api("/api/params?rev=" + encodeURIComponent($("run-rev").value || "HEAD"));
    const box = $("run-fields");
    box.replaceChildren();
    if (found.error) { box.append(element("p", {class: "error"}, found.error)); return; }
    baseParams = found.params;
    for (const [key, raw] of Object.entries(found.params)) {
      const input = element("input", {size: "30", dataset: {key}, spellcheck: "false"});
      input.value = typeof raw === "string" ? raw : JSON.stringify(raw);
      input.dataset.initial = input.value;
      input.addEventListener("input", scheduleCheck);
      box.append(element("div", {class: "field"}, element("label", {}, element("span", {class: "key"}, key), input),
        element("span", {class: "error field-error", dataset: {key}})));
    }
    document.body.dataset.form = "1";
  }

  function form(action) {
    const sets = {};
    for (const input of $("run-fields").querySelectorAll("input")) {
      if (input.value !== input.dataset.initial) sets[input.dataset.key] = input.value;
    }
    const num = $("run-num").value;
    return {rev: $("run-rev").value || "HEAD", sets, strategy: $("run-strategy").value, num_trials: num ? Number(num) : null,
      name: $("run-name").value, message: $("run-message").value, jobs: Number($("run-jobs").value || 1), action};
  }

  function scheduleCheck() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(checkForm, 300);
  }

  async function checkForm() {
    const request = form("queue");
    if (!Object.keys(request.sets).length) { showCheck({fields: {}, error: null, trials: []}); return null; }
    const found = await api("/api/check", request);
    showCheck(found);
    return found;
  }

  function showCheck(found) {
    for (const span of $("run-fields").querySelectorAll(".field-error")) span.textContent = (found.fields || {})[span.dataset.key] || "";
    $("run-error").textContent = found.error || "";
    const trials = found.trials || [];
    $("run-preview").textContent = trials.length ? `${trials.length}${trials.length >= 20 ? "+" : ""} trials, first: ` +
      Object.entries(trials[0]).map(([key, raw]) => `${key}=${format(raw)}`).join(" ") : "";
    document.body.dataset.checked = String(Date.now());
  }

  async function submit(event) {
    event.preventDefault();
    const action = event.submitter ? event.submitter.dataset.action : "queue";
    const checked = await checkForm();
    if (!checked || checked.error || Object.values(checked.fields).some(Boolean)) {
      if (!checked) $("run-error").textContent = "change at least one field: its value or a sweep such as [1, 2, 3]";
      return;
    }
    const found = await api("/api/queue", form(action));
    if (found.error) { $("run-error").textContent = found.error; return; }
    $("run-result").replaceChildren(`Queued ${found.sweep}: ${found.branches.length} branches`, action === "run" ? " (running here)" : "",
      ...(found.pushed || []).map((line) => element("div", {}, line)));
    document.body.dataset.queued = found.sweep;
  }

  // -- navigation and live updates ---------------------------------------------------

  function route() {
    const hash = location.hash || "#table";
    let [name] = hash.slice(1).split("/");
    if (!$("view-" + name)) name = "table"; // the report's file has no run form
    for (const view of document.querySelectorAll("main > section[id^='view-']")) view.hidden = view.id !== "view-" + name;
    if (name === "trial") showTrial(decodeURIComponent(hash.slice(7)));
    if (name === "run") showRunForm();
    if (name === "report") GitexpPlots.showSpecs($("view-report"));
    if (name === "table") renderTable(false);
  }

  function listen() {
    const events = new EventSource("/api/events");
    events.addEventListener("update", (event) => {
      if (Number(event.data) !== state.version) loadTable();
    });
    events.onopen = () => $("live").classList.add("on");
    events.onerror = () => $("live").classList.remove("on");
  }

  window.addEventListener("hashchange", route);
  $("scroller").addEventListener("scroll", () => renderTable(false));
  window.addEventListener("resize", () => renderTable(false));
  $("filter").addEventListener("input", applyFilter);
  $("columns-button").addEventListener("click", () => { $("columns").hidden = !$("columns").hidden; });
  $("run-rev").addEventListener("change", loadFields);
  for (const id of ["run-strategy", "run-num"]) $(id).addEventListener("input", scheduleCheck);
  $("run-form").addEventListener("submit", submit);
  $("sweep-choice").addEventListener("change", () => { state.sweep = $("sweep-choice").value; showSweepPlots(); });
  $("brush-clear").addEventListener("click", () => { showSweepPlots(); });
  if (!source.live) {  // the report's file: its summary instead of the run form and the live dot
    for (const id of ["nav-run", "view-run", "live"]) $(id).remove();
    $("nav-report").hidden = false;
  }
  loadTable().then(route, () => {}).finally(() => source.live && listen());
})();
