/*
 * Stand-in for LuCI's form.js (and tools.widgets.NetworkSelect) for the
 * browser test: form.Map over the uci stand-in, TypedSection with tabs and
 * add/remove, and the option types Value, Flag, ListValue, DynamicList.
 * Options carry LuCI's properties (default, placeholder, rmempty, depends,
 * validate, retain, value()) and are checked the way form.js checks them on
 * save: only active options (depends met) are validated and written, and an
 * inactive option is removed from the section unless it has retain set.
 *
 * LuCI datatypes are not implemented: the settings view validates with its
 * own functions, and a datatype property fails the test.
 */
(function(window, document) {
	'use strict';

	var h = window.harness, dom = L.dom, uci = h.modules.uci, Class = L.Class;

	function fail(msg) {
		h.errors.push(msg);
		return new Error(msg);
	}

	function isEmpty(v) {
		return v === null || v === undefined || v === '' || (Array.isArray(v) && v.length == 0);
	}

	function same(a, b) {
		return JSON.stringify(isEmpty(a) ? null : a) == JSON.stringify(isEmpty(b) ? null : b);
	}

	/* --- options ------------------------------------------------------- */

	var AbstractValue = Class.extend({
		__init__: function(map, section, name, title, description) {
			this.map = map;
			this.section = section;
			this.option = name;
			this.title = title || '';
			this.description = description || '';
			this.deps = [];
			this.rmempty = true;
			this.widgets = {};
		},
		depends: function(field, value) {
			var dep = field;
			if (typeof field == 'string') {
				dep = {};
				dep[field] = value;
			}
			this.deps.push(dep);
		},
		cfgvalue: function(sid) {
			var v = uci.get(this.map.config, sid, this.option);
			return (v === null || v === undefined) ? null : v;
		},
		/* The value shown: the stored one, else the default. */
		shownValue: function(sid) {
			var v = this.cfgvalue(sid);
			return isEmpty(v) ? (this.default !== undefined ? this.default : null) : v;
		},
		formvalue: function(sid) {
			var w = this.widgets[sid];
			return w ? w.getValue() : null;
		},
		textvalue: function(sid) { return this.formvalue(sid); },
		write: function(sid, value) { uci.set(this.map.config, sid, this.option, value); },
		remove: function(sid) { uci.unset(this.map.config, sid, this.option); },
		isActive: function(sid) {
			if (!this.deps.length)
				return true;
			var self = this;
			return this.deps.some(function(dep) {
				return Object.keys(dep).every(function(k) {
					var o = self.section.children.filter(function(c) { return c.option == k; })[0];
					if (!o)
						throw fail('depends on unknown option ' + k);
					var v = o.isActive(sid) ? o.formvalue(sid) : null;
					return String(isEmpty(v) ? '' : v) == String(dep[k]);
				});
			});
		},
		/* What form.js does before saving: true or an error message. */
		check: function(sid) {
			if (this.datatype)
				throw fail('option ' + this.option + ' uses datatype "' + this.datatype + '", which the stand-in does not implement');
			var v = this.formvalue(sid);
			var values = Array.isArray(v) ? v : [ v ];
			if (!Array.isArray(v) && isEmpty(v) && !this.rmempty && !this.optional)
				return _('Expecting: %s').format(_('non-empty value'));
			if (typeof this.validate == 'function') {
				for (var i = 0; i < values.length; i++) {
					var res = this.validate(sid, isEmpty(values[i]) ? '' : values[i]);
					if (res !== true)
						return res;
				}
			}
			return true;
		},
		showError: function(sid, err) {
			var row = this.rows[sid];
			if (!row)
				return;
			var box = row.querySelector('.cbi-value-error');
			var input = row.querySelector('input, select');
			if (err === true || err === undefined) {
				dom.content(box, []);
				if (input)
					input.classList.remove('cbi-input-invalid');
			}
			else {
				dom.content(box, [ err ]);
				if (input)
					input.classList.add('cbi-input-invalid');
			}
		},
		parse: function(sid) {
			var active = this.isActive(sid);
			if (active) {
				var err = this.check(sid);
				this.showError(sid, err);
				if (err !== true)
					return Promise.reject(new Error(this.title + ': ' + err));
				var fval = this.formvalue(sid), cval = this.cfgvalue(sid);
				if (!same(fval, cval)) {
					if (isEmpty(fval) && this.rmempty)
						this.remove(sid);
					else
						this.write(sid, fval);
				}
			}
			else if (!this.retain && !isEmpty(uci.get(this.map.config, sid, this.option))) {
				this.remove(sid);
			}
			return Promise.resolve();
		},
		renderRow: function(sid) {
			var self = this;
			var field = this.renderWidget(sid);
			var row = E('div', {
				'class': 'cbi-value',
				'id': 'cbi-' + this.map.config + '-' + sid + '-' + this.option,
				'data-name': this.option,
				'data-widget': this.widgetName
			}, [
				E('label', { 'class': 'cbi-value-title' }, [ this.title ]),
				E('div', { 'class': 'cbi-value-field' }, [
					field,
					E('div', { 'class': 'cbi-value-error' }),
					this.description ? E('div', { 'class': 'cbi-value-description' }, [ this.description ]) : E([])
				])
			]);
			this.rows = this.rows || {};
			this.rows[sid] = row;
			row.addEventListener('change', function() {
				self.section.updateDepends(sid);
				self.showError(sid, self.isActive(sid) ? self.check(sid) : true);
			});
			return row;
		}
	});

	var Value = AbstractValue.extend({
		widgetName: 'Value',
		renderWidget: function(sid) {
			var v = this.cfgvalue(sid);
			var input = E('input', {
				'type': 'text',
				'id': 'widget.cbid.' + this.map.config + '.' + sid + '.' + this.option,
				'placeholder': this.placeholder || null,
				'value': isEmpty(v) ? (this.default !== undefined ? this.default : '') : v
			});
			this.widgets[sid] = {
				getValue: function() { return input.value.trim(); },
				setValue: function(x) { input.value = x; }
			};
			return input;
		}
	});

	var ListValue = AbstractValue.extend({
		widgetName: 'ListValue',
		__init__: function() {
			AbstractValue.prototype.__init__.apply(this, arguments);
			this.keylist = [];
			this.vallist = [];
		},
		value: function(key, label) {
			this.keylist.push(String(key));
			this.vallist.push(label !== undefined ? label : key);
		},
		renderWidget: function(sid) {
			var cur = this.shownValue(sid);
			cur = isEmpty(cur) ? '' : String(cur);
			var keys = this.keylist.slice(), labels = this.vallist.slice();
			if (keys.indexOf(cur) < 0) {
				keys.push(cur);
				labels.push(cur);
			}
			var select = E('select', {
				'id': 'widget.cbid.' + this.map.config + '.' + sid + '.' + this.option
			}, keys.map(function(k, i) {
				return E('option', { 'value': k, 'selected': k == cur ? '' : null }, [ labels[i] ]);
			}));
			this.widgets[sid] = {
				getValue: function() { return select.value; },
				setValue: function(x) { select.value = x; }
			};
			return select;
		}
	});

	var Flag = AbstractValue.extend({
		widgetName: 'Flag',
		enabled: '1',
		disabled: '0',
		renderWidget: function(sid) {
			var v = this.shownValue(sid);
			var on = isEmpty(v) ? false : [ '1', 'on', 'true', 'yes', 'enabled' ].indexOf(String(v)) >= 0;
			var self = this;
			var box = E('input', {
				'type': 'checkbox',
				'id': 'widget.cbid.' + this.map.config + '.' + sid + '.' + this.option,
				'checked': on ? '' : null
			});
			this.widgets[sid] = {
				getValue: function() { return box.checked ? self.enabled : self.disabled; },
				setValue: function(x) { box.checked = (x == self.enabled); }
			};
			return box;
		},
		cfgvalue: function(sid) {
			var v = AbstractValue.prototype.cfgvalue.call(this, sid);
			return isEmpty(v) ? (this.default !== undefined ? String(this.default) : this.disabled) : v;
		}
	});

	var DynamicList = AbstractValue.extend({
		widgetName: 'DynamicList',
		cfgvalue: function(sid) {
			return L.toArray(AbstractValue.prototype.cfgvalue.call(this, sid));
		},
		renderWidget: function(sid) {
			var self = this, values = this.cfgvalue(sid).slice();
			var box = E('div', { 'class': 'cbi-dynlist' });
			var add = E('input', { 'type': 'text', 'placeholder': this.placeholder || null });
			function redraw() {
				dom.content(box, values.map(function(v, i) {
					return E('div', { 'class': 'item' }, [
						E('span', {}, [ v ]),
						E('button', { 'class': 'cbi-button cbi-button-remove', 'click': function(ev) {
							ev.preventDefault();
							values.splice(i, 1);
							redraw();
						} }, [ '×' ])
					]);
				}).concat([ E('div', { 'class': 'add-item' }, [ add ]) ]));
			}
			redraw();
			this.widgets[sid] = {
				getValue: function() {
					var all = values.slice();
					if (add.value.trim() != '')
						all.push(add.value.trim());
					return all;
				},
				setValue: function(x) {
					values = L.toArray(x).slice();
					add.value = '';
					redraw();
				}
			};
			return box;
		}
	});

	var NetworkSelect = ListValue.extend({
		widgetName: 'NetworkSelect',
		renderWidget: function(sid) {
			var self = this;
			if (!this.nocreate)
				throw fail('NetworkSelect without nocreate: the view would offer to create networks');
			this.keylist = [ '' ];
			this.vallist = [ _('unspecified') ];
			h.networks.forEach(function(n) {
				self.keylist.push(n.name);
				self.vallist.push(n.name + (n.device ? ' (' + n.device + ')' : ''));
			});
			return ListValue.prototype.renderWidget.call(this, sid);
		}
	});

	/* --- sections ------------------------------------------------------ */

	var TypedSection = Class.extend({
		__init__: function(map, type, title, description) {
			this.map = map;
			this.sectiontype = type;
			this.title = title || '';
			this.description = description || '';
			this.children = [];
			this.tabs = [];
			this.anonymous = false;
			this.addremove = false;
		},
		tab: function(name, title, description) {
			this.tabs.push({ name: name, title: title, description: description });
		},
		option: function(Cls, name, title, description) {
			if (this.tabs.length)
				throw fail('option ' + name + ' outside a tab of a tabbed section');
			return this.addOption(null, Cls, name, title, description);
		},
		taboption: function(tab, Cls, name, title, description) {
			if (!this.tabs.some(function(t) { return t.name == tab; }))
				throw fail('taboption ' + name + ' in unknown tab ' + tab);
			return this.addOption(tab, Cls, name, title, description);
		},
		addOption: function(tab, Cls, name, title, description) {
			if (typeof Cls != 'function')
				throw fail('option ' + name + ': not an option class');
			if (this.children.some(function(c) { return c.option == name; }))
				throw fail('option ' + name + ' declared twice in one section');
			var o = new Cls(this.map, this, name, title, description);
			o.tab = tab;
			this.children.push(o);
			return o;
		},
		cfgsections: function() {
			var self = this;
			return uci.sections(this.map.config, this.sectiontype).map(function(s) { return s['.name']; })
				.filter(function(sid) { return self.filter ? self.filter(sid) : true; });
		},
		formvalue: function(sid, name) {
			var o = this.children.filter(function(c) { return c.option == name; })[0];
			return o ? o.formvalue(sid) : null;
		},
		updateDepends: function(sid) {
			this.children.forEach(function(o) {
				if (o.rows && o.rows[sid])
					o.rows[sid].style.display = o.isActive(sid) ? '' : 'none';
			});
		},
		renderSection: function(sid) {
			var self = this, body;
			if (this.tabs.length) {
				var menu = E('ul', { 'class': 'cbi-tabmenu' });
				var panes = this.tabs.map(function(t, i) {
					var pane = E('div', { 'class': 'cbi-tabcontainer', 'data-tab': t.name, 'style': i ? 'display:none' : null },
						[ t.description ? E('div', { 'class': 'cbi-tab-descr cbi-section-descr' }, [ t.description ]) : E([]) ]
							.concat(self.children.filter(function(o) { return o.tab == t.name; })
								.map(function(o) { return o.renderRow(sid); })));
					menu.appendChild(E('li', { 'class': i ? 'cbi-tab-disabled' : 'cbi-tab', 'data-tab': t.name }, [
						E('a', { 'click': function() {
							menu.querySelectorAll('li').forEach(function(li) {
								li.className = (li.getAttribute('data-tab') == t.name) ? 'cbi-tab' : 'cbi-tab-disabled';
							});
							body.querySelectorAll('.cbi-tabcontainer').forEach(function(p) {
								p.style.display = (p.getAttribute('data-tab') == t.name) ? '' : 'none';
							});
						} }, [ t.title ])
					]));
					return pane;
				});
				body = E('div', { 'class': 'cbi-section-node cbi-section-node-tabbed', 'id': 'cbi-' + this.map.config + '-' + sid }, [ menu ].concat(panes));
			}
			else {
				body = E('div', { 'class': 'cbi-section-node', 'id': 'cbi-' + this.map.config + '-' + sid },
					this.children.map(function(o) { return o.renderRow(sid); }));
			}
			var box = E('div', { 'class': this.anonymous ? 'cbi-anonymous-section' : 'cbi-typed-section', 'data-section-id': sid }, [
				this.anonymous ? E([]) : E('h4', {}, [ this.sectiontitle ? this.sectiontitle(sid) : sid ]),
				body,
				this.addremove ? E('div', { 'class': 'cbi-section-remove' }, [
					E('button', { 'class': 'cbi-button cbi-button-remove', 'click': function(ev) {
						ev.preventDefault();
						uci.remove(self.map.config, sid);
						self.map.rerender();
					} }, [ _('Delete') ])
				]) : E([])
			]);
			return box;
		},
		render: function() {
			var self = this;
			var nodes = this.cfgsections().map(function(sid) { return self.renderSection(sid); });
			if (!nodes.length)
				nodes.push(E('em', {}, [ _('This section contains no values yet') ]));
			var create = E([]);
			if (this.addremove) {
				var name = E('input', { 'type': 'text', 'class': 'cbi-section-create-name', 'placeholder': this.anonymous ? null : _('name') });
				create = E('div', { 'class': 'cbi-section-create' }, [
					this.anonymous ? E([]) : name,
					' ',
					E('button', { 'class': 'cbi-button cbi-button-add', 'click': function(ev) {
						ev.preventDefault();
						var n = name.value.trim();
						if (!self.anonymous && !/^[a-zA-Z0-9_]+$/.test(n)) {
							name.classList.add('cbi-input-invalid');
							return;
						}
						var sid = uci.add(self.map.config, self.sectiontype, self.anonymous ? null : n);
						if (self.handleAdd)
							self.handleAdd(sid);
						self.map.rerender();
					} }, [ this.addbtntitle || _('Add') ])
				]);
			}
			var out = E('div', { 'class': 'cbi-section', 'id': 'cbi-' + this.map.config + '-' + this.sectiontype }, [
				this.title ? E('h3', {}, [ this.title ]) : E([]),
				this.description ? E('div', { 'class': 'cbi-section-descr' }, [ this.description ]) : E([])
			].concat(nodes, [ create ]));
			this.cfgsections().forEach(function(sid) { self.updateDepends(sid); });
			return out;
		},
		parse: function() {
			var self = this;
			return Promise.all(this.cfgsections().map(function(sid) {
				return Promise.all(self.children.map(function(o) { return o.parse(sid); }));
			}));
		}
	});

	var form = {
		Map: Class.extend({
			__init__: function(config, title, description) {
				this.config = config;
				this.title = title || '';
				this.description = description || '';
				this.children = [];
			},
			section: function(Cls) {
				if (Cls !== TypedSection)
					throw fail('the stand-in only implements form.TypedSection');
				var args = [ this ].concat(Array.prototype.slice.call(arguments, 1));
				var s = Object.create(Cls.prototype);
				Cls.prototype.__init__.apply(s, args);
				this.children.push(s);
				return s;
			},
			/* LuCI finds the option by its field in the page, so the
			 * form section that shows sid: two form sections may share
			 * a section type (filtered apart). */
			lookupOption: function(name, sid) {
				var type = (uci.get(this.config, sid) || {})['.type'];
				for (var i = 0; i < this.children.length; i++) {
					var s = this.children[i];
					if (s.sectiontype != type || (s.filter && !s.filter(sid)))
						continue;
					for (var j = 0; j < s.children.length; j++)
						if (s.children[j].option == name)
							return [ s.children[j], sid ];
				}
				return null;
			},
			load: function() { return uci.load(this.config); },
			render: function() {
				var self = this;
				return Promise.resolve(this.load()).then(function() {
					self.node = E('div', { 'class': 'cbi-map', 'id': 'cbi-' + self.config }, self.renderContent());
					self.node.harnessMap = self;
					h.maps = h.maps || [];
					h.maps.push(self);
					return self.node;
				});
			},
			renderContent: function() {
				return [
					this.title ? E('h2', {}, [ this.title ]) : E([]),
					this.description ? E('div', { 'class': 'cbi-map-descr' }, [ this.description ]) : E([])
				].concat(this.children.map(function(s) { return s.render(); }));
			},
			rerender: function() {
				this.children.forEach(function(s) { s.children.forEach(function(o) { o.widgets = {}; o.rows = {}; }); });
				dom.content(this.node, this.renderContent());
			},
			save: function() {
				var self = this;
				return Promise.all(this.children.map(function(s) { return s.parse(); })).then(function() {
					return uci.save();
				}).then(function() {
					self.rerender();
				});
			}
		}),
		TypedSection: TypedSection,
		Value: Value,
		ListValue: ListValue,
		Flag: Flag,
		DynamicList: DynamicList
	};

	h.modules.form = form;
	h.modules['tools.widgets'] = { NetworkSelect: NetworkSelect };
})(window, document);
