/*
 * app.js - livemod's web page (docs/web.md): modules, pending changes with
 * their scripts and check, update, apply a reviewed plan, history,
 * rollback and make_permanent, all through the node's control API
 * (docs/control-api.md) with the bearer token.
 *
 * The token arrives in the URL's fragment (#token=..., which a browser
 * never sends to a server); it moves to sessionStorage (this tab only) and
 * leaves the address bar at once. No cookie is ever set, so no other site
 * can make the browser act with it. Text from the node is put in the page
 * with textContent only, never as HTML.
 */
"use strict";

const TOKEN_KEY = "livemod.token";
const REFRESH_MS = 2000;

/* What each error code means for the operator: the node's message is
 * shown beside it, as the node wrote it. */
const CODE_WORDS = {
	bad_input: "bad input: nothing changed",
	not_elf: "a file in the libdir is not a module object: nothing changed",
	no_descriptor: "a file in the libdir has no livemod descriptor: nothing changed",
	unauthorized: "unauthorized: the token is missing or wrong (open the address `livemod web` prints)",
	not_found: "not found",
	method_not_allowed: "method not allowed",
	busy: "busy: another apply is running; nothing changed, try again",
	stale: "stale: the plan no longer starts from the node's release; nothing changed",
	too_large: "request too large",
	wrong_host: "wrong Host: the node serves only its own address",
	check_failed: "check failed: nothing changed (the new objects were unloaded; the node runs the old code)",
	eval_failed: "eval failed after the point of no return: the old versions stay published",
	internal: "internal error in the node",
};

let token = null;
let busy = false;          /* an action is running: actions are disabled */
let shown = {};            /* last JSON text rendered per view: no re-render, no lost focus */
let timer = null;
let history_doc = null;
let reviewed = null;       /* {id, text} of the plan under review */

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === "class")
			e.className = v;
		else if (k.startsWith("data-"))
			e.setAttribute(k, v);
		else
			e[k] = v;
	}
	for (const k of kids)
		if (k !== null && k !== undefined)
			e.append(k instanceof Node ? k : String(k));
	return e;
}

/* ---- the token ---------------------------------------------------------- */

function takeToken() {
	const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
	if (m) {
		sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
		/* out of the address bar and of this tab's history entry */
		history.replaceState(null, "", location.pathname + location.search);
	}
	token = sessionStorage.getItem(TOKEN_KEY);
	$("token-form").hidden = !!token;
}

/* ---- the API ------------------------------------------------------------ */

/* One request; never throws. {status, json, text}; status 0 when the node
 * could not be reached. */
async function api(method, path, body) {
	const headers = { Authorization: "Bearer " + (token || "") };
	const opts = { method, headers, cache: "no-store", credentials: "omit",
		       redirect: "error" };
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		opts.body = typeof body === "string" ? body : JSON.stringify(body);
	}
	try {
		const r = await fetch(path, opts);
		const text = await r.text();
		let json = null;
		try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
		return { status: r.status, json, text };
	} catch (e) {
		return { status: 0, json: null, text: String(e) };
	}
}

function errorOf(r) {
	const err = r.json && r.json.error;
	if (r.status === 0)
		return { head: "the node does not answer", message: r.text };
	if (!err)
		return { head: "HTTP " + r.status, message: r.text };
	const words = CODE_WORDS[err.code] || err.code;
	return { head: r.status + " " + err.code + " — " + words,
		 message: err.message };
}

function showAlert(r) {
	const a = $("alert");
	if (!r) {
		a.hidden = true;
		a.textContent = "";
		return;
	}
	const e = errorOf(r);
	const text = e.head + ": " + e.message;
	if (a.textContent !== text)
		a.textContent = text;
	a.hidden = false;
	if (r.status === 401)
		$("token-form").hidden = false;
}

/* ---- views -------------------------------------------------------------- */

function changed(view, r) {
	if (shown[view] === r.text)
		return false;
	shown[view] = r.text;
	return true;
}

function renderHealth(h) {
	let s = "Release " + h.release + " is current";
	s += h.permanent === h.release ? " and permanent." :
		"; release " + h.permanent + " is permanent (a restart boots it).";
	$("node-status").textContent = s + " " + h.modules + " modules loaded.";
	const f = $("fallback");
	if (h.fallback_from) {
		f.textContent = "Boot fallback: release " + h.fallback_from +
			" failed to boot" + (h.reason ? " (" + h.reason + ")" : "") +
			"; the node booted release " + h.release + " instead.";
		f.hidden = false;
	} else {
		f.hidden = true;
	}
}

