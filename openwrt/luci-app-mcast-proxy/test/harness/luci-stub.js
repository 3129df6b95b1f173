/*
 * A small stand-in for the parts of LuCI's client runtime (luci.js, form.js,
 * rpc.js, uci.js, ui.js, poll) that the mcast-proxy views call, written for
 * the browser test of luci-app-mcast-proxy. It reproduces the behaviour the
 * views depend on, including LuCI's traps, and is stricter where LuCI is lax:
 *
 *  - E(tag, attrs, children): a bare string child is parsed as HTML, as LuCI's
 *    dom.append() does; strings inside an array become text nodes. A null or
 *    undefined item in a children array throws (LuCI would print "null").
 *  - String.prototype.format supports %s, %d, %f with precision and %%;
 *    anything else throws, so a view cannot rely on a format LuCI lacks.
 *  - rpc.declare() answers from harness.ubus, a map "object/method" to a
 *    reply or to {ubus_error: code}, and records every call.
 *  - poll.add() records functions; the harness runs them when it wants.
 *  - uci reads and writes harness.uci, a map of section name to
 *    {".type": ..., ".anonymous": ..., option: value}.
 *  - form renders LuCI's markup (cbi-section, cbi-value, tabs) for the option
 *    types the settings view uses and runs datatype and validate() the way
 *    form.js does on save.
 *
 * It is not LuCI: nothing here is loaded on a router.
 */
