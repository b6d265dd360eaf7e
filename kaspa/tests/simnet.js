#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
//
// A simulated Kaspa P2P network in one Node.js process, for the crawler's tests and benchmark.
// Every listening node is its own @grpc/grpc-js server on its own loopback address (127.0.0.2,
// 127.0.0.3, ...; Linux routes all of 127/8 to lo) and the same port, with its own 16-byte id and
// user agent. It handshakes exactly as peer.js does (the same runPeer) and answers each
// RequestAddresses with its neighbours in a deterministic graph. Answers are gzip-compressed
// (flag 1, grpc-encoding gzip) when the dialer sends gzip itself, as reference nodes do.
//
//   simnet.js --nodes N [--seed S] [--port P] [options]     generate the graph
//   simnet.js --graph FILE [--port P]                        serve a graph printed before
//
// Graph: node 0 is the seed; every other listening node i is advertised by one earlier node (so
// all are found breadth-first from the seed), and each node also advertises --degree random
// other listening nodes. --private M addresses (default N/4) follow the listening ones
// (127.0.0.(N+2)...): each is advertised by one or two nodes but nobody listens there.
// --extra IP:PORT,... (e.g. a sensor's address) is advertised by round(--extra-fraction * N)
// listening nodes (default 0.5), chosen by the seed. Every --mapped-every K-th advertised IPv4
// address (default 5; 0: none) goes on the wire as IPv4-mapped IPv6 (::ffff:a.b.c.d).
//
// Output (stdout, JSON Lines): {"event":"graph","graph":{...}} with the graph served (also written
// to --graph-out FILE), then {"event":"ready","port":P,"listening":N,...} once every server is
// bound. On SIGTERM/SIGINT: {"event":"stats",...} (connections and RequestAddresses per node),
// then exit 0. --verbose adds each peer's events (with the node's address).
//
// Other options: --ip-base A.B.C.D (first address, default 127.0.0.2), --network NAME,
// --version N, --mute I,J (nodes of these indices never answer RequestAddresses), --limit-ms MS
// (exit after MS; default 600000).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const peer = require('./peer.js');

const { grpc, proto, grpcOpts, parseArgs, parseAddr, runPeer } = peer;

const args = parseArgs(process.argv.slice(2), { nodes: 50, seed: 1, port: 0, degree: 3,
	'extra-fraction': 0.5, 'mapped-every': 5, 'ip-base': '127.0.0.2', network: 'kaspa-mainnet',
	version: 10, 'limit-ms': 600000 });

function out(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(msg) {
	process.stderr.write(`simnet: ${msg}\n`);
	process.exit(2);
}

// mulberry32: a small deterministic PRNG, so one --seed gives one graph everywhere
function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function ipToInt(s) {
	const p = s.split('.').map(Number);
	if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) fail(`bad --ip-base ${s}`);
	return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function intToIp(n) {
	return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

// The deterministic graph for --nodes/--private/--degree/--seed/--extra (see the header).
function generate(port) {
	const n = Number(args.nodes);
	const m = args.private !== undefined ? Number(args.private) : Math.floor(n / 4);
	const degree = Number(args.degree);
	const seed = Number(args.seed);
	const rnd = prng(seed);
	const pick = (k) => Math.floor(rnd() * k);
	const base = ipToInt(args['ip-base']);
	const nodes = [];

	if (!(n >= 1) || !(m >= 0)) fail('--nodes must be >= 1 and --private >= 0');
	for (let k = 0; k < n + m; k++) {
		const id = crypto.createHash('sha256').update(`simnet:${seed}:${k}`).digest()
			.subarray(0, 16).toString('hex');
		nodes.push({ index: k, address: `${intToIp(base + k)}:${port}`, ip: intToIp(base + k),
			port, id, user_agent: `/kaspad:2.0.1/simnet-${seed}-${k}/`, listening: k < n,
			advertises: [] });
	}
	const link = (from, to) => {
		const a = nodes[to].address;
		if (from !== to && !nodes[from].advertises.includes(a)) nodes[from].advertises.push(a);
	};
	for (let i = 1; i < n; i++) link(pick(i), i);
	for (let i = 0; i < n; i++)
		for (let d = 0; d < degree && n > 1; d++) link(i, pick(n));
	for (let p = n; p < n + m; p++) {
		const k = 1 + pick(2);
		for (let j = 0; j < k; j++) link(pick(n), p);
	}
	const extra = args.extra ? String(args.extra).split(',') : [];
	const order = [...Array(n).keys()];
	for (let i = n - 1; i > 0; i--) {
		const j = pick(i + 1);
		[order[i], order[j]] = [order[j], order[i]];
	}
	const fraction = Number(args['extra-fraction']);
	const gossipers = extra.length ? order.slice(0, Math.round(fraction * n)).sort((a, b) => a - b) : [];
	for (const e of extra) {
		parseAddr(e); // validates
		for (const g of gossipers)
			if (!nodes[g].advertises.includes(e)) nodes[g].advertises.push(e);
	}
	return { seed, port, nodes, extra, extra_advertisers: gossipers.map((g) => nodes[g].address) };
}

// On the wire, every K-th IPv4 address as ::ffff:a.b.c.d (the receiver must normalise it).
function wireList(list, every) {
	return list.map((a, i) => {
		const na = parseAddr(a);
		if (every > 0 && na.ip.length === 4 && i % every === every - 1)
			na.ip = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255]), na.ip]);
		return na;
	});
}