function renderModules(doc) {
	const body = $("modules-body");
	body.replaceChildren();
	for (const m of doc.modules || []) {
		const old = (m.old || []).map((o) =>
			o.vsn + " (" + String(o.oid).slice(0, 12) + ") pins " +
			o.pins + (o.retiring ? ", retiring" : "")).join("; ");
		body.append(el("tr", { "data-module": m.name },
			el("th", { scope: "row" }, m.name),
			el("td", { class: "vsn" }, m.vsn === null ? "—" : m.vsn,
			   m.suspended ? " (suspended)" : ""),
			el("td", { class: "oid", title: m.oid || "" },
			   m.oid ? m.oid.slice(0, 12) : "—"),
			el("td", { class: "num" }, m.pins === undefined ? "—" : m.pins),
			el("td", { class: "old" }, old || "none")));
	}
}

function renderHistory(doc) {
	history_doc = doc;
	$("history-summary").textContent = "Current release " + doc.current +
		", permanent release " + doc.permanent + ".";
	const rb = $("releases-body");
	rb.replaceChildren();
	for (const r of doc.releases || []) {
		const state = [];
		if (r.current)
			state.push(el("span", { class: "tag current" }, "current"));
		if (r.permanent)
			state.push(el("span", { class: "tag permanent" }, "permanent"));
		if (r.boot_failed)
			state.push(el("span", { class: "tag failed" },
				      "boot failed: " + r.boot_failed));
		if (r.note)
			state.push(el("span", { class: "note" }, "(" + r.note + ")"));
		const acts = el("td", { class: "acts" });
		if (!r.current)
			acts.append(el("button", { type: "button", class: "rollback",
				"data-release": r.id, textContent: "Roll back to " + r.id }));
		if (r.current && !r.permanent)
			acts.append(el("button", { type: "button", class: "make-permanent",
				"data-release": r.id, textContent: "Make permanent" }));
		rb.append(el("tr", { "data-release": r.id },
			el("th", { scope: "row" }, r.id),
			el("td", { class: "oid", title: r.commit }, String(r.commit).slice(0, 12)),
			el("td", {}, r.parent === null ? "—" : r.parent),
			el("td", { class: "time" }, r.created_at),
			el("td", { class: "state" }, ...state),
			acts));
	}
	const runs = $("runs-body");
	runs.replaceChildren();
	for (const r of doc.runs || []) {
		const total = r.timings && r.timings.total;
		runs.append(el("tr", { "data-run": r.id },
			el("th", { scope: "row" }, r.id),
			el("td", {}, r.plan),
			el("td", {}, r.from + " → " + r.to),
			el("td", { class: "status " + r.status }, r.status,
			   r.status === "interrupted" ? " at " + r.phase : ""),
			el("td", { class: "term" }, termText(r.check) || "—"),
			el("td", { class: "term" }, termText(r.eval) || "—"),
			el("td", { class: "num" }, total ? (total / 1000).toFixed(3) + " ms" : "—"),
			el("td", { class: "time" }, r.started_at)));
	}
	disableActions(busy);
}

/* check or eval in OTP's words, as the CLI prints them (planner/cli.c
 * cli_term_text): the text when the node gave it, else written out. */
function termText(v) {
	if (v === null || v === undefined)
		return null;
	if (typeof v === "string")
		return v;
	if (typeof v.text === "string")
		return v.text;
	if (typeof v.error === "string")
		return "{error,\"" + v.error + "\"}";
	if (Array.isArray(v.ok))
		return "{ok,[" + v.ok.map((w) => "\"" + w + "\"").join(",") + "]}";
	return JSON.stringify(v);
}

function renderPending(info) {
	const plan = info.plan;
	const list = $("pending-list");
	const was = new Set([...list.querySelectorAll("input:checked")].map((c) => c.value));
	list.replaceChildren();
	const mods = (plan && plan.modules) || [];
	for (const m of mods) {
		const id = "pending-" + m.name;
		const from = m.old ? m.old.vsn : "none";
		const to = m.new ? m.new.vsn : "removed";
		const box = el("input", { type: "checkbox", id, value: m.name,
					   class: "pending-module" });
		box.checked = was.has(m.name);
		list.append(el("div", { class: "check-row" }, box,
			el("label", { htmlFor: id }, m.name + " ",
			   el("span", { class: "change" }, m.change + ": " + from + " → " + to))));
	}
	$("pending-none").hidden = mods.length > 0;
	$("pending-set").hidden = mods.length === 0;
	$("script").textContent = info.script_text || "script: []";
	$("low-level-script").textContent = info.low_level_script_text || "low level script: []";
	$("pending-check").textContent = termText(info.check) || "—";
	syncSelectAll();
}

