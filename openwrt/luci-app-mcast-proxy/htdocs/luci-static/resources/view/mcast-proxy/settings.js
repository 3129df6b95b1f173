'use strict';
'require view';
'require form';
'require uci';
'require tools.widgets as widgets';

/*
 * Settings of mcast-proxy: /etc/config/mcast-proxy, one "proxy" section with
 * the global options and one "interface" section per network (docs/
 * mcast-proxy.conf.5.md, section UCI). Further, named "proxy" sections are
 * proxy instances, each with its own upstream and multicast routing table;
 * an interface section joins one with option proxy. Values are checked here the way the
 * daemon checks them, so that Save & Apply does not hand it a file it
 * refuses: a refused reload keeps the old configuration and only says so in
 * the system log.
 *
 * Save & Apply commits the change; procd's reload trigger on the
 * mcast-proxy config then runs "/etc/init.d/mcast-proxy reload", which makes
 * the running daemon reread its configuration. Streams not affected by the
 * change keep flowing; the daemon is not restarted.
 */

var CONFIG = 'mcast-proxy';

/* --- values, parsed as the daemon parses them ------------------------- */

/* A decimal number without sign: the value, or null. */
function parseWhole(s) {
	if (!/^[0-9]+$/.test(s))
		return null;
	var n = parseInt(s, 10);
	return n <= 9007199254740991 ? n : Infinity;
}

/* A whole number in [lo, hi]: true or a message. */
function checkInt(value, lo, hi) {
	if (value === '')
		return true;
	var n = parseWhole(value);
	if (n === null)
		return _('"%s" is not a whole number').format(value);
	if (n < lo || n > hi)
		return _('%s is out of range %d to %d').format(value, lo, hi);
	return true;
}

var NS = { ms: 1e6, s: 1e9, m: 60e9 };

/* A duration: seconds ("125", "0.5") or a number with ms, s or m ("100ms",
 * "2s", "1.5m"). Returns nanoseconds, or null. */
function parseDuration(s) {
	var m = /^([0-9]+)(?:\.([0-9]+))?(ms|s|m)?$/.exec(s);
	if (!m)
		return null;
	var unit = NS[m[3] || 's'];
	var frac = m[2] || '';
	/* Digits beyond a nanosecond do not count (time.ParseDuration). */
	var fracNs = frac ? Math.floor(parseInt(frac.substr(0, 15), 10) * unit / Math.pow(10, Math.min(frac.length, 15))) : 0;
	return parseInt(m[1], 10) * unit + fracNs;
}

function formatDuration(ns) {
	if (ns % 1e9 == 0)
		return (ns / 1e9) + 's';
	if (ns < 1e9)
		return (ns / 1e6) + 'ms';
	return (ns / 1e9) + 's';
}

/* A duration in [lo, hi] nanoseconds and a multiple of unit (0: any). */
function checkDuration(value, lo, hi, unit) {
	if (value === '')
		return true;
	var ns = parseDuration(value);
	if (ns === null)
		return _('"%s" is not a duration (seconds, or a number with ms, s or m)').format(value);
	if (ns < lo || ns > hi)
		return _('%s is out of range %s to %s').format(value, formatDuration(lo), formatDuration(hi));
	if (unit && ns % unit != 0)
		return _('%s is not a multiple of %s').format(value, formatDuration(unit));
	return true;
}

/* An IPv4 address as 4 bytes, or null. Leading zeros are refused, as Go's
 * netip does. */
function parseIPv4(s) {
	var parts = s.split('.');
	if (parts.length != 4)
		return null;
	var out = [];
	for (var i = 0; i < 4; i++) {
		if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i]) || +parts[i] > 255)
			return null;
		out.push(+parts[i]);
	}
	return out;
}