// grpc-js servers never compress (server-interceptors.js: "response compression is currently
// not supported"). Reference nodes compress everything they send; so a call whose messages
// arrive gzipped gets gzipped answers: grpc-encoding gzip in the response headers, flag 1 and
// gzip bytes in each frame.
function enableServerGzip() {
	const si = require(require.resolve('@grpc/grpc-js/build/src/server-interceptors',
		{ paths: [path.dirname(require.resolve(grpcRoot()))] }));
	const B = si.BaseServerInterceptingCall.prototype;
	const sendMetadata = B.sendMetadata;
	const serializeMessage = B.serializeMessage;
	B.sendMetadata = function (md) {
		if (this.incomingEncoding === 'gzip') {
			md = md ? md.clone() : new grpc.Metadata();
			md.set('grpc-encoding', 'gzip');
			this.simnetGzip = true;
		}
		return sendMetadata.call(this, md);
	};
	B.serializeMessage = function (value) {
		if (!this.simnetGzip) return serializeMessage.call(this, value);
		const z = zlib.gzipSync(this.handler.serialize(value));
		const frame = Buffer.allocUnsafe(z.length + 5);
		frame.writeUInt8(1, 0);
		frame.writeUInt32BE(z.length, 1);
		z.copy(frame, 5);
		return frame;
	};
}

// The grpc-js package.json peer.js loaded, found the way peer.js finds it.
function grpcRoot() {
	const roots = [process.env.VIGIL_NPM_DIR, path.join(__dirname, '../../.cache/npm')];
	for (const r of roots.filter(Boolean)) {
		const p = path.join(r, 'node_modules', '@grpc/grpc-js/package.json');
		if (fs.existsSync(p)) return p;
	}
	return require.resolve('@grpc/grpc-js/package.json');
}

function bind(server, address) {
	return new Promise((resolve, reject) => {
		server.bindAsync(address, grpc.ServerCredentials.createInsecure(),
			(err, port) => (err ? reject(err) : resolve(port)));
	});
}

const mute = new Set(args.mute ? String(args.mute).split(',').map(Number) : []);

async function main() {
	let port = Number(args.port);
	let graph = null;
	const servers = [];
	const stats = {};

	enableServerGzip();
	if (args.graph) {
		graph = JSON.parse(fs.readFileSync(args.graph, 'utf8'));
		if (graph.graph) graph = graph.graph;
		port = graph.port;
	}
	// with --port 0 the first server picks a free port and the others take the same one
	const first = graph ? graph.nodes[0] : generate(1).nodes[0];
	const serve = (node) => {
		const server = new grpc.Server(grpcOpts);
		const st = { accepted: 0, request_addresses: 0 };
		const list = () => {
			st.request_addresses++;
			return mute.has(node.index) ? null : wireList(node.advertises, every);
		};
		const every = Number(args['mapped-every']);
		const pargs = { mode: 'server', network: args.network, version: args.version,
			'min-version': args.version, 'user-agent': node.user_agent };
		const log = args.verbose ? (o) => out(Object.assign({ node: node.ip }, o)) : () => {};
		stats[node.ip] = st;
		server.addService(proto.P2P.service, {
			MessageStream: (call) => {
				st.accepted++;
				runPeer(call, pargs, Buffer.from(node.id, 'hex'), list, log, () => {});
			},
		});
		servers.push(server);
		return server;
	};
	try {
		port = await bind(serve(first), `${first.ip}:${port}`);
	} catch (e) {
		fail(`cannot listen on ${first.ip}:${port}: ${e.message} (choose another --port)`);
	}
	if (!graph) {
		// the same seed gives the same graph: only the port in the addresses changes
		graph = generate(port);
		Object.assign(first, graph.nodes[0]);
	}
	out({ event: 'graph', graph });
	if (args['graph-out']) fs.writeFileSync(args['graph-out'], JSON.stringify(graph) + '\n');
	for (const node of graph.nodes.slice(1).filter((x) => x.listening)) {
		try {
			await bind(serve(node), `${node.ip}:${port}`);
		} catch (e) {
			fail(`cannot listen on ${node.ip}:${port}: ${e.message} (is 127.0.0.0/8 on lo?)`);
		}
	}
	const edges = graph.nodes.reduce((s, x) => s + x.advertises.length, 0);
	out({ event: 'ready', port, seed: `${first.ip}:${port}`, listening: servers.length,
		private: graph.nodes.length - servers.length, edges });
	const stop = () => {
		const nodes = {};
		for (const [ip, st] of Object.entries(stats)) nodes[`${ip}:${port}`] = st;
		out({ event: 'stats', nodes });
		for (const s of servers) s.forceShutdown();
		process.exit(0);
	};
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
	setTimeout(() => { process.stderr.write('simnet: --limit-ms reached\n'); stop(); },
		Number(args['limit-ms'])).unref();
	setInterval(() => {}, 1 << 30);
}

main();