function selected() {
	return [...document.querySelectorAll(".pending-module:checked")].map((c) => c.value);
}

function syncSelectAll() {
	const all = document.querySelectorAll(".pending-module");
	const on = selected().length;
	$("select-all").checked = all.length > 0 && on === all.length;
	$("select-all").indeterminate = on > 0 && on < all.length;
	disableActions(busy);
}

function disableActions(b) {
	const mods = document.querySelectorAll(".pending-module").length;
	$("update-selected").disabled = b || selected().length === 0;
	$("update-all").disabled = b || mods === 0;
	$("plan-apply").disabled = b || !reviewed;
	for (const x of document.querySelectorAll(".rollback, .make-permanent, #confirm-yes"))
		x.disabled = b;
}

/* The result of an update, apply, rollback or make_permanent. */
function renderResult(what, r) {
	const d = r.json || {};
	const err = d.error;
	$("result-empty").hidden = true;
	$("result-body").hidden = false;
	const st = $("result-status");
	st.className = "status " + (err ? "bad" : "good");
	if (err) {
		const e = errorOf(r);
		st.textContent = what + ": " + e.head;
		$("result-message").textContent = e.message;
	} else if (what === "Make permanent") {
		st.textContent = what + ": 200 ok";
		$("result-message").textContent = "Release " + d.permanent +
			" is permanent (was release " + d.was + "): the node boots it from now on.";
	} else if (d.plan === null) {
		st.textContent = what + ": 200 ok";
		$("result-message").textContent = "Nothing to update: the libdir matches release " + d.release + ".";
	} else {
		st.textContent = what + ": 200 ok";
		$("result-message").textContent = "Release " + d.from + " → " + d.to +
			(d.permanent ? ", permanent." : ", current but not permanent (a restart goes back until made permanent).");
	}
	$("result-plan").textContent = d.plan_id ?
		"plan " + d.plan_id + ", run " + d.run + ": release " + d.from + " → " + d.to +
		(d.direction === "down" ? " (down: a rollback)" : "") : "—";
	$("result-check").textContent = d.check !== undefined ? termText(d.check) || "—" : "—";
	$("result-eval").textContent = d.check !== undefined ?
		(d.eval === null || d.eval === undefined ? "not reached" : termText(d.eval)) : "—";
	const mods = $("result-modules");
	mods.replaceChildren();
	if (Array.isArray(d.modules) && d.modules.length) {
		const ul = el("ul", {});
		for (const m of d.modules)
			ul.append(el("li", {}, m.name + " " + m.change + ": " +
				     (m.from === null ? "none" : m.from) + " → " +
				     (m.to === null ? "removed" : m.to)));
		mods.append(el("p", {}, "Modules moved:"), ul);
	}
	const t = $("result-timings");
	const tb = t.querySelector("tbody");
	tb.replaceChildren();
	const steps = d.timings ? Object.entries(d.timings) : [];
	for (const [k, v] of steps)
		tb.append(el("tr", {}, el("th", { scope: "row" }, k),
			     el("td", { class: "num" }, v)));
	t.hidden = steps.length === 0;
}

/* ---- refreshing ------------------------------------------------------------ */

