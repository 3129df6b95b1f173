/*
 * Drives one scenario of the luci-app-mcast-proxy browser test: fetches the
 * scenario the Go test prepared (/scenario?name=...), loads the view through
 * the LuCI stand-in, runs the requested steps and posts what was rendered to
 * /report.
 */
(function(window, document) {
	'use strict';

	var params = new URLSearchParams(window.location.search);
	var name = params.get('name');

	function snapshot() {
		var view = document.getElementById('view');
		return {
			text: view.innerText,
			html: view.innerHTML
		};
	}

	function report(result) {
		result.errors = harness.errors;
		result.rpcCalls = harness.rpcCalls;
		result.polls = harness.polls.map(function(p) { return p.interval; });
		result.notifications = harness.notifications;
		result.uci = harness.uci;
		result.uciChanges = harness.uciChanges;
		result.applied = harness.applied;
		result.translated = Object.keys(harness.translated);
		result.height = Math.ceil(document.documentElement.scrollHeight);
		return fetch('/report?name=' + encodeURIComponent(name), {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify(result)
		});
	}

	function runStep(step, result) {
		if (step.ubus)
			Object.keys(step.ubus).forEach(function(k) { harness.ubus[k] = step.ubus[k]; });
		if (step.poll)
			return harness.runPolls().then(function() {
				result.steps.push(snapshot());
			});
		if (step.click)
			return Promise.resolve(document.querySelector(step.click).click()).then(function() {
				return new Promise(function(resolve) { setTimeout(resolve, 0); });
			}).then(function() {
				result.steps.push(snapshot());
			});
		if (step.js)
			return Promise.resolve(harness.steps[step.js](step.args)).then(function(out) {
				result.steps.push({ text: JSON.stringify(out === undefined ? null : out) });
			});
		return Promise.resolve();
	}

	harness.steps = {};

	window.addEventListener('DOMContentLoaded', function() {
		var result = { steps: [] };
		fetch('/scenario?name=' + encodeURIComponent(name)).then(function(res) {
			return res.json();
		}).then(function(sc) {
			harness.ubus = sc.ubus || {};
			harness.uci = sc.uci || {};
			harness.networks = sc.networks || [];
			var tab = document.getElementById('tab-' + sc.view.split('/').pop());
			if (tab)
				tab.className = 'active';
			if (sc.width && sc.width < 600)
				document.body.className = 'mobile';
			return harness.loadView(sc.view).then(function() {
				var first = snapshot();
				result.text = first.text;
				result.html = first.html;
				return (sc.steps || []).reduce(function(p, step) {
					return p.then(function() { return runStep(step, result); });
				}, Promise.resolve());
			});
		}).catch(function(err) {
			harness.errors.push('harness: ' + (err && err.stack || err));
		}).then(function() {
			return report(result);
		});
	});
})(window, document);
