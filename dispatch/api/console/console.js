// The dispatch console: plain JavaScript on the public JSON API (/v1/...), no build step, no CDN.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { version: null, taxonomy: null, areas: null, departments: null, coverage: null };

// -- small helpers ---------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "background") node.style.background = v; // CSSOM, which the page's CSP allows (an inline style attribute it does not)
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

async function api(path, options = {}) {
  const res = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((body && body.detail) || `${res.status} ${res.statusText}`);
    err.problem = body;
    throw err;
  }
  return body;
}

function problemBox(err) {
  const p = err.problem;
  return el("div", { class: "error", "data-testid": "error", role: "alert" },
    el("strong", { text: p ? `${p.code}: ${p.detail}` : String(err.message) }),
    p && p.errors && p.errors.length ? el("ul", {}, p.errors.map((e) => el("li", {}, el("code", { text: e.field || "(body)" }), " ", e.detail))) : null,
    p && p.diagnostics ? el("ul", {}, p.diagnostics.slice(0, 20).map((d) => el("li", {}, el("code", { text: d.at }), " ", d.message))) : null);
}

const nameOf = (tree, code) => (tree && tree.byCode.get(code) ? tree.byCode.get(code).name : "");

function indexTree(doc) {
  const byCode = new Map();
  const children = new Map();
  for (const n of doc.nodes) {
    byCode.set(n.code, n);
    const key = n.parent || "";
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(n);
  }
  return { nodes: doc.nodes, byCode, children };
}

function pathOf(tree, code) {
  const out = [];
  for (let n = tree.byCode.get(code); n; n = n.parent ? tree.byCode.get(n.parent) : null) out.unshift(n);
  return out;
}

// -- the rule set's name and version, kept current -------------------------------------------

async function refreshRuleset() {
  let info;
  try {
    info = await api("/v1/ruleset");
  } catch (err) {
    $("[data-testid=ruleset-notice]").hidden = false;
    $("[data-testid=ruleset-notice]").textContent = "服务未就绪 not ready";
    return;
  }
  $("[data-testid=ruleset-name]").textContent = info.name;
  $("[data-testid=ruleset-name]").title = info.title || "";
  $("[data-testid=ruleset-version]").textContent = info.version;
  const notice = $("[data-testid=ruleset-notice]");
  if (state.version && state.version !== info.version) {
    notice.hidden = false;
    notice.textContent = `已更新 reloaded ${info.loaded_at}`;
    await loadReference();
  } else if (!info.refused) {
    notice.hidden = true;
  }
  if (info.refused) {
    notice.hidden = false;
    notice.textContent = `新规则集被拒绝 refused at ${info.refused.at}: ${info.refused.diagnostics.length} error(s)`;
  }
  state.version = info.version;
}

async function loadReference() {
  const [tax, areas, deps] = await Promise.all([api("/v1/taxonomy"), api("/v1/areas"), api("/v1/departments")]);
  state.taxonomy = indexTree(tax);
  state.areas = indexTree(areas);
  state.departments = new Map(deps.departments.map((d) => [d.code, d]));
  state.coverage = null;
  const source = $("#source");
  const chosen = source.value;
  source.replaceChildren(...deps.sources.map((s) => el("option", { value: s, text: s })));
  if (deps.sources.includes(chosen)) source.value = chosen;
  fillDatalist($("#event-codes"), tax.nodes.filter((n) => n.item));
  fillDatalist($("#all-event-codes"), tax.nodes);
  fillDatalist($("#area-codes"), areas.nodes);
  renderTree($("#event-tree"), state.taxonomy, $("#event"), (n) => n.item);
  renderTree($("#area-tree"), state.areas, $("#area"), () => true);
}

function fillDatalist(list, nodes) {
  list.replaceChildren(...nodes.map((n) => el("option", { value: n.code, label: n.name })));
}

// -- trees with search -----------------------------------------------------------------------

function treeRow(tree, node, input, pickable) {
  const kids = tree.children.get(node.code) || [];
  const label = el("span", { class: "node-label" }, el("code", { text: node.code }), " ", node.name,
    node.level ? el("small", { text: ` ${node.level}${node.grid_type ? " · " + node.grid_type : ""}` }) : null);
  const pick = () => {
    if (!pickable(node)) return;
    input.value = node.code;
    input.dispatchEvent(new Event("change"));
    input.focus();
  };
  if (!kids.length) {
    return el("div", { class: "leaf", role: "treeitem", tabindex: "0", "data-code": node.code,
      onclick: pick, onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); pick(); } } }, label);
  }
  const details = el("details", { role: "treeitem", "data-code": node.code });
  const summary = el("summary", {}, label);
  if (pickable(node)) summary.addEventListener("dblclick", pick);
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (details.open && details.childElementCount === 1) {
      details.append(el("div", { class: "kids", role: "group" }, kids.map((k) => treeRow(tree, k, input, pickable))));
    }
  });
  return details;
}