async function refreshState() {
	if (!token)
		return;
	const [h, m, hist] = await Promise.all([api("GET", "/health"),
		api("GET", "/modules"), api("GET", "/history")]);
	for (const r of [h, m, hist])
		if (r.status !== 200) {
			showAlert(r);
			return;
		}
	showAlert(null);
	if (changed("health", h))
		renderHealth(h.json);
	if (changed("modules", m))
		renderModules(m.json);
	if (changed("history", hist))
		renderHistory(hist.json);
	$("modules-updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
}

async function refreshPending() {
	if (!token)
		return;
	const r = await api("GET", "/update-modules");
	if (r.status !== 200) {
		/* a broken libdir is the pending view's own news: nothing
		 * can be selected until it plans again */
		$("pending-list").replaceChildren();
		$("pending-set").hidden = true;
		$("pending-none").hidden = true;
		syncSelectAll();
		$("script").textContent = "script: []";
		$("low-level-script").textContent = "low level script: []";
		$("pending-check").textContent = "{error,\"" + (r.json && r.json.error ?
			r.json.error.message : r.text) + "\"}";
		if (r.status === 401)
			showAlert(r);
		return;
	}
	renderPending(r.json);
}

async function refreshAll() {
	await Promise.all([refreshState(), refreshPending()]);
}

/* ---- actions ----------------------------------------------------------------- */

async function act(what, method, path, body) {
	busy = true;
	disableActions(true);
	$("result").setAttribute("aria-busy", "true");
	$("result-status").textContent = what + ": running…";
	const r = await api(method, path, body);
	$("result").removeAttribute("aria-busy");
	busy = false;
	renderResult(what, r);
	if (r.status === 401)
		showAlert(r);
	shown = {};
	reviewed = null;
	$("plan-view").hidden = true;
	await refreshAll();
	$("result-h").focus();
	return r;
}

function trySuffix() {
	return $("try").checked ? "?try=1" : "";
}

let confirmAction = null;
let confirmFrom = null;

function askConfirm(text, yes, action, from) {
	$("confirm-text").textContent = text;
	$("confirm-yes").textContent = yes;
	confirmAction = action;
	confirmFrom = from;
	$("confirm").hidden = false;
	$("confirm-yes").focus();
}

function closeConfirm() {
	$("confirm").hidden = true;
	confirmAction = null;
	const back = confirmFrom && confirmFrom.getAttribute("data-release");
	confirmFrom = null;
	/* focus goes back to the button that asked, if it still stands */
	const b = back && document.querySelector('.rollback[data-release="' + back + '"]');
	if (b)
		b.focus();
}

function wire() {
	$("token-form").addEventListener("submit", (ev) => {
		ev.preventDefault();
		const v = $("token-input").value.trim();
		if (!v)
			return;
		sessionStorage.setItem(TOKEN_KEY, v);
		token = v;
		$("token-input").value = "";
		$("token-form").hidden = true;
		shown = {};
		refreshAll();
	});
	$("forget-token").addEventListener("click", () => {
		sessionStorage.removeItem(TOKEN_KEY);
		token = null;
		$("token-form").hidden = false;
		$("token-input").focus();
	});
	$("pending-refresh").addEventListener("click", refreshPending);
	$("select-all").addEventListener("change", () => {
		for (const c of document.querySelectorAll(".pending-module"))
			c.checked = $("select-all").checked;
		syncSelectAll();
	});
	$("pending-list").addEventListener("change", syncSelectAll);
	$("update-selected").addEventListener("click", () =>
		act("Update selected", "POST", "/update-modules" + trySuffix(),
		    { modules: selected() }));
	$("update-all").addEventListener("click", () =>
		act("Update all", "GET", "/update-modules/all" + trySuffix()));
	$("plan-form").addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const id = $("plan-id").value;
		const r = await api("GET", "/plans/" + encodeURIComponent(id));
		if (r.status !== 200) {
			reviewed = null;
			$("plan-view").hidden = true;
			renderResult("Review plan " + id, r);
			return;
		}
		const p = r.json;
		/* the recorded text, byte for byte: the node applies only
		 * the plan that was reviewed */
		reviewed = { id: p.id, text: r.text.replace(/\n$/, "") };
		$("plan-summary").textContent = "Plan " + p.id + ": release " +
			p.from.release + " → " + (p.to ? p.to.release : "?") + "; " +
			(p.modules || []).map((m) => m.name + " " + m.change).join(", ");
		$("plan-text").textContent = reviewed.text;
		$("plan-apply").textContent = "Apply plan " + p.id;
		$("plan-view").hidden = false;
		disableActions(busy);
		$("plan-apply").focus();
	});
	$("plan-apply").addEventListener("click", () => {
		if (reviewed)
			act("Apply plan " + reviewed.id, "POST",
			    "/plans/" + reviewed.id + "/apply" + trySuffix(), reviewed.text);
	});
	$("releases-body").addEventListener("click", (ev) => {
		const b = ev.target.closest("button");
		if (!b)
			return;
		const n = Number(b.getAttribute("data-release"));
		if (b.classList.contains("rollback"))
			askConfirm("Roll back to release " + n + "? The node plans the way from release " +
				   (history_doc ? history_doc.current : "?") + " to release " + n +
				   " and applies it, with the same check and eval as any plan.",
				   "Roll back to " + n + " now",
				   () => act("Roll back to " + n, "POST", "/rollback" + trySuffix(), { to: n }), b);
		else if (b.classList.contains("make-permanent"))
			act("Make permanent", "POST", "/make-permanent", { release: n });
	});
	$("confirm-yes").addEventListener("click", () => {
		const a = confirmAction;
		closeConfirm();
		if (a)
			a();
	});
	$("confirm-no").addEventListener("click", closeConfirm);
	$("confirm").addEventListener("keydown", (ev) => {
		if (ev.key === "Escape")
			closeConfirm();
	});
}

function start() {
	$("result-h").tabIndex = -1;
	takeToken();
	wire();
	/* a new #token=... pasted into this tab's address bar */
	window.addEventListener("hashchange", () => {
		takeToken();
		shown = {};
		refreshAll();
	});
	refreshAll();
	timer = setInterval(refreshState, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