/* An IPv6 address as 16 bytes, or null. No zones. */
function parseIPv6(s) {
	if (s.indexOf('%') >= 0)
		return null;
	var halves = s.split('::');
	if (halves.length > 2)
		return null;
	function groups(part, last) {
		if (part === '')
			return [];
		var out = [], g = part.split(':');
		for (var i = 0; i < g.length; i++) {
			if (last && i == g.length - 1 && g[i].indexOf('.') >= 0) {
				var v4 = parseIPv4(g[i]);
				if (!v4)
					return null;
				out.push(v4[0] << 8 | v4[1], v4[2] << 8 | v4[3]);
			}
			else if (/^[0-9a-fA-F]{1,4}$/.test(g[i])) {
				out.push(parseInt(g[i], 16));
			}
			else {
				return null;
			}
		}
		return out;
	}
	var head = groups(halves[0], halves.length == 1), tail = [];
	if (head === null)
		return null;
	if (halves.length == 2) {
		tail = groups(halves[1], true);
		if (tail === null || head.length + tail.length > 7)
			return null;
	}
	else if (head.length != 8) {
		return null;
	}
	var all = head.concat(new Array(8 - head.length - tail.length + 1).join('0').split('').map(Number), tail);
	var bytes = [];
	all.forEach(function(g) { bytes.push(g >> 8, g & 255); });
	return bytes;
}

/* A prefix "address/length" or a bare address (a host prefix), canonical:
 * {v4, bytes, bits} or a message. what names the value in messages. */
function parsePrefix(value, what) {
	var slash = value.indexOf('/'), addr = value, bits = null;
	if (slash >= 0) {
		addr = value.substr(0, slash);
		bits = value.substr(slash + 1);
		if (!/^(0|[1-9][0-9]{0,2})$/.test(bits))
			return _('%s "%s" is not a valid prefix').format(what, value);
		bits = +bits;
	}
	var v4 = parseIPv4(addr), bytes = v4 || parseIPv6(addr);
	if (!bytes)
		return _('%s "%s" is not a valid prefix').format(what, value);
	var max = v4 ? 32 : 128;
	if (bits === null)
		bits = max;
	if (bits > max)
		return _('%s "%s" is not a valid prefix').format(what, value);
	if (!v4 && bytes.slice(0, 10).every(function(b) { return b == 0; }) && bytes[10] == 255 && bytes[11] == 255)
		return _('%s %s is IPv4-mapped; write it as an IPv4 prefix').format(what, value);
	for (var i = 0; i < bytes.length; i++) {
		var keep = Math.max(0, Math.min(8, bits - i * 8));
		if (bytes[i] & (255 >> keep))
			return _('%s %s has host bits set').format(what, value);
	}
	return { v4: !!v4, bytes: bytes, bits: bits };
}

function isMulticastPrefix(p) {
	return p.v4 ? (p.bits >= 4 && (p.bytes[0] & 0xf0) == 0xe0) : (p.bits >= 8 && p.bytes[0] == 0xff);
}

/* Whether prefix a holds all of prefix b. */
function prefixContains(a, b) {
	if (a.v4 != b.v4 || a.bits > b.bits)
		return false;
	for (var i = 0; i < a.bytes.length; i++) {
		var keep = Math.max(0, Math.min(8, a.bits - i * 8)), mask = (0xff00 >> keep) & 0xff;
		if ((a.bytes[i] & mask) != (b.bytes[i] & mask))
			return false;
	}
	return true;
}

var ANY4 = { v4: true, bytes: [ 224, 0, 0, 0 ], bits: 4 },
    ANY6 = { v4: false, bytes: [ 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 ], bits: 8 };

/* One access-list rule, "allow group PREFIX [source PREFIX]" or the same
 * with deny; group may be "any". fam says which families the interface
 * proxies. Returns a list of {allow, group, source} (one per family for
 * "any") or a message. */
function parseRule(value, fam) {
	var w = value.trim().split(/\s+/);
	if ((w[0] != 'allow' && w[0] != 'deny') || w[1] != 'group' || w.length < 3)
		return _('expected a rule like "allow group 239.0.0.0/8" or "deny group any"');
	if (w.length != 3 && !(w.length == 5 && w[3] == 'source'))
		return _('expected "source PREFIX" or nothing after the group');

	var source = null;
	if (w.length == 5) {
		source = parsePrefix(w[4], _('source'));
		if (typeof source == 'string')
			return source;
		if (isMulticastPrefix(source))
			return _('source %s is a multicast prefix; a source is the unicast address of a sender').format(w[4]);
		var sf = familyError(_('source'), w[4], source, fam);
		if (sf)
			return sf;
	}

	var groups;
	if (w[2] == 'any') {
		groups = source ? [ source.v4 ? ANY4 : ANY6 ] : [];
		if (!source && fam.ipv4)
			groups.push(ANY4);
		if (!source && fam.ipv6)
			groups.push(ANY6);
	}
	else {
		var g = parsePrefix(w[2], _('group'));
		if (typeof g == 'string')
			return g;
		if (!isMulticastPrefix(g))
			return _('group %s is not a multicast prefix (224.0.0.0/4, ff00::/8) or "any"').format(w[2]);
		var gf = familyError(_('group'), w[2], g, fam);
		if (gf)
			return gf;
		if (source && source.v4 != g.v4)
			return _('source %s and group %s are of different families').format(w[4], w[2]);
		groups = [ g ];
	}
	return groups.map(function(g) {
		return { allow: w[0] == 'allow', group: g, source: source };
	});
}

