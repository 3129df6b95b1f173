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

	harness.steps = {
		/* Each case sets option values in the form, asks the option
		 * under test whether its value is valid (as form.js does before
		 * saving) and puts the form back. */
		validate: function(cases) {
			var map = harness.maps[0];
			return cases.map(function(c) {
				var saved = [];
				function set(sid, name, value) {
					var o = map.lookupOption(name, sid);
					if (!o)
						throw new Error('no option ' + name + ' in section ' + sid);
					var w = o[0].widgets[sid];
					saved.push([ w, o[0].formvalue(sid) ]);
					w.setValue(value);
					return o[0];
				}
				Object.keys(c.set || {}).forEach(function(k) {
					var dot = k.indexOf('.');
					set(k.substr(0, dot), k.substr(dot + 1), c.set[k]);
				});
				var opt = set(c.sid, c.option, c.value);
				var res = opt.isActive(c.sid) ? opt.check(c.sid) : 'inactive';
				saved.reverse().forEach(function(s) { s[0].setValue(s[1]); });
				return res;
			});
		},
		saveApply: function() {
			return harness.view.handleSaveApply().then(function() {
				return 'saved';
			}, function(err) {
				return 'refused: ' + err.message;
			});
		},
		setValue: function(args) {
			var o = harness.maps[0].lookupOption(args.option, args.sid);
			o[0].widgets[args.sid].setValue(args.value);
			o[0].rows[args.sid].dispatchEvent(new Event('change'));
		},
		showTab: function(tab) {
			document.querySelectorAll('li[data-tab="' + tab + '"] a').forEach(function(a) { a.click(); });
		}
	};

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