(function(window, document) {
	'use strict';

	var harness = window.harness = {
		errors: [],
		rpcCalls: [],
		polls: [],
		ubus: {},
		uci: {},
		uciChanges: [],
		notifications: [],
		networks: [],
		applied: 0,
		translated: {}
	};

	function fail(msg) {
		harness.errors.push(msg);
		return new Error(msg);
	}

	/* --- String.prototype.format ------------------------------------- */

	String.prototype.format = function() {
		var args = arguments, n = 0;
		var bad = /%(?!(\.\d+)?[sdf%])./.exec(this);
		if (bad)
			throw fail('format conversion ' + bad[0] + ' in "' + this + '" is not supported by the stand-in');
		return this.replace(/%(\.(\d+))?([sdf%])/g, function(m, p, prec, conv) {
			if (conv == '%')
				return '%';
			if (n >= args.length)
				throw fail('format "' + m + '" without an argument');
			var v = args[n++];
			switch (conv) {
			case 's': return (v === null || v === undefined) ? '' : String(v);
			case 'd': return String(Math.floor(+v || 0));
			case 'f': return (+v || 0).toFixed(prec ? +prec : 6);
			}
		});
	};

	/* --- Classes ------------------------------------------------------- */

	function extend(parent, props) {
		var Cls = function() {
			if (typeof this.__init__ == 'function')
				return this.__init__.apply(this, arguments);
		};
		Cls.prototype = Object.create(parent ? parent.prototype : Object.prototype);
		for (var k in props)
			if (props.hasOwnProperty(k))
				Cls.prototype[k] = props[k];
		Cls.prototype.constructor = Cls;
		Cls.extend = function(p) { return extend(Cls, p); };
		Cls.__base__ = parent;
		return Cls;
	}

	var Class = extend(null, {});

	/* --- DOM ----------------------------------------------------------- */

	function isElem(e) {
		return e !== null && typeof e == 'object' && typeof e.nodeType == 'number';
	}

	var dom = {
		elem: isElem,
		append: function(node, children) {
			if (Array.isArray(children)) {
				for (var i = 0; i < children.length; i++) {
					var c = children[i];
					if (c === null || c === undefined)
						throw fail('null or undefined in a children array of <' + node.nodeName.toLowerCase() + '>: LuCI renders it as the text "null"');
					if (isElem(c))
						node.appendChild(c);
					else
						node.appendChild(document.createTextNode('' + c));
				}
				return node.lastChild;
			}
			if (typeof children == 'function')
				return dom.append(node, children(node));
			if (isElem(children))
				return node.appendChild(children);
			if (children !== null && children !== undefined) {
				/* LuCI does exactly this: a bare string is markup. */
				node.innerHTML = '' + children;
				return node.lastChild;
			}
			return null;
		},
		content: function(node, children) {
			while (node.firstChild)
				node.removeChild(node.firstChild);
			return dom.append(node, children);
		},
		attr: function(node, key, val) {
			var attrs = key;
			if (typeof key == 'string') {
				attrs = {};
				attrs[key] = val;
			}
			for (var k in attrs) {
				if (!attrs.hasOwnProperty(k) || attrs[k] === null || attrs[k] === undefined)
					continue;
				var v = attrs[k];
				if (typeof v == 'function')
					node.addEventListener(k, v);
				else if (typeof v == 'object')
					node.setAttribute(k, JSON.stringify(v));
				else
					node.setAttribute(k, v);
			}
		},
		create: function(html, attrs, data) {
			var elem;
			if (!(attrs instanceof Object) || Array.isArray(attrs) || isElem(attrs)) {
				data = attrs;
				attrs = null;
			}
			if (Array.isArray(html)) {
				elem = document.createDocumentFragment();
				for (var i = 0; i < html.length; i++)
					elem.appendChild(dom.create(html[i]));
			}
			else if (isElem(html)) {
				elem = html;
			}
			else if (String(html).charAt(0) == '<') {
				throw fail('E() with markup "' + html + '": build elements instead');
			}
			else {
				elem = document.createElement(html);
			}
			if (attrs)
				dom.attr(elem, attrs);
			dom.append(elem, data);
			return elem;
		},
		parent: function(node, selector) {
			while (node && node.nodeType == 1) {
				if (node.matches(selector))
					return node;
				node = node.parentNode;
			}
			return null;
		}
	};

	window.E = function() { return dom.create.apply(dom, arguments); };

	window._ = function(s) {
		harness.translated[s] = true;
		return s;
	};
	window.N_ = function(n, singular, plural) {
		harness.translated[singular] = true;
		harness.translated[plural] = true;
		return n == 1 ? singular : plural;
	};

	/* --- L ------------------------------------------------------------- */

	var L = window.L = {
		Class: Class,
		dom: dom,
		env: { sessionid: 'stand-in' },
		bind: function(fn, self) {
			var args = Array.prototype.slice.call(arguments, 2);
			return function() {
				return fn.apply(self, args.concat(Array.prototype.slice.call(arguments)));
			};
		},
		isObject: function(v) { return v !== null && typeof v == 'object'; },
		toArray: function(v) {
			if (v === null || v === undefined)
				return [];
			if (Array.isArray(v))
				return v;
			return String(v).trim().split(/\s+/).filter(function(s) { return s != ''; });
		},
		resolveDefault: function(p, def) {
			return Promise.resolve(p).catch(function() { return def; });
		},
		raise: function(type, msg) {
			var e = new Error(msg);
			e.name = type;
			throw e;
		},
		url: function() { return '/' + Array.prototype.join.call(arguments, '/'); },
		resource: function() { return '/luci-static/resources/' + Array.prototype.join.call(arguments, '/'); }
	};

	/* --- rpc ----------------------------------------------------------- */

	var ubusMessages = {
		2: 'Invalid command', 3: 'Invalid argument', 4: 'Resource not found',
		5: 'No data received', 6: 'Permission denied', 7: 'Request timed out',
		8: 'Operation not supported'
	};

	function applyExpect(reply, expect) {
		if (!expect)
			return reply;
		var key = Object.keys(expect)[0], def = expect[key];
		var v = (key === '') ? reply : (L.isObject(reply) ? reply[key] : undefined);
		if (v === null || v === undefined || typeof v != typeof def || Array.isArray(v) != Array.isArray(def))
			return def;
		return v;
	}

	var rpc = {
		declare: function(opts) {
			return function() {
				var params = {};
				for (var i = 0; i < (opts.params || []).length && i < arguments.length; i++)
					params[opts.params[i]] = arguments[i];
				var key = opts.object + '/' + opts.method;
				harness.rpcCalls.push({ call: key, params: params });
				if (!harness.ubus.hasOwnProperty(key))
					return Promise.reject(new Error('RPC call to ' + key + ' failed with ubus code 4: Resource not found'));
				var reply = harness.ubus[key];
				if (typeof reply == 'function')
					reply = reply(params);
				if (reply && reply.ubus_error)
					return Promise.reject(new Error('RPC call to ' + key + ' failed with ubus code ' + reply.ubus_error + ': ' + (ubusMessages[reply.ubus_error] || 'Unknown error')));
				reply = JSON.parse(JSON.stringify(reply));
				return Promise.resolve(applyExpect(reply, opts.expect));
			};
		}
	};

	/* --- poll ---------------------------------------------------------- */

	var poll = {
		add: function(fn, interval) {
			if (typeof fn != 'function')
				throw fail('poll.add without a function');
			harness.polls.push({ fn: fn, interval: interval });
		},
		remove: function(fn) {
			harness.polls = harness.polls.filter(function(p) { return p.fn !== fn; });
		},
		start: function() {}, stop: function() {}, active: function() { return true; }
	};

	harness.runPolls = function() {
		return Promise.all(harness.polls.map(function(p) { return p.fn(); }));
	};

	/* --- uci ----------------------------------------------------------- */

	var anonCount = 0;

	var uci = {
		load: function(conf) { return Promise.resolve(conf); },
		sections: function(conf, type, cb) {
			var out = [];
			Object.keys(harness.uci).forEach(function(name) {
				var s = harness.uci[name];
				if (!type || s['.type'] == type)
					out.push(Object.assign({ '.name': name }, s));
			});
			out.sort(function(a, b) { return (a['.index'] || 0) - (b['.index'] || 0); });
			if (cb)
				out.forEach(function(s) { cb(s, s['.name']); });
			return out;
		},
		get: function(conf, sid, opt) {
			var s = harness.uci[sid];
			if (!s)
				return null;
			if (opt === undefined)
				return Object.assign({ '.name': sid }, s);
			return s.hasOwnProperty(opt) ? s[opt] : null;
		},
		set: function(conf, sid, opt, val) {
			var s = harness.uci[sid];
			if (!s)
				throw fail('uci.set on missing section ' + sid);
			if (val === null || val === undefined || val === '' || (Array.isArray(val) && !val.length))
				delete s[opt];
			else
				s[opt] = val;
			harness.uciChanges.push([ 'set', sid, opt, val ]);
		},
		unset: function(conf, sid, opt) { uci.set(conf, sid, opt, null); },
		add: function(conf, type, name) {
			var sid = name || ('cfg' + (++anonCount) + 'stand-in');
			harness.uci[sid] = { '.type': type, '.anonymous': !name, '.index': 1000 + anonCount };
			harness.uciChanges.push([ 'add', sid, type ]);
			return sid;
		},
		remove: function(conf, sid) {
			delete harness.uci[sid];
			harness.uciChanges.push([ 'remove', sid ]);
		},
		save: function() { return Promise.resolve(); },
		apply: function() { harness.applied++; return Promise.resolve(); }
	};

	/* --- ui ------------------------------------------------------------ */

	var ui = {
		addNotification: function(title, children, cls) {
			var n = E('div', { 'class': 'alert-message ' + (cls || '') }, [
				title ? E('h4', {}, [ title ]) : E([]),
				E('div', {}, Array.isArray(children) ? children : [ children ])
			]);
			harness.notifications.push(n.textContent);
			document.getElementById('tabmenu').appendChild(n);
			return n;
		},
		showModal: function(title, children) {
			harness.notifications.push('modal: ' + title);
			return E('div');
		},
		hideModal: function() {},
		changes: {
			apply: function() { harness.applied++; return Promise.resolve(); }
		}
	};

	/* --- network and widgets -------------------------------------------- */

	var network = {
		getNetworks: function() {
			return Promise.resolve(harness.networks.map(function(n) {
				return {
					getName: function() { return n.name; },
					getL3Device: function() {
						return n.device ? { getName: function() { return n.device; } } : null;
					}
				};
			}));
		}
	};

	/* --- view ---------------------------------------------------------- */

	var view = Class.extend({
		__init__: function() {
			var self = this, vp = document.getElementById('view');
			dom.content(vp, E('div', { 'class': 'spinning' }, [ 'Loading view…' ]));
			harness.viewReady = Promise.resolve(this.load()).then(function(data) {
				return self.render(data);
			}).then(function(nodes) {
				dom.content(vp, nodes);
				dom.append(vp, self.addFooter());
				return self;
			});
		},
		load: function() {},
		render: function() {},
		addFooter: function() {
			var self = this, buttons = [];
			if (this.handleSaveApply)
				buttons.push(E('button', { 'class': 'cbi-button cbi-button-apply', 'click': function() { return self.handleSaveApply(); } }, [ _('Save & Apply') ]));
			if (this.handleSave)
				buttons.push(E('button', { 'class': 'cbi-button cbi-button-save', 'click': function() { return self.handleSave(); } }, [ _('Save') ]));
			if (this.handleReset)
				buttons.push(E('button', { 'class': 'cbi-button cbi-button-reset', 'click': function() { return self.handleReset(); } }, [ _('Reset') ]));
			return buttons.length ? E('div', { 'class': 'cbi-page-actions' }, buttons) : E([]);
		},
		handleSave: function() {
			var maps = document.querySelectorAll('#view .cbi-map');
			return Promise.all(Array.prototype.map.call(maps, function(m) {
				return m.harnessMap.save();
			}));
		},
		handleSaveApply: function() {
			return this.handleSave().then(function() { return ui.changes.apply(); });
		},
		handleReset: function() {}
	});

	harness.modules = {
		view: view, dom: dom, rpc: rpc, poll: poll, uci: uci, ui: ui,
		network: network, baseclass: Class
	};

	/* --- loader: the 'require' directives of a LuCI module ---------------- */

	harness.loadView = function(path) {
		return fetch('/luci-static/resources/view/' + path + '.js').then(function(res) {
			if (!res.ok)
				throw fail('cannot load view ' + path + ': HTTP ' + res.status);
			return res.text();
		}).then(function(source) {
			var names = [], values = [];
			var lines = source.split('\n');
			for (var i = 0; i < lines.length; i++) {
				var line = lines[i].trim();
				if (line == '' || line == "'use strict';")
					continue;
				var m = line.match(/^'require\s+([a-zA-Z0-9_.]+)(?:\s+as\s+([a-zA-Z_][a-zA-Z0-9_]*))?';$/);
				if (!m)
					break;
				var mod = harness.modules[m[1]];
				if (!mod)
					throw fail('view ' + path + " requires '" + m[1] + "', which the stand-in does not provide");
				var as = m[2] || m[1];
				if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(as))
					throw fail("'require " + m[1] + "' needs 'as NAME'");
				names.push(as);
				values.push(mod);
			}
			var factory = new Function(names.join(','), source + '\n//# sourceURL=' + path + '.js');
			var Cls = factory.apply(L, values);
			if (typeof Cls != 'function')
				throw fail('view ' + path + ' does not return a class');
			harness.view = new Cls();
			return harness.view;
		}).then(function() {
			return harness.viewReady;
		});
	};

	window.addEventListener('error', function(ev) {
		harness.errors.push('uncaught: ' + ev.message + ' at ' + ev.filename + ':' + ev.lineno);
	});
	window.addEventListener('unhandledrejection', function(ev) {
		harness.errors.push('unhandled rejection: ' + (ev.reason && ev.reason.stack || ev.reason));
	});
})(window, document);