function renderTree(container, tree, input, pickable) {
  const search = container.previousElementSibling;
  const roots = tree.children.get("") || [];
  const full = () => {
    container.replaceChildren(...roots.map((r) => treeRow(tree, r, input, pickable)));
    if (roots.length === 1) container.firstElementChild.open = true; // one root (a district): show its towns
  };
  full();
  search.oninput = () => {
    const q = search.value.trim().toLowerCase();
    if (!q) return full();
    const hits = tree.nodes.filter((n) => pickable(n) && (n.code.startsWith(q) || n.name.toLowerCase().includes(q))).slice(0, 60);
    container.replaceChildren(
      ...hits.map((n) => el("div", { class: "leaf hit", role: "treeitem", tabindex: "0", "data-code": n.code,
        onclick: () => { input.value = n.code; input.focus(); },
        onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); input.value = n.code; input.focus(); } } },
      el("code", { text: n.code }), " ", n.name,
      el("small", { class: "path", text: " " + pathOf(tree, n.code).slice(0, -1).map((p) => p.name).join(" › ") }))),
      hits.length ? "" : el("div", { class: "muted", text: "没有匹配 no match" }));
  };
  search.onkeydown = (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); const first = container.querySelector("[tabindex]"); if (first) first.focus(); }
  };
}

// the field takes a code, or a name that one node has: a seat operator pastes either
function codeFromInput(tree, text, pickable) {
  const t = text.trim();
  if (!t || tree.byCode.has(t)) return t;
  const exact = tree.nodes.filter((n) => pickable(n) && n.name === t);
  return exact.length === 1 ? exact[0].code : t;
}

// -- the case simulator ----------------------------------------------------------------------

function renderDeadline(deadline) {
  if (!deadline) return el("span", { class: "muted", text: "无 none" });
  // generic: whatever members the deadline has (value or hours, due, origin, class, ...)
  return el("span", { class: "deadline", "data-testid": "deadline" },
    Object.entries(deadline).filter(([k]) => k !== "due").map(([k, v]) => el("span", { class: "kv" }, el("small", { text: k }), " ", String(v))));
}

function ruleLink(id, text) {
  return el("a", { href: "#rule/" + encodeURIComponent(id), class: "rule-link", "data-rule": id,
    onclick: (e) => { e.preventDefault(); openRule(id); } }, text || id);
}

function unitText(unit) {
  return unit ? `${unit.code} ${unit.name || ""}`.trim() : "—";
}

