'use strict';
'require view';
'require dom';
'require network';
'require poll';
'require rpc';

/*
 * Live status of mcast-proxy, read from "ubus call mcast-proxy status" (the
 * JSON of "mcast-proxy status -j", documented in docs/status.md) every few
 * seconds.
 *
 * Everything shown here that comes from the daemon (interface names, the
 * configuration path, counter names) is inserted as text: it is always passed
 * to E() inside an array, never as a bare string, because LuCI's dom.append()
 * parses a bare string child as HTML.
 */

var callStatus = rpc.declare({
	object: 'mcast-proxy',
	method: 'status'
});

var callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { '': {} }
});

var POLL_INTERVAL = 5;

/* Reasons the daemon counts a discarded message under (docs/status.md).
 * Unknown reasons are shown by their key. */
var dropReasons = {
	checksum: _('bad checksum'),
	truncated: _('truncated packet'),
	malformed: _('malformed message'),
	unknown_type: _('unknown message type'),
	ttl: _('TTL or hop limit not 1'),
	router_alert: _('Router Alert option missing'),
	bad_source: _('MLD not from a link-local address'),
	wrong_interface: _('arrived on an interface not in service'),
	own_packet: _('own packet, looped back'),
	report_on_upstream: _('report received on the upstream'),
	policy: _('denied by an access list'),
	limit: _('over a limit (max groups, max sources, hosts per group)'),
	source_not_accepted: _('sender outside the upstream subnets and accepted sources'),
	link_local_group: _('link-local group, never proxied'),
	ssm_any_source: _('any-source join of a source-specific group'),
	flow_limit: _('more than 8192 streams'),
	socket_overflow: _('receive buffer full: the daemon fell behind'),
	read_error: _('socket read error')
};

var receivedKinds = {
	igmpv1_report: _('IGMPv1 reports'),
	igmpv2_report: _('IGMPv2 reports'),
	igmpv3_report: _('IGMPv3 reports'),
	igmpv2_leave: _('IGMPv2 leaves'),
	igmp_query_v1: _('IGMPv1 queries'),
	igmp_query_v2: _('IGMPv2 queries'),
	igmp_query_v3: _('IGMPv3 queries'),
	mldv1_report: _('MLDv1 reports'),
	mldv2_report: _('MLDv2 reports'),
	mldv1_done: _('MLDv1 done messages'),
	mld_query_v1: _('MLDv1 queries'),
	mld_query_v2: _('MLDv2 queries')
};

function list(v) {
	return Array.isArray(v) ? v : [];
}

function familyName(family) {
	switch (family) {
	case 'ipv4': return _('IPv4');
	case 'ipv6': return _('IPv6');
	default: return String(family);
	}
}

function protocolName(family, version) {
	if (!version)
		return '-';
	return (family == 'ipv6' ? 'MLDv' : 'IGMPv') + version;
}

function modeName(mode) {
	switch (mode) {
	case 'include': return _('include');
	case 'exclude': return _('exclude');
	default: return String(mode);
	}
}

function roleName(role) {
	switch (role) {
	case 'upstream': return _('upstream');
	case 'downstream': return _('downstream');
	default: return String(role);
	}
}

/* A duration in seconds as "3d 4h", "1h 2m", "4m 12s" or "0.5s". */
function formatDuration(secs) {
	secs = +secs;
	if (!(secs > 0))
		return '-';
	if (secs < 10)
		return '%ss'.format(Math.round(secs * 10) / 10);

	var s = Math.round(secs),
	    d = Math.floor(s / 86400),
	    h = Math.floor(s / 3600) % 24,
	    m = Math.floor(s / 60) % 60;
	s %= 60;

	if (d > 0)
		return '%dd %dh'.format(d, h);
	if (h > 0)
		return '%dh %dm'.format(h, m);
	if (m > 0)
		return '%dm %ds'.format(m, s);
	return '%ds'.format(s);
}