function familyError(what, text, p, fam) {
	if (p.v4 && !fam.ipv4)
		return _('%s %s is IPv4 but IPv4 is off on this interface').format(what, text);
	if (!p.v4 && !fam.ipv6)
		return _('%s %s is IPv6 but IPv6 is off on this interface').format(what, text);
	return null;
}

/* Rule a, tried first, decides everything rule b would. */
function ruleCovers(a, b) {
	if (!prefixContains(a.group, b.group))
		return false;
	return !a.source || (b.source && prefixContains(a.source, b.source));
}

/* Interface name rules of the kernel (dev_valid_name). */
function checkDevice(value) {
	if (value === '')
		return true;
	if (value.length > 15)
		return _('an interface name has at most 15 characters');
	if (value == '.' || value == '..' || /[\/:\s]/.test(value))
		return _('not a valid interface name');
	return true;
}

var UCI_TRUE = [ '1', 'on', 'true', 'yes', 'enabled' ];

function isTrue(v) {
	return UCI_TRUE.indexOf(String(v)) >= 0;
}

/* --- the form ---------------------------------------------------------- */

/* The current value of an option in the form, or else in UCI, or def. The
 * global section and the instances are both "proxy" sections: an option
 * found in the other one's form section is read from UCI. */
function current(map, sid, name, def) {
	var o = map.lookupOption(name, sid);
	if (o && o[0].section.cfgsections().indexOf(sid) < 0)
		o = null;
	var v = o ? o[0].formvalue(sid) : uci.get(CONFIG, sid, name);
	return (v === null || v === undefined || v === '') ? def : v;
}

function proxySection() {
	var s = uci.sections(CONFIG, 'proxy')[0];
	return s ? s['.name'] : null;
}

/* The proxy instance an interface section belongs to: the name of a
 * further proxy section, or '' for the default instance. */
function instanceOf(map, sid) {
	var p = current(map, sid, 'proxy', '');
	return (p === proxySection()) ? '' : p;
}

/* The further proxy sections: the instances besides the default one. */
function instances() {
	var first = proxySection();
	return uci.sections(CONFIG, 'proxy').map(function(s) { return s['.name']; })
		.filter(function(n) { return n != first; });
}

/* The families an interface section proxies: its own ipv4/ipv6, else its
 * instance's, else the global ones (ipv4 on, ipv6 off unless set). */
function families(map, sid) {
	var g = proxySection(), inst = instanceOf(map, sid);
	var g4 = g ? current(map, g, 'ipv4', '1') : '1',
	    g6 = g ? current(map, g, 'ipv6', '0') : '0';
	if (inst !== '' && uci.get(CONFIG, inst)) {
		g4 = current(map, inst, 'ipv4', g4);
		g6 = current(map, inst, 'ipv6', g6);
	}
	return {
		ipv4: isTrue(current(map, sid, 'ipv4', g4)),
		ipv6: isTrue(current(map, sid, 'ipv6', g6))
	};
}

function durationValue(map, sid, name, def) {
	var ns = parseDuration(current(map, sid, name, ''));
	return ns === null ? def : ns;
}