function renderExplanation(x) {
  const d = x.decision;
  const dept = d.department ? `${d.department.code} ${d.department.name || ""}` : (d.status === "manual" ? "人工派遣 manual" : "—");
  const card = el("div", { class: "decision status-" + d.status, "data-testid": "decision" },
    el("div", { class: "big" },
      el("span", { class: "status", "data-testid": "status", text: d.status }),
      el("span", { class: "dept", "data-testid": "department", "data-code": d.department ? d.department.code : "" , text: dept })),
    el("dl", {},
      el("dt", { text: "协办 co-handlers" }), el("dd", { "data-testid": "co-handlers", text: (d.co_handlers || []).map((c) => `${c.code} ${c.name || ""}`).join("，") || "—" }),
      el("dt", { text: "指挥轴 command system" }), el("dd", { "data-testid": "command-system", text: x.item && x.item.command_system ? x.item.command_system : (d.command_system || "—") }),
      el("dt", { text: "时限 deadline" }), el("dd", {}, renderDeadline(d.deadline)),
      el("dt", { text: "截止 due" }), el("dd", { "data-testid": "due", text: d.deadline && d.deadline.due ? d.deadline.due : "—" }),
      el("dt", { text: "规则 rule" }), el("dd", {}, d.rule
        ? [el("span", { "data-testid": "rule-id" }, ruleLink(d.rule.id)), el("code", { class: "place", text: ` ${d.rule.file}:${d.rule.line}` }), el("div", { class: "basis", text: d.rule.basis || "" })]
        : el("span", { "data-testid": "rule-id", class: "muted", text: x.no_match || "—" })),
      d.local ? [el("dt", { text: "属地 @local" }), el("dd", { text: `${d.local.department} ${d.local.name}（管辖 ${d.local.governs} ${d.local.governs_name}）` })] : null,
      el("dt", { text: "疑难 difficult" }), el("dd", { text: d.difficult ? "是 yes" : "否 no" }),
      el("dt", { text: "原因 reason" }), el("dd", { text: d.reason })));
  const paths = el("div", { class: "paths" },
    el("div", {}, el("small", { text: "事项 " }), x.event_path.map((n) => `${n.code} ${n.name}`).join(" › ")),
    el("div", {}, el("small", { text: "区域 " }), x.area_path.map((n) => `${n.code} ${n.name}`).join(" › ")));
  const ranked = el("table", { class: "ranked", "data-testid": "candidates" },
    el("caption", { text: `匹配规则 ${x.matching.length} 条，按优先键排序 ranked by (${x.key.join(", ")})` }),
    el("thead", {}, el("tr", {}, ["#", "规则 rule", "file:line", "event", "area", "grid", "source", "window", "department", "key", "结果 outcome"].map((h) => el("th", { text: h })))),
    el("tbody", {}, x.matching.map((r) => el("tr", { class: r.outcome, "data-rule": r.id },
      el("td", { text: String(r.rank) }), el("td", {}, ruleLink(r.id)), el("td", {}, el("code", { text: `${r.file}:${r.line}` })),
      el("td", { text: r.event }), el("td", { text: r.area }), el("td", { text: r.grid_type || "-" }), el("td", { text: r.source || "-" }),
      el("td", { text: r.valid_from || r.valid_to ? `${r.valid_from || ""}..${r.valid_to || ""}` : "-" }),
      el("td", { text: r.department }), el("td", { text: r.precedence.join(",") }), el("td", { text: r.why })))));
  const near = x.near_misses.length ? el("table", { class: "ranked near", "data-testid": "near-misses" },
    el("caption", { text: `近似未中 near misses: ${x.near_misses_total}` }),
    el("tbody", {}, x.near_misses.map((m) => el("tr", { "data-rule": m.id }, el("td", {}, ruleLink(m.id)), el("td", {}, el("code", { text: `${m.file}:${m.line}` })),
      el("td", { text: m.why }), el("td", { text: m.would_win ? "would win" : "" }))))) : null;
  return [card, paths, ranked, near];
}