/* A rate with a decimal SI prefix: 4.2 Mbit/s, 105.3 kbit/s, 400 pkt/s. */
function formatRate(value, unit) {
	var prefixes = [ '', 'k', 'M', 'G', 'T' ], i = 0;
	value = +value || 0;
	while (value >= 1000 && i < prefixes.length - 1) {
		value /= 1000;
		i++;
	}
	var digits = (i == 0 && value == Math.floor(value)) ? 0 : 1;
	return '%s %s%s'.format(value.toFixed(digits), prefixes[i], unit);
}

/* An integer with thin groups of thousands, so big counters stay readable. */
function formatCount(n) {
	var s = String(Math.floor(+n || 0)), out = '';
	while (s.length > 3) {
		out = '\u202f' + s.substr(s.length - 3) + out;
		s = s.substr(0, s.length - 3);
	}
	return s + out;
}

function stateBadge(state) {
	var cls = 'label', text;
	switch (state) {
	case 'active': cls += ' success'; text = _('active'); break;
	case 'waiting': cls += ' warning'; text = _('waiting'); break;
	case 'standby': cls += ' notice'; text = _('standby'); break;
	default: text = String(state);
	}
	return E('span', { 'class': cls }, [ text ]);
}

/* One line per item, each a text node. */
function lines(items) {
	var out = [];
	for (var i = 0; i < items.length; i++) {
		if (i > 0)
			out.push(E('br'));
		out.push(items[i]);
	}
	return out.length ? out : [ '-' ];
}

/* A table in LuCI's markup: the data-title of every cell lets the theme show
 * the column name beside the value when the table collapses on a phone. */
function table(cls, titles, rows, empty) {
	var head = E('tr', { 'class': 'tr table-titles' }, titles.map(function(t) {
		return E('th', { 'class': 'th' }, [ t ]);
	}));
	var body = rows.map(function(row) {
		return E('tr', { 'class': 'tr' }, row.map(function(cell, i) {
			return E('td', { 'class': 'td', 'data-title': titles[i] },
				Array.isArray(cell) ? cell : [ cell ]);
		}));
	});

	if (!body.length)
		body.push(E('tr', { 'class': 'tr placeholder' }, [
			E('td', { 'class': 'td', 'colspan': titles.length }, [ E('em', {}, [ empty ]) ])
		]));

	return E('table', { 'class': 'table ' + cls }, [ head ].concat(body));
}

function section(title, content, description) {
	return E('div', { 'class': 'cbi-section' }, [
		E('h3', {}, [ title ]),
		description ? E('div', { 'class': 'cbi-section-descr' }, [ description ]) : E([]),
		E('div', { 'class': 'cbi-section-node' }, content)
	]);
}

function renderSummary(st) {
	var fields = [
		_('Version'), st.version || '-',
		_('Uptime'), formatDuration(st.uptime_seconds),
		_('Configuration'), st.config || '-'
	];
	/* With proxy instances, one line for each: its table and upstream. */
	var proxies = list(st.proxies);
	if (!proxies.some(function(p) { return p.name; })) {
		fields.push(_('Routing table'), st.table ? String(st.table) : _('default'));
	}
	else {
		proxies.forEach(function(p) {
			fields.push(p.name ? _('Proxy instance %s').format(p.name) : _('Default proxy instance'),
				_('routing table %s, upstream %s').format(p.table ? String(p.table) : _('default'), p.upstream || _('none')));
		});
	}
	var rows = [];
	for (var i = 0; i < fields.length; i += 2)
		rows.push(E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td left', 'width': '33%' }, [ fields[i] ]),
			E('td', { 'class': 'td left' }, [ fields[i + 1] ])
		]));
	return E('table', { 'class': 'table mcast-proxy-summary' }, rows);
}

function querierText(ifc) {
	var q = ifc.querier;
	if (!q)
		return '-';
	var who = q.self ? _('this router') : (q.address || _('none elected'));
	return '%s (%s)'.format(who, protocolName(ifc.family, q.version));
}

