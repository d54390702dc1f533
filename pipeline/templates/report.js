"use strict";
(function () {
  // Every string from the data becomes a text node (textContent / createTextNode), never markup.
  var started = performance.now();
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var F = {};
  data.fields.forEach(function (name, i) { F[name] = i; });
  var rows = data.rows;
  data.labelled.forEach(function (name) {  // positions in data.labels back to strings
    var i = F[name];
    rows.forEach(function (row) { if (row[i] !== null) { row[i] = data.labels[row[i]]; } });
  });
  var hasPrevious = data.previous_as_of !== null;
  var FILTERS = ["owner", "industry", "region", "tier"];
  var FIELD_OF = { owner: "account_owner", industry: "industry", region: "region", tier: "tier" };
  var NUMERIC = { rank: true, movement: true, spend_12m: true, score: true };
  var DESCENDING_FIRST = { movement: true, spend_12m: true, score: true };
  var ALL = "*";
  var SORTABLE = Array.prototype.map.call(document.querySelectorAll("th[data-sort]"), function (th) {
    return th.dataset.sort;
  });
  var SVG = "http://www.w3.org/2000/svg";
  var whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var cents = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var state = { filters: {}, q: "", sort: "rank", dir: "asc", page: 1, customer: null };
  var matched = rows;
  var haystacks = null;
  var byId = {};
  rows.forEach(function (row) { byId[row[F.customer_id]] = row; });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(tag, attributes, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }
  function orDash(value) { return value === null || value === "" ? "—" : String(value); }
  function ownerLabel(value) { return value === null ? "unassigned" : value; }
  function movement(row) {
    if (!hasPrevious) { return null; }
    var previous = row[F.previous_rank];
    return previous === null ? Infinity : previous - row[F.rank];
  }
  function movementText(row) {
    var change = movement(row);
    if (change === null) { return ["–", "missing"]; }
    if (change === Infinity) { return ["new", "new"]; }
    if (change > 0) { return ["▲" + whole.format(change), "up"]; }
    if (change < 0) { return ["▼" + whole.format(-change), "down"]; }
    return ["=", "missing"];
  }
  function shortReason(text) { return text.replace(/ — (raises|lowers)$/, ""); }
  function sortValue(row, key) {
    if (key === "movement") { return movement(row); }
    var value = row[F[key]];
    if (value === null) { return null; }
    return NUMERIC[key] ? value : String(value).toLocaleLowerCase();
  }

  // --- the URL fragment: #owner=Jane%20Doe&tier=A&q=...&sort=score&dir=desc&page=2&customer=C1
  function encode(value) { return encodeURIComponent(value === null ? "" : value); }
  function fragment(overrides) {
    var s = Object.assign({}, state, overrides || {});
    var parts = [];
    FILTERS.forEach(function (key) {
      if (Object.prototype.hasOwnProperty.call(s.filters, key)) { parts.push(key + "=" + encode(s.filters[key])); }
    });
    if (s.q) { parts.push("q=" + encode(s.q)); }
    if (s.sort !== "rank" || s.dir !== "asc") { parts.push("sort=" + encode(s.sort), "dir=" + s.dir); }
    if (s.page > 1) { parts.push("page=" + s.page); }
    if (s.customer !== null) { parts.push("customer=" + encode(s.customer)); }
    return "#" + parts.join("&");
  }
  function readFragment() {
    var next = { filters: {}, q: "", sort: "rank", dir: "asc", page: 1, customer: null };
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) { return; }
      var at = part.indexOf("=");
      var key = at < 0 ? part : part.slice(0, at);
      var value;
      try { value = decodeURIComponent((at < 0 ? "" : part.slice(at + 1)).replace(/\+/g, " ")); }
      catch (error) { return; }
      if (FILTERS.indexOf(key) >= 0) { next.filters[key] = value === "" ? null : value; }
      else if (key === "q") { next.q = value; }
      else if (key === "sort" && SORTABLE.indexOf(value) >= 0) { next.sort = value; }
      else if (key === "dir" && (value === "asc" || value === "desc")) { next.dir = value; }
      else if (key === "page" && /^[0-9]+$/.test(value)) { next.page = Math.max(1, parseInt(value, 10)); }
      else if (key === "customer" && value !== "") { next.customer = value; }
    });
    return next;
  }
  function writeFragment() {
    var target = fragment();
    document.getElementById("view-link").setAttribute("href", fragment({ page: 1, customer: null }));
    if (location.hash === target || (target === "#" && location.hash === "")) { return; }
    try { history.replaceState(null, "", target === "#" ? location.pathname + location.search : target); }
    catch (error) { location.replace(target); }
  }

  // --- filters
  function fillSelect(select, key) {
    var counts = new Map();
    var field = F[FIELD_OF[key]];
    rows.forEach(function (row) { counts.set(row[field], (counts.get(row[field]) || 0) + 1); });
    var values = Array.from(counts.keys()).sort(function (a, b) {
      if (a === null) { return 1; }
      if (b === null) { return -1; }
      return a.localeCompare(b);
    });
    select.replaceChildren();
    select.appendChild(new Option("All (" + whole.format(rows.length) + ")", ALL));
    values.forEach(function (value) {
      var label = (key === "owner" ? ownerLabel(value) : orDash(value)) + " (" + whole.format(counts.get(value)) + ")";
      select.appendChild(new Option(label, JSON.stringify(value)));
    });
  }
  function selectValue(select) {
    return select.value === ALL ? undefined : JSON.parse(select.value);
  }
  function showFiltersInControls() {
    FILTERS.forEach(function (key) {
      var select = document.getElementById("filter-" + key);
      var wanted = Object.prototype.hasOwnProperty.call(state.filters, key) ? JSON.stringify(state.filters[key]) : ALL;
      var known = Array.prototype.some.call(select.options, function (option) { return option.value === wanted; });
      if (!known) {
        var value = state.filters[key];
        select.appendChild(new Option((key === "owner" ? ownerLabel(value) : orDash(value)) + " (0)", wanted));
      }
      select.value = wanted;
    });
    document.getElementById("search").value = state.q;
  }
  function haystack(i) {
    if (haystacks === null) { haystacks = new Array(rows.length); }
    if (haystacks[i] === undefined) {
      var row = rows[i];
      haystacks[i] = [row[F.company_name] || "", row[F.customer_id] || ""].concat(
        row[F.reasons].map(function (reason) { return reason[0]; })).join("\n").toLocaleLowerCase();
    }
    return haystacks[i];
  }
  function applyFilters() {
    var active = FILTERS.filter(function (key) { return Object.prototype.hasOwnProperty.call(state.filters, key); });
    var needle = state.q.trim().toLocaleLowerCase();
    var result = [];
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var keep = active.every(function (key) { return row[F[FIELD_OF[key]]] === state.filters[key]; });
      if (keep && needle && haystack(i).indexOf(needle) < 0) { keep = false; }
      if (keep) { result.push(row); }
    }
    var key = state.sort;
    var sign = state.dir === "asc" ? 1 : -1;
    var keyed = result.map(function (row) { return [sortValue(row, key), row[F.rank], row]; });  // each key once
    keyed.sort(function (a, b) {
      var x = a[0];
      var y = b[0];
      if (x === null || y === null) {
        if (x !== y) { return x === null ? 1 : -1; }
      } else if (x < y) { return -sign; } else if (x > y) { return sign; }
      return a[1] - b[1];
    });
    matched = keyed.map(function (entry) { return entry[2]; });
  }

  // --- the table
  function cell(tr, className, content) {
    var td = el("td", className);
    if (content instanceof Node) { td.appendChild(content); } else { td.textContent = content; }
    tr.appendChild(td);
    return td;
  }
  function textOrMissing(value, fallback) {
    return value === null ? el("span", "missing", fallback || "—") : document.createTextNode(String(value));
  }
  function reasonList(row, limit) {
    if (row[F.reasons].length === 0) { return el("span", "missing", "—"); }
    var list = el("ul");
    row[F.reasons].slice(0, limit).forEach(function (reason) {
      list.appendChild(el("li", reason[1] !== null && reason[1] < 0 ? "lowers" : "raises", shortReason(reason[0])));
    });
    return list;
  }
  function renderRow(row) {
    var tr = el("tr");
    tr.tabIndex = 0;
    tr.dataset.customer = row[F.customer_id];
    cell(tr, "num", whole.format(row[F.rank]));
    var change = movementText(row);
    cell(tr, "num", el("span", change[1], change[0]));
    var company = el("div"), name = el("div", "name");
    name.appendChild(textOrMissing(row[F.company_name]));
    company.appendChild(name);
    company.appendChild(el("div", "id", row[F.customer_id]));
    cell(tr, "company", company);
    cell(tr, "", textOrMissing(row[F.industry]));
    cell(tr, "", textOrMissing(row[F.region]));
    cell(tr, "owner", textOrMissing(row[F.account_owner], "unassigned"));
    cell(tr, "num", row[F.spend_12m] === null ? el("span", "missing", "—") : whole.format(row[F.spend_12m]));
    cell(tr, "num score", row[F.score] === null ? el("span", "missing", "—") : String(row[F.score]));
    cell(tr, "tier-" + row[F.tier], textOrMissing(row[F.tier]));
    cell(tr, "reasons", reasonList(row, 3));
    return tr;
  }
  function pageCount() { return Math.max(1, Math.ceil(matched.length / data.page_size)); }
  function render() {
    state.page = Math.min(state.page, pageCount());
    var start = (state.page - 1) * data.page_size;
    var shown = matched.slice(start, start + data.page_size);
    var body = document.getElementById("rows");
    var fragmentNodes = document.createDocumentFragment();
    shown.forEach(function (row) { fragmentNodes.appendChild(renderRow(row)); });
    body.replaceChildren(fragmentNodes);
    document.getElementById("match-count").textContent = whole.format(matched.length);
    document.getElementById("page-range").textContent = matched.length === 0 ? "; none match the filters" :
      "; showing " + whole.format(start + 1) + "–" + whole.format(start + shown.length);
    document.getElementById("page-count").textContent = whole.format(pageCount());
    document.getElementById("page").value = state.page;
    document.getElementById("page").max = pageCount();
    ["first", "prev"].forEach(function (id) { document.getElementById(id).disabled = state.page <= 1; });
    ["next", "last"].forEach(function (id) { document.getElementById(id).disabled = state.page >= pageCount(); });
    document.querySelectorAll("th[data-sort]").forEach(function (th) {
      if (th.dataset.sort === state.sort) { th.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
  }
  function update(resetPage) {
    if (resetPage) { state.page = 1; }
    applyFilters();
    render();
    writeFragment();
  }

  // --- the detail view
  function barsChart(reasons) {
    var explained = reasons.filter(function (reason) { return reason[1] !== null; });
    if (explained.length === 0) { return el("p", "note", "No effects recorded for this customer."); }
    var largest = Math.max.apply(null, explained.map(function (reason) { return Math.abs(reason[1]); })) || 1;
    var rowHeight = 24, labelWidth = 330, half = 170;
    var chart = svg("svg", { viewBox: "0 0 " + (labelWidth + 2 * half + 50) + " " + (explained.length * rowHeight + 6),
                             role: "img", "aria-label": "Contribution of each reason to the score", id: "detail-bars-svg" });
    var centre = labelWidth + half;
    chart.appendChild(svg("line", { x1: centre, y1: 0, x2: centre, y2: explained.length * rowHeight + 6, class: "axis" }));
    explained.forEach(function (reason, i) {
      var effect = reason[1];
      var width = Math.abs(effect) / largest * (half - 50);  // room for the value beside the longest bar
      var y = i * rowHeight + 4;
      var label = shortReason(reason[0]).split(":")[0];
      chart.appendChild(svg("text", { x: labelWidth - 6, y: y + 13, class: "tick end" },
                            label.length > 52 ? label.slice(0, 51) + "…" : label));
      var bar = svg("rect", { x: effect >= 0 ? centre : centre - width, y: y, width: Math.max(width, 1), height: 16,
                              class: effect >= 0 ? "effect-raises" : "effect-lowers" });
      bar.appendChild(svg("title", {}, reason[0]));
      chart.appendChild(bar);
      chart.appendChild(svg("text", { x: effect >= 0 ? centre + width + 4 : centre - width - 4, y: y + 13,
                                      class: effect >= 0 ? "tick" : "tick end" }, (effect >= 0 ? "+" : "") + effect.toFixed(2)));
    });
    return chart;
  }
  function sparkline(months) {
    if (months === null || months.length === 0) { return el("p", "note", "No monthly spend recorded for this customer."); }
    var width = 640, height = 110, top = 14, bottom = 22;
    var highest = Math.max.apply(null, months.concat([0]));
    var lowest = Math.min.apply(null, months.concat([0]));
    var span = highest - lowest || 1;
    var step = months.length > 1 ? width / (months.length - 1) : 0;
    var points = months.map(function (value, i) {
      return (i * step).toFixed(1) + "," + (top + (highest - value) / span * (height - top - bottom)).toFixed(1);
    });
    var baseline = (top + highest / span * (height - top - bottom)).toFixed(1);
    var chart = svg("svg", { viewBox: "-4 0 " + (width + 8) + " " + height, role: "img", id: "detail-sparkline-svg",
                             "aria-label": "Monthly spend, " + data.months[0] + " to " + data.months[data.months.length - 1] });
    chart.appendChild(svg("polygon", { points: "0," + baseline + " " + points.join(" ") + " " + ((months.length - 1) * step).toFixed(1) + "," + baseline,
                                       class: "spark-area" }));
    chart.appendChild(svg("polyline", { points: points.join(" "), class: "spark" }));
    chart.appendChild(svg("text", { x: 0, y: height - 4, class: "tick" }, data.months[0]));
    chart.appendChild(svg("text", { x: width, y: height - 4, class: "tick end" }, data.months[data.months.length - 1]));
    chart.appendChild(svg("text", { x: width, y: 10, class: "tick end" }, "highest month " + whole.format(highest)));
    months.forEach(function (value, i) {
      var dot = svg("circle", { cx: (i * step).toFixed(1), cy: points[i].split(",")[1], r: 2.5, class: "effect-raises" });
      dot.appendChild(svg("title", {}, data.months[i] + ": " + whole.format(value) + " " + data.currency));
      chart.appendChild(dot);
    });
    return chart;
  }
  function changeText(row) {
    if (!hasPrevious) { return "No previous run to compare with."; }
    if (row[F.previous_rank] === null) { return "New on the list since the run of " + data.previous_as_of + "."; }
    var change = movementText(row);
    return "Since the run of " + data.previous_as_of + ": rank " + whole.format(row[F.previous_rank]) + " → " +
      whole.format(row[F.rank]) + " (" + change[0] + "), tier " + orDash(row[F.previous_tier]) + " → " + orDash(row[F.tier]) +
      ", score " + orDash(row[F.previous_score]) + " → " + orDash(row[F.score]) + ".";
  }
  function openDetail(row) {
    var dialog = document.getElementById("detail");
    document.getElementById("detail-title").textContent = orDash(row[F.company_name]);
    var facts = [
      "Customer " + row[F.customer_id],
      "rank " + whole.format(row[F.rank]) + " of " + whole.format(rows.length),
      "score " + orDash(row[F.score]), "tier " + orDash(row[F.tier]),
      row[F.probability] === null ? null : "probability " + (row[F.probability] > 0 && row[F.probability] < 0.001 ? "under 0.1" : (row[F.probability] * 100).toFixed(1)) + "%",
      "spend, last 12 months: " + (row[F.spend_12m] === null ? "—" : data.currency + " " + cents.format(row[F.spend_12m])),
      "industry " + orDash(row[F.industry]), "region " + orDash(row[F.region]), "country " + orDash(row[F.country]),
      "owner " + ownerLabel(row[F.account_owner])
    ].filter(function (fact) { return fact !== null; });
    document.getElementById("detail-facts").textContent = facts.join(" · ");
    document.getElementById("detail-change").textContent = changeText(row);
    var reasons = document.getElementById("detail-reasons");
    reasons.replaceChildren();
    if (row[F.reasons].length === 0) {
      reasons.appendChild(el("li", "note", "Reasons are given for the top of the list only."));
    }
    row[F.reasons].forEach(function (reason) {
      reasons.appendChild(el("li", reason[1] !== null && reason[1] < 0 ? "lowers" : "raises", reason[0]));
    });
    document.getElementById("detail-bars").replaceChildren(row[F.reasons].length ? barsChart(row[F.reasons]) : el("span"));
    document.getElementById("detail-sparkline").replaceChildren(sparkline(row[F.months]));
    document.getElementById("detail-months").textContent = data.months.length ?
      data.months[0] + " to " + data.months[data.months.length - 1] : "";
    document.getElementById("detail-link").setAttribute("href", fragment({ customer: row[F.customer_id] }));
    document.getElementById("detail-owner-link").setAttribute("href",
      fragment({ filters: { owner: row[F.account_owner] }, q: "", page: 1, customer: null }));
    if (!dialog.open) { dialog.showModal(); }
  }
  function showCustomer(id) {
    state.customer = id;
    var row = byId[id];
    if (row === undefined) {
      state.customer = null;
      document.getElementById("page-range").textContent = "; customer " + id + " is not on this list";
      return;
    }
    openDetail(row);
    writeFragment();
  }

  // --- wiring
  function applyFragment() {
    var next = readFragment();
    state.filters = next.filters; state.q = next.q; state.sort = next.sort; state.dir = next.dir;
    state.page = next.page;
    showFiltersInControls();
    applyFilters();
    render();
    var dialog = document.getElementById("detail");
    if (next.customer !== null) { showCustomer(next.customer); }
    else if (dialog.open) { state.customer = null; dialog.close(); }
    document.getElementById("view-link").setAttribute("href", fragment({ page: 1, customer: null }));
  }
  FILTERS.forEach(function (key) {
    var select = document.getElementById("filter-" + key);
    fillSelect(select, key);
    select.addEventListener("change", function () {
      var value = selectValue(select);
      if (value === undefined) { delete state.filters[key]; } else { state.filters[key] = value; }
      update(true);
    });
  });
  var typing = null;
  document.getElementById("search").addEventListener("input", function (event) {
    clearTimeout(typing);
    typing = setTimeout(function () { state.q = event.target.value; update(true); }, 150);
  });
  document.getElementById("reset").addEventListener("click", function () {
    state.filters = {}; state.q = ""; state.sort = "rank"; state.dir = "asc";
    showFiltersInControls();
    update(true);
  });
  document.querySelectorAll("th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () {  // the whole header cell, not only its button's text
      var key = th.dataset.sort;
      if (state.sort === key) { state.dir = state.dir === "asc" ? "desc" : "asc"; }
      else { state.sort = key; state.dir = DESCENDING_FIRST[key] ? "desc" : "asc"; }
      update(true);
    });
  });
  function goTo(page) { state.page = Math.max(1, Math.min(page, pageCount())); render(); writeFragment(); }
  document.getElementById("first").addEventListener("click", function () { goTo(1); });
  document.getElementById("prev").addEventListener("click", function () { goTo(state.page - 1); });
  document.getElementById("next").addEventListener("click", function () { goTo(state.page + 1); });
  document.getElementById("last").addEventListener("click", function () { goTo(pageCount()); });
  document.getElementById("page").addEventListener("change", function (event) {
    goTo(parseInt(event.target.value, 10) || 1);
  });
  var body = document.getElementById("rows");
  function rowEvent(event) {
    var tr = event.target.closest("tr");
    if (tr && tr.dataset.customer !== undefined) { showCustomer(tr.dataset.customer); }
  }
  body.addEventListener("click", rowEvent);
  body.addEventListener("keydown", function (event) { if (event.key === "Enter") { rowEvent(event); } });
  document.getElementById("detail-close").addEventListener("click", function () { document.getElementById("detail").close(); });
  document.getElementById("detail").addEventListener("close", function () { state.customer = null; writeFragment(); });
  window.addEventListener("hashchange", applyFragment);
  applyFragment();
  window.reportTiming = { firstRenderMs: performance.now(), scriptMs: performance.now() - started };
  document.body.dataset.ready = "true";
})();