async function simulate(event) {
  event.preventDefault();
  const result = $("#result");
  const body = {
    id: $("#case-id").value.trim() || "console-1",
    event: codeFromInput(state.taxonomy, $("#event").value, (n) => n.item),
    area: codeFromInput(state.areas, $("#area").value, () => true),
    source: $("#source").value,
  };
  const at = $("#reported-at").value.trim();
  if (at) body.reported_at = at;
  result.replaceChildren(el("div", { class: "muted", text: "…" }));
  try {
    const x = await api("/v1/explain", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    result.replaceChildren(...renderExplanation(x).filter(Boolean));
  } catch (err) {
    result.replaceChildren(problemBox(err));
  }
}

// -- one rule --------------------------------------------------------------------------------

async function openRule(id) {
  const dialog = $("#rule-dialog");
  const detail = $("#rule-detail");
  detail.replaceChildren(el("div", { class: "muted", text: "…" }));
  if (!dialog.open) dialog.showModal();
  try {
    const doc = await api("/v1/rules/" + encodeURIComponent(id));
    const r = doc.rule;
    const rows = Object.entries(r).filter(([k]) => !["columns", "file", "line"].includes(k));
    detail.replaceChildren(
      el("h2", {}, el("span", { "data-testid": "rule-detail-id", text: r.id }), " ",
        el("code", { "data-testid": "rule-detail-place", text: `${r.file}:${r.line}` })),
      el("dl", {}, rows.map(([k, v]) => [el("dt", { text: k }),
        el("dd", { text: (Array.isArray(v) ? v.join("; ") : v === null || v === "" ? "—" : String(v)) + (k === "department" && state.departments.get(v) ? " " + state.departments.get(v).name : "") })])));
  } catch (err) {
    detail.replaceChildren(problemBox(err));
  }
}

// -- the rule browser: towns x outcomes ------------------------------------------------------

async function showMatrix(event) {
  if (event) event.preventDefault();
  const box = $("#matrix");
  const code = codeFromInput(state.taxonomy, $("#matrix-event").value, () => true);
  const at = $("#matrix-at").value.trim();
  box.replaceChildren(el("div", { class: "muted", text: "…" }));
  let m;
  try {
    m = await api(`/v1/matrix?event=${encodeURIComponent(code)}${at ? "&at=" + encodeURIComponent(at) : ""}`);
  } catch (err) {
    return box.replaceChildren(problemBox(err));
  }
  const manualOnly = $("#manual-only").checked;
  const outcomes = m.outcomes.map((o, k) => ({ ...o, k })).filter((o) => !manualOnly || o.status === "manual");
  const at2 = new Map(m.entries.map((e) => [`${e.town}/${e.outcome}`, e]));
  const towns = m.towns.map((t, k) => ({ ...t, k })).filter((t) => !manualOnly || outcomes.some((o) => at2.has(`${t.k}/${o.k}`)));
  const detail = el("div", { class: "entry-detail", "data-testid": "entry-detail" });
  const openEntry = (t, o, e) => {
    detail.replaceChildren(el("h3", { text: `${t.name} → ${o.department ? o.department.code + " " + o.department.name : "人工派遣 manual"}：${e.cells} 个单元格 cells` }),
      el("table", { class: "ranked" }, el("tbody", {}, e.rules.map((r) => el("tr", {},
        el("td", {}, r.id ? ruleLink(r.id) : el("span", { class: "muted", text: "无规则 no rule" })),
        el("td", {}, r.file ? el("code", { text: `${r.file}:${r.line}` }) : ""), el("td", { text: `${r.cells} cells` }))))),
      e.rules_total > e.rules.length ? el("div", { class: "muted", text: `… ${e.rules_total - e.rules.length} more` }) : "");
  };
  const table = el("table", { class: "grid-table", "data-testid": "matrix-table" },
    el("caption", { text: `${m.event.code} ${m.event.name}：${m.event.items} 个事项 items，${m.day}，单元 ${m.unit}（${m.cells}）` }),
    el("thead", {}, el("tr", {}, el("th", { text: "镇街 town" }), outcomes.map((o) => el("th", { class: "status-" + o.status, title: o.department ? o.department.name : "manual" },
      o.department ? [el("code", { text: o.department.code }), el("br"), o.department.name] : "人工 manual")))),
    el("tbody", {}, towns.map((t) => el("tr", {}, el("th", {}, el("code", { text: t.label }), " ", t.name),
      outcomes.map((o) => {
        const e = at2.get(`${t.k}/${o.k}`);
        if (!e) return el("td", { class: "empty" });
        return el("td", { class: "status-" + o.status },
          el("button", { class: "cell", "data-testid": "matrix-cell", "data-town": t.code, "data-outcome": o.key,
            onclick: () => openEntry(t, o, e), title: e.rules.map((r) => r.id || "no rule").slice(0, 5).join(", ") }, String(e.cells)));
      })))));
  box.replaceChildren(table, detail);
}

// -- coverage heatmap ------------------------------------------------------------------------

function shareColour(share) {
  if (share === null || share === undefined) return "#f4f4f4";
  // red (0) -> amber (0.9) -> green (1): most of the map sits above 90 %
  const stops = [[0, [215, 48, 39]], [0.8, [252, 141, 89]], [0.9, [254, 224, 139]], [0.97, [145, 207, 96]], [1, [26, 152, 80]]];
  for (let i = 1; i < stops.length; i++) {
    const [a, ca] = stops[i - 1];
    const [b, cb] = stops[i];
    if (share <= b) {
      const t = (share - a) / (b - a);
      return `rgb(${ca.map((c, j) => Math.round(c + t * (cb[j] - c))).join(",")})`;
    }
  }
  return "rgb(26,152,80)";
}

function percent(auto, total) {
  if (!total) return "-";
  let p = Math.round((100 * auto) / total);
  if (p === 100 && auto < total) p = 99;
  if (p === 0 && auto > 0) p = 1;
  return String(p);
}

async function showCoverage(event) {
  if (event) event.preventDefault();
  const box = $("#coverage");
  const at = $("#coverage-at").value.trim();
  box.replaceChildren(el("div", { class: "muted", text: "…" }));
  let doc;
  try {
    doc = await api("/v1/coverage" + (at ? "?at=" + encodeURIComponent(at) : ""));
  } catch (err) {
    return box.replaceChildren(problemBox(err));
  }
  state.coverage = doc;
  const casesRadio = $("[data-testid=unit-cases]");
  casesRadio.disabled = !doc.cases;
  casesRadio.parentElement.title = doc.cases ? doc.cases_file : "服务启动时未加载案件历史 no history loaded at start (dispatch serve --cases FILE)";
  const unit = doc.cases && casesRadio.checked ? "cases" : "cells";
  if (!doc.cases) $("[data-testid=unit-cells]").checked = true;
  const view = doc[unit];
  const st = doc.statuses;
  const totalOf = (t) => st.reduce((s, k) => s + t[k], 0);
  const cell = (t, i, j) => {
    const auto = i === null ? (j === null ? t.auto : t.auto[j]) : (j === null ? t.auto[i] : t.auto[i][j]);
    const counts = st.map((k) => (i === null ? (j === null ? t[k] : t[k][j]) : (j === null ? t[k][i] : t[k][i][j])));
    const total = counts.reduce((a, b) => a + b, 0);
    const share = total ? auto / total : null;
    return el("td", { background: shareColour(share), title: st.map((k, n) => `${k} ${counts[n]}`).join(", ") }, percent(auto, total));
  };
  const total = view.total;
  const summary = el("p", { class: "summary", "data-testid": "coverage-total", "data-unit": unit,
    "data-auto": total.auto, "data-provisional": total.provisional, "data-manual": total.manual },
    `${doc.ruleset.name} ${doc.ruleset.version}，${doc.day}：${unit === "cells" ? "单元格 cells (item × basic grid × source)" : "案件 cases " + (doc.cases_file || "")} — 自动 auto ${(100 * total.auto_share).toFixed(1)}%（auto ${total.auto}，provisional ${total.provisional}，manual ${total.manual}；共 ${totalOf(total)}）`);
  const table = el("table", { class: "heat", "data-testid": "coverage-table" },
    el("thead", {}, el("tr", {}, el("th", { text: "类别 \\ " + doc.level }), doc.towns.map((t) => el("th", { title: `${t.code} ${t.name}` }, el("code", { text: t.label }), el("br"), el("small", { text: t.name }))), el("th", { text: "合计 all" }))),
    el("tbody", {}, doc.categories.map((c, i) => el("tr", {}, el("th", {}, el("code", { text: c.code }), " ", c.name),
      doc.towns.map((_, j) => cell(view.counts, i, j)), cell(view.categories, i, null))),
    el("tr", { class: "totals" }, el("th", { text: "合计 all" }), doc.towns.map((_, j) => cell(view.towns, null, j)), cell(view.total, null, null))));
  const gaps = el("table", { class: "ranked", "data-testid": "coverage-gaps" },
    el("caption", { text: "最大缺口 worst gaps: work items × towns that fall to manual or provisional dispatch" }),
    el("tbody", {}, doc.gaps.map((g) => el("tr", {}, el("td", {}, el("code", { text: g.item.code }), " ", g.item.name), el("td", { text: g.town.name }),
      el("td", { text: g.status }), el("td", { text: g.cases !== null ? `${g.cases}/${g.cases_total} cases` : "" }), el("td", { text: `${g.cells}/${g.cells_total} cells` })))));
  box.replaceChildren(summary, doc.history_error ? el("div", { class: "error", text: doc.history_error }) : "", table, gaps);
}

// -- views and keys --------------------------------------------------------------------------

function show(view) {
  for (const tab of document.querySelectorAll("[role=tab]")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  for (const panel of document.querySelectorAll(".view")) panel.hidden = panel.id !== "view-" + view;
  if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
  if (view === "coverage" && !state.coverage) showCoverage();
}

async function main() {
  for (const tab of document.querySelectorAll("[role=tab]")) tab.addEventListener("click", () => show(tab.dataset.view));
  document.addEventListener("keydown", (e) => {
    if (e.altKey && ["1", "2", "3"].includes(e.key)) {
      e.preventDefault();
      show(["simulate", "rules", "coverage"][Number(e.key) - 1]);
    }
  });
  $("#case-form").addEventListener("submit", simulate);
  $("#matrix-form").addEventListener("submit", showMatrix);
  $("#manual-only").addEventListener("change", () => { if ($("#matrix-event").value) showMatrix(); });
  $("#coverage-form").addEventListener("submit", showCoverage);
  for (const r of document.querySelectorAll("[name=unit]")) r.addEventListener("change", () => showCoverage());
  await refreshRuleset();
  await loadReference();
  document.body.dataset.ready = "true";
  const view = location.hash.slice(1);
  show(["simulate", "rules", "coverage"].includes(view) ? view : "simulate");
  setInterval(refreshRuleset, 3000);
}

main().catch((err) => {
  document.querySelector("main").prepend(problemBox(err));
});