function renderInterfaces(ifaces, networks) {
	var rows = ifaces.map(function(ifc) {
		return [
			ifc.proxy ? E([], [ E('strong', {}, [ ifc.name ]), ' (%s)'.format(ifc.proxy) ]) : E('strong', {}, [ ifc.name ]),
			lines(networks[ifc.name] || []),
			familyName(ifc.family),
			roleName(ifc.role),
			stateBadge(ifc.state),
			ifc.role == 'downstream' ? querierText(ifc) : '-',
			lines(list(ifc.addresses))
		];
	});
	return table('mcast-proxy-interfaces', [
		_('Interface'), _('Network'), _('Family'), _('Role'), _('State'), _('Querier'), _('Addresses')
	], rows, _('No interfaces are configured.'));
}

function sourcesText(g) {
	if (g.mode == 'exclude') {
		var out = [ _('any source') ];
		list(g.excluded).forEach(function(a) {
			out.push(_('except %s').format(a));
		});
		return lines(out);
	}
	return lines(list(g.sources).map(function(s) {
		return '%s (%s)'.format(s.address, formatDuration(s.expires_in));
	}));
}

function hostsText(g) {
	var out = list(g.hosts).map(function(h) {
		return '%s (%s)'.format(h.address, formatDuration(h.expires_in));
	});
	if (g.untracked)
		out.push(E('em', {}, [ _('more hosts, not tracked (limit)') ]));
	return lines(out);
}

function renderGroups(ifc) {
	var groups = list(ifc.groups).slice().sort(function(a, b) {
		return a.group < b.group ? -1 : a.group > b.group;
	});
	var rows = groups.map(function(g) {
		return [
			E('strong', {}, [ g.group ]),
			modeName(g.mode),
			protocolName(ifc.family, g.compat),
			sourcesText(g),
			hostsText(g),
			g.mode == 'exclude' ? formatDuration(g.expires_in) : '-'
		];
	});

	var title = '%s (%s)'.format(ifc.name, familyName(ifc.family));
	var descr = null;
	if (ifc.state != 'active')
		descr = _('Not in service: the interface is missing, down or has no address yet.');
	else if (ifc.querier)
		descr = _('Querier: %s').format(querierText(ifc));
	// Why a group outlives its timer: after a flood nothing expires until
	// every host had a query to answer.
	if (ifc.state == 'active' && ifc.expiry_held > 0)
		descr = E([], [ descr ? descr + ' ' : '',
			_('No membership expires for %s more: reports were lost or still wait to be read.').format(formatDuration(ifc.expiry_held)) ]);

	return E('div', { 'class': 'mcast-proxy-groups' }, [
		E('h4', {}, [ title ]),
		descr ? E('div', { 'class': 'cbi-section-descr' }, [ descr ]) : E([]),
		ifc.state != 'active' ? E([]) : table('mcast-proxy-group-table', [
			_('Group'), _('Mode'), _('Version'), _('Sources'), _('Hosts'), _('Expires')
		], rows, _('No host has joined a group here.'))
	]);
}

function renderUpstream(subs) {
	var rows = subs.map(function(s) {
		var sources = s.mode == 'exclude'
			? [ _('any source') ].concat(list(s.sources).map(function(a) { return _('except %s').format(a); }))
			: list(s.sources);
		return [
			E('strong', {}, [ s.group ]),
			s.interface,
			familyName(s.family),
			modeName(s.mode),
			lines(sources)
		];
	});
	return table('mcast-proxy-upstream', [
		_('Group'), _('Interface'), _('Family'), _('Mode'), _('Sources')
	], rows, _('No group is requested from the upstream.'));
}

function renderRoutes(routes) {
	routes = routes.slice().sort(function(a, b) {
		return (b.bits_per_second || 0) - (a.bits_per_second || 0);
	});
	var rows = routes.map(function(r) {
		var rate = [ formatRate(r.bits_per_second, 'bit/s'), E('br'),
			E('small', {}, [ formatRate(r.packets_per_second, 'pkt/s') ]) ];
		return [
			E('strong', {}, [ r.group ]),
			r.source,
			r.input,
			lines(list(r.outputs)),
			rate,
			formatCount(r.packets),
			r.wrong_if ? E('span', { 'class': 'mcast-proxy-warn' }, [ formatCount(r.wrong_if) ]) : '0'
		];
	});
	return table('mcast-proxy-routes', [
		_('Group'), _('Source'), _('In'), _('Out'), _('Rate'), _('Packets'), _('Wrong interface')
	], rows, _('No stream is being forwarded.'));
}