return view.extend({
	load: function() {
		return uci.load(CONFIG);
	},

	render: function() {
		var m, s, o;

		m = new form.Map(CONFIG, _('Multicast Proxy'),
			_('Forwards multicast (IPTV, streams) from an upstream network to the networks of the receivers, answering their IGMP and MLD joins (RFC 4605). Save & Apply reloads the running proxy without interrupting streams the change does not touch.'));

		/* Global settings. A file without the proxy section is valid (every
		 * global option at its default); give it one to hold the fields. */
		if (!uci.sections(CONFIG, 'proxy').length)
			uci.add(CONFIG, 'proxy', 'main');

		var first = proxySection();
		s = m.section(form.TypedSection, 'proxy', _('Global settings'));
		s.anonymous = true;
		s.addremove = false;
		s.filter = function(sid) { return sid == first; };

		o = s.option(form.Flag, 'enabled', _('Enable'),
			_('Start the proxy at boot and keep it running.'));
		o.default = '1';
		o.rmempty = false;

		o = s.option(form.Flag, 'ipv4', _('IPv4 (IGMP)'),
			_('Proxy IPv4 multicast. Interfaces follow this unless they say otherwise.'));
		o.default = '1';

		o = s.option(form.Flag, 'ipv6', _('IPv6 (MLD)'),
			_('Proxy IPv6 multicast. Harmless while the upstream has no IPv6.'));
		o.default = '0';
		o.validate = function(sid, value) {
			if (!isTrue(value) && !isTrue(current(m, sid, 'ipv4', '1')))
				return _('IPv4 and IPv6 are both off: there is nothing to proxy');
			return true;
		};

		o = s.option(form.Flag, 'firewall', _('Open the firewall'),
			_('Accept IGMP/MLD on the upstream zone and forward multicast to the downstream zones. Turn off if you write these rules yourself.'));
		o.default = '1';

		o = s.option(form.Value, 'table', _('Multicast routing table'),
			_('Leave empty for the kernel\'s default table. A table of its own (e.g. 100) lets the proxy run beside smcroute or pimd.'));
		o.placeholder = _('default');
		o.validate = function(sid, value) {
			var r = checkInt(value, 1, 4294967295);
			if (r === true && value !== '' && parseWhole(value) == 253)
				return _('253 is the kernel\'s default table; leave the field empty to use it');
			return r;
		};

		o = s.option(form.Value, 'max_memory_total', _('Memory for all networks (KiB)'),
			_('Memory the hosts of all networks together may fill with their joins, besides each network\'s own limit. 64 to 1048576, default 4096 (4 MiB).'));
		o.placeholder = '4096';
		o.validate = function(sid, value) { return checkInt(value, 64, 1048576); };

		/* Proxy instances: further proxy sections. */
		s = m.section(form.TypedSection, 'proxy', _('Proxy instances'),
			_('Optional: further proxies in the same daemon, each with its own upstream, downstreams and multicast routing table, e.g. IPTV from a VLAN to the TV network beside a second uplink to the LAN. Interfaces join one under "Proxy instance"; the others form the default instance above.'));
		s.anonymous = false;
		s.addremove = true;
		s.addbtntitle = _('Add proxy instance');
		s.filter = function(sid) { return sid != first; };

		o = s.option(form.Flag, 'ipv4', _('IPv4 (IGMP)'),
			_('As in the global settings unless set here.'));
		o.default = '1';
		o.validate = function(sid, value) {
			var mine = uci.sections(CONFIG, 'interface').filter(function(sec) {
				return instanceOf(m, sec['.name']) === sid;
			});
			if (!mine.length)
				return _('No interface belongs to proxy instance %s yet: choose it under "Proxy instance" for an upstream and a downstream').format(sid);
			return true;
		};

		o = s.option(form.Flag, 'ipv6', _('IPv6 (MLD)'),
			_('As in the global settings unless set here.'));
		o.default = '0';

		o = s.option(form.Value, 'table', _('Multicast routing table'),
			_('Leave empty to have one chosen (5000 and up). Each instance needs a table of its own.'));
		o.placeholder = _('automatic');
		o.validate = function(sid, value) {
			var r = checkInt(value, 1, 4294967295);
			if (r !== true || value === '')
				return r;
			if (parseWhole(value) == 253)
				return _('253 is the kernel\'s default table, which a proxy instance cannot use');
			var clash = uci.sections(CONFIG, 'proxy').filter(function(p) {
				return p['.name'] != sid && current(m, p['.name'], 'table', '') === value;
			});
			if (clash.length)
				return _('table %s is already the table of %s').format(value, clash[0]['.name']);
			return true;
		};

		o = s.option(form.Value, 'max_memory_total', _('Memory for its networks (KiB)'),
			_('Memory the hosts of this instance\'s networks may fill together, within the global limit. 64 to 1048576, default the global value.'));
		o.placeholder = _('global');
		o.validate = function(sid, value) { return checkInt(value, 64, 1048576); };

		/* Interfaces */
		s = m.section(form.TypedSection, 'interface', _('Interfaces'),
			_('One section per network that takes part: exactly one role each, at least one upstream and one downstream.'));
		s.anonymous = false;
		s.addremove = true;
		s.addbtntitle = _('Add interface');

		s.tab('general', _('General'));
		s.tab('access', _('Access lists'),
			_('Rules are tried in order, the first that matches decides; without a match the group is allowed. End a list of allow rules with "deny group any".'));
		s.tab('limits', _('Limits'));
		s.tab('advanced', _('Advanced'),
			_('Querier timers (RFC 3376, RFC 3810). The defaults suit almost every network; leave a field empty to keep its default.'));

		o = s.taboption('general', widgets.NetworkSelect, 'network', _('Network'),
			_('The logical network, as in Network → Interfaces. The proxy follows it when its device changes (PPPoE reconnect, VLAN, bridge).'));
		o.nocreate = true;
		o.optional = true;
		o.validate = function(sid, value) {
			/* An empty dropdown may report null rather than ''. */
			if ((value == null || value === '') && current(m, sid, 'device', '') === '')
				return _('Choose a network, or leave it unspecified and name a device');
			return true;
		};

		/* Shown always rather than depending on an empty network: the
		 * daemon refuses a section with both, and says so here. */
		o = s.taboption('general', form.Value, 'device', _('Device'),
			_('Only without a network: a Linux interface name such as eth0.7.'));
		o.placeholder = 'eth0.7';
		o.validate = function(sid, value) {
			var net = current(m, sid, 'network', '');
			value = (value == null) ? '' : String(value);
			if (value === '' && net === '')
				return _('Name a device, or choose a network above');
			if (value !== '' && net !== '')
				return _('Leave the device empty when a network is chosen');
			return checkDevice(value);
		};

		o = s.taboption('general', form.ListValue, 'proxy', _('Proxy instance'),
			_('The proxy this interface belongs to; see "Proxy instances" above.'));
		o.value('', _('default'));
		instances().forEach(function(name) { o.value(name, name); });
		o.validate = function(sid, value) {
			if (value && value !== proxySection() && instances().indexOf(value) < 0)
				return _('there is no proxy instance %s').format(value);
			return true;
		};

		o = s.taboption('general', form.ListValue, 'role', _('Role'),
			_('Upstream faces the multicast source (your provider); downstream faces the receivers (TV boxes, computers). Disabled keeps the section but leaves the network alone.'));
		o.value('upstream', _('upstream'));
		o.value('downstream', _('downstream'));
		o.value('disabled', _('disabled'));
		o.default = 'downstream';
		o.rmempty = false;
		/* Each instance needs an upstream and a downstream, and has at
		 * most 32 interfaces in service (one kernel table each). */
		o.validate = function(sid, value) {
			var inst = instanceOf(m, sid);
			var roles = uci.sections(CONFIG, 'interface').filter(function(sec) {
				return instanceOf(m, sec['.name']) === inst;
			}).map(function(sec) {
				return sec['.name'] == sid ? value : current(m, sec['.name'], 'role', '');
			});
			if (inst !== '') {
				if (roles.indexOf('upstream') < 0)
					return _('No interface of proxy instance %s is upstream: one needs the role upstream').format(inst);
				if (roles.indexOf('downstream') < 0)
					return _('No interface of proxy instance %s is downstream: one needs the role downstream').format(inst);
			}
			else {
				if (roles.indexOf('upstream') < 0)
					return _('No interface is upstream: one needs the role upstream');
				if (roles.indexOf('downstream') < 0)
					return _('No interface is downstream: one needs the role downstream');
			}
			if (roles.filter(function(r) { return r == 'upstream' || r == 'downstream'; }).length > 32)
				return _('At most 32 interfaces can be upstream or downstream (kernel limit)');
			return true;
		};

		o = s.taboption('general', form.Value, 'priority', _('Priority'),
			_('With several upstreams, the lowest number that is up carries the streams; the next takes over when it goes down. 0 to 65535, default 0.'));
		o.depends('role', 'upstream');
		o.placeholder = '0';
		o.validate = function(sid, value) { return checkInt(value, 0, 65535); };

		[ [ 'ipv4', _('IPv4 (IGMP)') ], [ 'ipv6', _('IPv6 (MLD)') ] ].forEach(function(f) {
			o = s.taboption('general', form.ListValue, f[0], f[1]);
			o.value('', _('as in the global settings'));
			o.value('1', _('on'));
			o.value('0', _('off'));
			o.validate = function(sid, value) {
				var fam = families(m, sid), role = current(m, sid, 'role', 'downstream');
				if (role != 'disabled' && !fam.ipv4 && !fam.ipv6 &&
				    (current(m, sid, 'ipv4', '') !== '' || current(m, sid, 'ipv6', '') !== ''))
					return _('IPv4 and IPv6 are both off on this interface');
				return true;
			};
		});

		o = s.taboption('access', form.DynamicList, 'source', _('Accepted sources'),
			_('Upstream only: also forward streams from senders in these prefixes, besides the upstream\'s own subnets. Providers often send IPTV from elsewhere, e.g. 10.0.0.0/8.'));
		o.depends('role', 'upstream');
		o.placeholder = '198.51.100.0/24';
		o.validate = function(sid, value) {
			if (value === '')
				return true;
			var p = parsePrefix(value, _('source'));
			if (typeof p == 'string')
				return p;
			var all = current(m, sid, 'source', []);
			if (L.toArray(all).indexOf(value) != L.toArray(all).lastIndexOf(value))
				return _('source %s is listed twice').format(value);
			return familyError(_('source'), value, p, families(m, sid)) || true;
		};

		o = s.taboption('access', form.DynamicList, 'rule', _('Rules'),
			_('"allow group PREFIX" or "deny group PREFIX", optionally followed by "source PREFIX"; "any" stands for all groups. Downstream: what hosts may join. Upstream: what may be requested from the provider.'));
		o.placeholder = 'deny group 239.255.255.250';
		o.validate = function(sid, value) {
			if (value === '')
				return true;
			var fam = families(m, sid);
			var mine = parseRule(value, fam);
			if (typeof mine == 'string')
				return mine;
			var list = L.toArray(current(m, sid, 'rule', [])), at = list.indexOf(value);
			if (at != list.lastIndexOf(value))
				return _('never matches: the same rule comes first');
			/* A rule still being typed goes to the end of the list. */
			if (at < 0)
				at = list.length;
			for (var i = 0; i < at; i++) {
				var earlier = parseRule(list[i], fam);
				if (typeof earlier == 'string')
					continue;
				for (var j = 0; j < mine.length; j++)
					for (var k = 0; k < earlier.length; k++)
						if (ruleCovers(earlier[k], mine[j]))
							return _('never matches: "%s" comes first and covers it').format(list[i]);
			}
			return true;
		};

		o = s.taboption('limits', form.Value, 'max_groups', _('Maximum groups'),
			_('Groups the hosts of this network may have joined at once, per family. 1 to 65536, default 1024.'));
		o.depends('role', 'downstream');
		o.depends('role', 'disabled');
		o.placeholder = '1024';
		o.validate = function(sid, value) { return checkInt(value, 1, 65536); };

		o = s.taboption('limits', form.Value, 'max_sources', _('Maximum sources per group'),
			_('Sources one group may list (source-specific joins). 1 to 1024, default 128.'));
		o.depends('role', 'downstream');
		o.depends('role', 'disabled');
		o.placeholder = '128';
		o.validate = function(sid, value) { return checkInt(value, 1, 1024); };

		o = s.taboption('limits', form.Value, 'max_memory', _('Memory (KiB)'),
			_('Memory the hosts of this network may fill with groups, sources and their own streams; what would pass it is refused. 64 to 1048576, default 2048 (2 MiB).'));
		o.depends('role', 'downstream');
		o.depends('role', 'disabled');
		o.placeholder = '2048';
		o.validate = function(sid, value) { return checkInt(value, 64, 1048576); };

		o = s.taboption('limits', form.Flag, 'fast_leave', _('Fast leave'),
			_('Stop a stream as soon as the last host that asked for it leaves, instead of asking the network first. Best with one receiver per port, e.g. a TV box on its own VLAN.'));
		o.depends('role', 'downstream');
		o.depends('role', 'disabled');
		o.default = '0';

		o = s.taboption('advanced', form.Value, 'threshold', _('TTL threshold'),
			_('Forward out of this interface only packets that arrive with a TTL above this. 1 to 255, default 1.'));
		o.placeholder = '1';
		o.validate = function(sid, value) { return checkInt(value, 1, 255); };

		var downstreamOnly = function(opt) {
			opt.depends('role', 'downstream');
			opt.depends('role', 'disabled');
		};

		o = s.taboption('advanced', form.ListValue, 'igmp_version', _('IGMP version'),
			_('Highest IGMP version queried; hosts answering an older one make the proxy fall back. Set-top boxes that only speak IGMPv2 work either way.'));
		downstreamOnly(o);
		o.value('', _('default (3)'));
		o.value('3', 'IGMPv3');
		o.value('2', 'IGMPv2');
		o.value('1', 'IGMPv1');

		o = s.taboption('advanced', form.ListValue, 'mld_version', _('MLD version'));
		downstreamOnly(o);
		o.value('', _('default (2)'));
		o.value('2', 'MLDv2');
		o.value('1', 'MLDv1');

		o = s.taboption('advanced', form.Value, 'robustness', _('Robustness'),
			_('How many lost packets the protocol tolerates. 1 to 7, default 2.'));
		downstreamOnly(o);
		o.placeholder = '2';
		o.validate = function(sid, value) { return checkInt(value, 1, 7); };

		o = s.taboption('advanced', form.Value, 'query_interval', _('Query interval'),
			_('Time between general queries: seconds, or with ms, s or m. 1s to 31744s in whole seconds, default 125s.'));
		downstreamOnly(o);
		o.placeholder = '125s';
		o.validate = function(sid, value) {
			var r = checkDuration(value, 1e9, 31744e9, 1e9);
			if (r === true && value !== '' && parseDuration(value) <= durationValue(m, sid, 'query_response_interval', 10e9))
				return _('must be more than the query response interval (default 10s)');
			return r;
		};

		/* Response times travel in tenths of a second; older versions carry
		 * less (RFC 2236 §2.2, RFC 2710 §3.4) and IGMPv1 none at all. */
		var responseTime = function(name) {
			return function(sid, value) {
				var r = checkDuration(value, 1e8, 31744e8, 1e8);
				if (r !== true || value === '')
					return r;
				var ns = parseDuration(value), fam = families(m, sid);
				var igmp = current(m, sid, 'igmp_version', '3'), mld = current(m, sid, 'mld_version', '2');
				if (name == 'query_response_interval' &&
				    ns >= durationValue(m, sid, 'query_interval', 125e9))
					return _('must be less than the query interval');
				if (fam.ipv4 && igmp == '2' && ns > 255e8)
					return _('at most 25.5s with IGMPv2');
				if (fam.ipv4 && igmp == '1' && name == 'query_response_interval' && ns != 10e9)
					return _('IGMPv1 queries carry no response time: leave empty (hosts answer within 10s)');
				if (fam.ipv6 && mld == '1' && ns > 65535e6)
					return _('at most 65.535s with MLDv1');
				return true;
			};
		};

		o = s.taboption('advanced', form.Value, 'query_response_interval', _('Query response interval'),
			_('How long hosts may take to answer a general query, in steps of 100ms. Default 10s; less than the query interval.'));
		downstreamOnly(o);
		o.placeholder = '10s';
		o.validate = responseTime('query_response_interval');

		o = s.taboption('advanced', form.Value, 'last_member_query_interval', _('Last member query interval'),
			_('After a host leaves, time between the queries that check whether others still watch, in steps of 100ms. Lower means quicker channel changes; default 1s.'));
		downstreamOnly(o);
		o.placeholder = '1s';
		o.validate = responseTime('last_member_query_interval');

		o = s.taboption('advanced', form.Value, 'last_member_query_count', _('Last member query count'),
			_('Queries sent after a leave before the stream stops. 1 to 10, default the robustness.'));
		downstreamOnly(o);
		o.placeholder = _('robustness');
		o.validate = function(sid, value) { return checkInt(value, 1, 10); };

		o = s.taboption('advanced', form.Value, 'startup_query_interval', _('Startup query interval'),
			_('Time between the queries sent at start. 100ms to 31744s, default a quarter of the query interval.'));
		downstreamOnly(o);
		o.placeholder = _('query interval / 4');
		o.validate = function(sid, value) { return checkDuration(value, 1e8, 31744e9, 0); };

		o = s.taboption('advanced', form.Value, 'startup_query_count', _('Startup query count'),
			_('Queries sent at start. 1 to 10, default the robustness.'));
		downstreamOnly(o);
		o.placeholder = _('robustness');
		o.validate = function(sid, value) { return checkInt(value, 1, 10); };

		return m.render();
	}
});
