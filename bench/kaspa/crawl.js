#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
//
// The baseline of bench/kaspa/run's crawl part: the work `vigil kaspa crawl` does, on
// @grpc/grpc-js. Breadth-first from the seed: dial every address learned (at most --concurrency
// at once), run the Kaspa handshake (kaspa/tests/peer.js's runPeer), send one RequestAddresses,
// record the answer's addresses as edges and queue the new ones; a node that does not complete
// the handshake or answer within --timeout-ms counts as unreachable. Nothing is stored.
//
//   crawl.js --seed IP:PORT [--concurrency 256] [--timeout-ms 10000] [--network NAME]
//
// Prints one JSON line: addresses known, reachable, unreachable, responses, edges, seconds, and
// the CPU seconds of the crawl itself (process.cpuUsage after start-up).
'use strict';

const crypto = require('crypto');
const path = require('path');
const peer = require(path.join(__dirname, '../../kaspa/tests/peer.js'));

const { grpc, proto, grpcOpts, parseArgs, runPeer } = peer;

const args = parseArgs(process.argv.slice(2), { concurrency: 256, 'timeout-ms': 10000,
	network: 'kaspa-mainnet', version: 10, 'min-version': 1, 'user-agent': '/grpcjs-crawler/',
	mode: 'client', 'request-addresses': true });
if (!args.seed) {
	process.stderr.write('crawl.js: give --seed IP:PORT\n');
	process.exit(2);
}

const ourId = crypto.randomBytes(16);
const known = new Set([args.seed]);
const queue = [args.seed];
const st = { reachable: 0, unreachable: 0, responses: 0, edges: 0 };
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage(); // the crawl alone, after Node and the modules loaded
let active = 0;

// one node: handshake, RequestAddresses, leave once the answer is in (or on failure/timeout)
function visit(addr) {
	const client = new proto.P2P(addr, grpc.credentials.createInsecure(), grpcOpts);
	const call = client.MessageStream();
	let done = false;
	const finish = (answered) => {
		if (done) return;
		done = true;
		clearTimeout(timer);
		if (answered) st.reachable++;
		else st.unreachable++;
		try { call.cancel(); } catch (e) { /* already over */ }
		client.close();
		active--;
		pump();
	};
	const timer = setTimeout(() => finish(false), Number(args['timeout-ms']));
	const out = (ev) => {
		if (ev.event === 'addresses') {
			st.responses++;
			for (const a of ev.list) {
				st.edges++;
				if (!known.has(a)) {
					known.add(a);
					queue.push(a);
				}
			}
			finish(true);
		} else if (ev.event === 'end') {
			finish(false);
		}
	};
	runPeer(call, args, ourId, [], out, () => finish(false));
}

function pump() {
	while (active < Number(args.concurrency) && queue.length) {
		active++;
		visit(queue.shift());
	}
	if (!active && !queue.length) {
		const secs = Number(process.hrtime.bigint() - t0) / 1e9;
		const cpu = process.cpuUsage(cpu0);
		process.stdout.write(JSON.stringify({ addresses: known.size, reachable: st.reachable,
			unreachable: st.unreachable, responses: st.responses, edges: st.edges,
			seconds: secs, crawl_cpu_seconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
		process.exit(0);
	}
}

pump();