function sortedKeys(obj) {
	return Object.keys(obj || {}).sort();
}

/* Rows of counters with one column per family: [label, key of a row]. */
function counterTable(cls, title, counters, rowsOf, empty) {
	counters = counters.slice().sort(function(a, b) {
		return a.family < b.family ? -1 : a.family > b.family;
	});

	var order = [], byKey = {};
	counters.forEach(function(c, col) {
		rowsOf(c).forEach(function(r) {
			var key = r[0];
			if (!byKey.hasOwnProperty(key)) {
				byKey[key] = { label: r[1], values: [] };
				order.push(key);
			}
			byKey[key].values[col] = r[2];
		});
	});

	var rows = order.map(function(key) {
		var row = [ byKey[key].label ];
		for (var i = 0; i < counters.length; i++)
			row.push(byKey[key].values[i] !== undefined ? byKey[key].values[i] : '0');
		return row;
	});

	return table(cls, [ title ].concat(counters.map(function(c) { return familyName(c.family); })),
		rows, empty);
}

function renderCounters(counters, ifaces) {
	var messages = counterTable('mcast-proxy-counters', _('Counter'), counters, function(c) {
		var rows = [];
		sortedKeys(c.received).forEach(function(k) {
			if (c.received[k])
				rows.push([ 'received/' + k, receivedKinds[k] || k, formatCount(c.received[k]) ]);
		});
		rows.push([ 'queries_sent', _('Queries sent'), formatCount(c.queries_sent) ]);
		rows.push([ 'upcalls', _('New sources seen (kernel upcalls)'), formatCount(c.upcalls) ]);
		rows.push([ 'routes', _('Forwarding entries added / changed / removed'),
			'%s / %s / %s'.format(formatCount(c.routes_added), formatCount(c.routes_changed), formatCount(c.routes_removed)) ]);
		return rows;
	}, _('No counters yet.'));

	var drops = counterTable('mcast-proxy-drops', _('Reason'), counters, function(c) {
		var rows = [];
		sortedKeys(c.dropped).forEach(function(k) {
			if (c.dropped[k])
				rows.push([ k, E('span', {}, [ dropReasons[k] || k, ' ', E('code', {}, [ k ]) ]),
					E('span', { 'class': 'mcast-proxy-warn' }, [ formatCount(c.dropped[k]) ]) ]);
		});
		return rows;
	}, _('Nothing was dropped.'));

	/* A family without drops would still get a column of zeros: fine, it
	 * says "none" for that family. Without any drop at all, one line. */
	if (!counters.some(function(c) { return sortedKeys(c.dropped).some(function(k) { return c.dropped[k]; }); }))
		drops = table('mcast-proxy-drops', [ _('Reason'), _('Count') ], [], _('Nothing was dropped.'));

	var perIf = [];
	ifaces.forEach(function(ifc) {
		var c = ifc.counters;
		if (!c)
			return;
		perIf.push([
			'%s (%s)'.format(ifc.name, familyName(ifc.family)),
			formatCount(c.reports), formatCount(c.queries),
			formatCount(c.queries_sent), formatCount(c.dropped)
		]);
	});

	return [
		messages,
		E('h4', {}, [ _('Dropped') ]),
		drops,
		E('h4', {}, [ _('Per interface') ]),
		table('mcast-proxy-if-counters', [
			_('Interface'), _('Reports'), _('Queries heard'), _('Queries sent'), _('Dropped')
		], perIf, _('No interface has counted anything yet.'))
	];
}

/* The service is stopped, disabled, or the status could not be read. */
function renderUnavailable(state) {
	var msg, detail = null;
	if (!state.running) {
		msg = _('mcast-proxy is not running.');
		detail = _('Start it under System → Startup, or look for the reason with "logread -e mcast-proxy".');
	}
	else {
		msg = _('mcast-proxy is running but did not answer the status request.');
		detail = state.error ? _('Reason: %s').format(state.error) : null;
	}
	return E('div', { 'class': 'cbi-section mcast-proxy-unavailable' }, [
		E('div', { 'class': 'alert-message notice' }, [
			E('h4', {}, [ msg ]),
			detail ? E('p', {}, [ detail ]) : E([])
		])
	]);
}

function renderState(state, networks) {
	if (!state.status)
		return [ renderUnavailable(state) ];

	var st = state.status,
	    ifaces = list(st.interfaces),
	    downstreams = ifaces.filter(function(ifc) { return ifc.role == 'downstream'; });

	return [
		section(_('Daemon'), [ renderSummary(st) ]),
		section(_('Interfaces'), [ renderInterfaces(ifaces, networks) ],
			_('Upstream interfaces face the multicast source (the provider), downstream interfaces the receivers. One entry per address family.')),
		section(_('Groups joined by hosts'), downstreams.length
			? downstreams.map(renderGroups)
			: [ E('em', {}, [ _('No downstream interface is configured.') ]) ],
			_('Expiry counts down and restarts whenever a host reports again; a group whose timer runs out is no longer forwarded.')),
		section(_('Upstream subscriptions'), [ renderUpstream(list(st.upstream)) ],
			_('The groups this router requests from the upstream on behalf of its hosts.')),
		section(_('Forwarding'), [ renderRoutes(list(st.routes)) ],
			_('Streams the kernel forwards now, fastest first; rates are measured between two status updates.')),
		section(_('Counters'), renderCounters(list(st.counters), ifaces))
	];
}

function serviceRunning(services) {
	var svc = services ? services['mcast-proxy'] : null;
	var inst = (svc && svc.instances) || {};
	for (var name in inst)
		if (inst.hasOwnProperty(name) && inst[name].running)
			return true;
	return false;
}

/* The logical networks (Network → Interfaces) by their layer-3 device, so
 * that "br-lan" also reads "lan". Without them the column stays empty. */
function fetchNetworks() {
	return L.resolveDefault(network.getNetworks(), []).then(function(nets) {
		var byDevice = {};
		(nets || []).forEach(function(net) {
			var dev = net.getL3Device(), name = dev ? dev.getName() : null;
			if (name)
				(byDevice[name] = byDevice[name] || []).push(net.getName());
		});
		return byDevice;
	});
}

function fetchState() {
	return Promise.all([
		callStatus().then(function(st) {
			/* When the daemon does not answer, the rpcd plugin passes on
			 * the messages of "mcast-proxy status" as {"errors": [...]}. */
			if (st && typeof st == 'object' && Array.isArray(st.interfaces))
				return { status: st };
			var why = st && (st.error || (Array.isArray(st.errors) && st.errors.join('; ')));
			return { error: why ? String(why) : _('no status in the answer') };
		}, function(err) {
			return { error: err.message || String(err) };
		}),
		L.resolveDefault(callServiceList('mcast-proxy'), null)
	]).then(function(res) {
		var state = res[0];
		/* Without the service list (older procd, or no permission), a
		 * status answer is proof enough that it runs. */
		state.running = res[1] ? serviceRunning(res[1]) : !!state.status;
		if (state.status)
			state.running = true;
		return state;
	});
}

return view.extend({
	load: function() {
		return Promise.all([ fetchState(), fetchNetworks() ]);
	},

	render: function(data) {
		var networks = data[1];
		var body = E('div', { 'class': 'mcast-proxy-status' }, renderState(data[0], networks));

		poll.add(function() {
			return fetchState().then(function(next) {
				dom.content(body, renderState(next, networks));
			});
		}, POLL_INTERVAL);

		return E([], [
			E('h2', {}, [ _('Multicast Proxy') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('What the IGMP/MLD proxy is doing now: interfaces, groups joined on each network, streams forwarded and messages dropped. Updated every %d seconds.').format(POLL_INTERVAL)
			]),
			body
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
