#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
//
// An independent Kaspa P2P peer for Vigil's tests, on @grpc/grpc-js (its own HTTP/2 and gRPC
// stack) and @grpc/proto-loader reading kaspa/p2p.proto. Like the reference node it compresses
// every message it sends with gzip ('grpc.default_compression_algorithm': 2; grpc-js compresses
// client-side only). It runs the handshake as kaspa-p2p.md describes and prints one JSON line per
// event on stdout.
//
//   peer.js --mode client --port P [--host 127.0.0.1]    dial a Vigil listener
//   peer.js --mode server [--port 0] [--once]            listen (prints {"event":"listening",...})
//
// Options: --network NAME (kaspa-mainnet), --version N (10), --min-version N (10), --user-agent S,
// --id HEX32, --advertise IP:PORT (Version.address), --addresses IP:PORT,... (our answer to
// RequestAddresses), --request-addresses (ask once after Ready), --ping (send a Ping after
// Ready), --no-ready (never send Ready), --huge N (a userAgent of N bytes), --method PATH (call
// another method), --close-after-ms N (end the call N ms after Ready; default: after the
// requested answers arrived, or 500 ms).
//
// Required as a module (simnet.js), it exports its gRPC setup and runPeer without running main.
'use strict';

const path = require('path');
const crypto = require('crypto');

function requireDep(name) {
	const roots = [process.env.VIGIL_NPM_DIR, path.join(__dirname, '../../.cache/npm')];
	for (const r of roots.filter(Boolean)) {
		try {
			return require(path.join(r, 'node_modules', name));
		} catch (e) {
			if (e.code !== 'MODULE_NOT_FOUND') throw e;
		}
	}
	return require(name);
}

const grpc = requireDep('@grpc/grpc-js');
const protoLoader = requireDep('@grpc/proto-loader');

const defaults = { mode: 'client', host: '127.0.0.1', port: 0, network: 'kaspa-mainnet',
	version: 10, 'min-version': 10, 'user-agent': '/kaspad:2.0.1/grpcjs-test-peer/',
	addresses: '', 'close-after-ms': 0, huge: 0 };

// "--key value" and "--flag" pairs over @defaults (a repeated key keeps the last value).
function parseArgs(argv, dflt) {
	const args = Object.assign({}, dflt);
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--')) continue;
		const k = a.slice(2);
		const next = argv[i + 1];
		if (next === undefined || next.startsWith('--')) args[k] = true;
		else { args[k] = next; i++; }
	}
	return args;
}

function stdoutLine(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

const def = protoLoader.loadSync(path.join(__dirname, '..', 'p2p.proto'),
	{ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, bytes: Buffer });
const proto = grpc.loadPackageDefinition(def).protowire;

function parseAddr(s) {
	const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(s);
	if (!m) throw new Error('bad address ' + s);
	const ip = m[1];
	let buf;
	if (ip.includes(':')) {
		// URL normalises IPv6 (an embedded IPv4 tail becomes two groups), then expand '::'
		const norm = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
		const full = norm.split('::');
		const head = full[0] ? full[0].split(':') : [];
		const tail = full.length > 1 && full[1] ? full[1].split(':') : [];
		const groups = head.concat(Array(8 - head.length - tail.length).fill('0'), tail);
		buf = Buffer.alloc(16);
		groups.forEach((g, i) => buf.writeUInt16BE(parseInt(g, 16), i * 2));
	} else {
		buf = Buffer.from(ip.split('.').map(Number));
	}
	return { timestamp: '0', ip: buf, port: Number(m[2]) };
}

function fmtAddr(a) {
	let ip = a.ip;
	if (ip.length === 16 && ip.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255])))
		ip = ip.subarray(12);
	if (ip.length === 4) return `${Array.from(ip).join('.')}:${a.port}`;
	const g = [];
	for (let i = 0; i < 16; i += 2) g.push(ip.readUInt16BE(i).toString(16));
	return `${new URL(`http://[${g.join(':')}]/`).hostname}:${a.port}`;
}

// Runs the handshake on one duplex call (client or server side alike). @args holds the options
// above; @ourId is our 16-byte id, @answerList the NetAddresses answering RequestAddresses (an
// array, or a function returning one per request or null for no answer), @out receives the
// event objects.
function runPeer(call, args, ourId, answerList, out, onEnd) {
	const st = { gotVersion: false, gotVerack: false, sentReady: false, gotReady: false,
		established: false, waitingAddresses: false, waitingPong: null, ended: false };
	let closeTimer = null;
	const send = (m) => { if (!st.ended) call.write(m); };
	const end = (reason) => {
		if (st.ended) return;
		st.ended = true;
		out({ event: 'end', reason });
		try { call.end(); } catch (e) { /* already closed */ }
		onEnd();
	};
	const maybeDone = () => {
		// the dialling side leaves once its questions are answered; a listener waits
		if (args.mode === 'server' || args['close-after-ms'] || st.waitingAddresses ||
		    st.waitingPong)
			return;
		if (!closeTimer) closeTimer = setTimeout(() => end('done'), 500);
	};
	const maybeReady = () => {
		if (st.gotVersion && st.gotVerack && !st.sentReady) {
			st.sentReady = true;
			if (!args['no-ready']) send({ ready: {} });
		}
		if (st.sentReady && st.gotReady && !st.established) {
			st.established = true;
			out({ event: 'ready' });
			if (args['request-addresses']) {
				st.waitingAddresses = true;
				send({ requestAddresses: { includeAllSubnetworks: false } });
			}
			if (args.ping) {
				st.waitingPong = String(BigInt('0x' + crypto.randomBytes(8).toString('hex')));
				send({ ping: { nonce: st.waitingPong } });
			}
			if (args['close-after-ms'])
				closeTimer = setTimeout(() => end('done'), Number(args['close-after-ms']));
			maybeDone();
		}
	};
	call.on('data', (m) => {
		const kind = m.payload;
		switch (kind) {
		case 'version': {
			const v = m.version;
			out({ event: 'version', protocolVersion: v.protocolVersion, userAgent: v.userAgent,
				network: v.network, id: v.id.toString('hex'), services: v.services,
				timestamp: v.timestamp, address: v.address ? fmtAddr(v.address) : null });
			st.gotVersion = true;
			if (v.network !== args.network) {
				send({ reject: { reason: `network ${v.network} is not ${args.network}` } });
				return end('network');
			}
			if (v.protocolVersion < Number(args['min-version'])) {
				send({ reject: { reason: `version ${v.protocolVersion} is below our minimum ${args['min-version']}` } });
				return end('version');
			}
			send({ verack: {} });
			return maybeReady();
		}
		case 'verack':
			out({ event: 'verack' });
			st.gotVerack = true;
			return maybeReady();
		case 'ready':
			out({ event: 'recv_ready' });
			st.gotReady = true;
			return maybeReady();
		case 'requestAddresses': {
			out({ event: 'request_addresses' });
			// a function may return null: this peer never answers (a mute node)
			const list = typeof answerList === 'function' ? answerList() : answerList;
			return list ? send({ addresses: { addressList: list } }) : undefined;
		}
		case 'addresses':
			out({ event: 'addresses', list: m.addresses.addressList.map(fmtAddr) });
			st.waitingAddresses = false;
			return maybeDone();
		case 'ping':
			out({ event: 'ping', nonce: m.ping.nonce });
			return send({ pong: { nonce: m.ping.nonce } });
		case 'pong':
			out({ event: 'pong', nonce: m.pong.nonce, match: m.pong.nonce === st.waitingPong });
			st.waitingPong = null;
			return maybeDone();
		case 'reject':
			out({ event: 'reject', reason: m.reject.reason });
			return end('rejected');
		default:
			out({ event: 'other', payload: kind || null });
		}
	});
	call.on('error', (e) => { out({ event: 'error', code: e.code, details: e.details }); end('error'); });
	call.on('end', () => end('peer_closed'));
	call.on('cancelled', () => end('cancelled'));
	const version = { protocolVersion: Number(args.version), services: '0',
		timestamp: String(Date.now()), id: ourId, network: args.network,
		userAgent: args.huge ? 'u'.repeat(Number(args.huge)) : args['user-agent'],
		disableRelayTx: false };
	if (args.advertise) version.address = parseAddr(args.advertise);
	send({ version });
}

const grpcOpts = { 'grpc.default_compression_algorithm': 2,
	'grpc.max_receive_message_length': 4 << 20 };

function main() {
	const args = parseArgs(process.argv.slice(2), defaults);
	const out = stdoutLine;
	const ourId = args.id ? Buffer.from(args.id, 'hex') : crypto.randomBytes(16);
	const answerList = args.addresses ? args.addresses.split(',').map(parseAddr) : [];

	if (args.mode === 'server') {
		const server = new grpc.Server(grpcOpts);
		let sessions = 0;
		server.addService(proto.P2P.service, {
			MessageStream: (call) => {
				sessions++;
				out({ event: 'accepted', peer: call.getPeer() });
				runPeer(call, args, ourId, answerList, out, () => {
					if (args.once) setTimeout(() => server.forceShutdown(), 100);
				});
			},
		});
		server.bindAsync(`${args.host}:${args.port}`, grpc.ServerCredentials.createInsecure(),
			(err, port) => {
				if (err) { out({ event: 'error', details: String(err) }); process.exit(1); }
				out({ event: 'listening', port, id: ourId.toString('hex') });
			});
	} else {
		const client = new proto.P2P(`${args.host}:${args.port}`, grpc.credentials.createInsecure(), grpcOpts);
		if (args.method) {
			// a call to another method on the same channel: expect UNIMPLEMENTED (12)
			const rpc = client.makeBidiStreamRequest(args.method, (x) => x, (x) => x);
			rpc.on('data', () => {});
			rpc.on('error', (e) => { out({ event: 'error', code: e.code, details: e.details }); process.exit(0); });
			rpc.on('end', () => process.exit(0));
			rpc.write(Buffer.from([0]));
		} else {
			const call = client.MessageStream();
			out({ event: 'dialing', id: ourId.toString('hex') });
			runPeer(call, args, ourId, answerList, out, () => setTimeout(() => { client.close(); process.exit(0); }, 100));
		}
	}
	// a test peer never outlives its test
	setTimeout(() => { out({ event: 'end', reason: 'peer.js time limit' }); process.exit(2); },
		Number(process.env.PEER_JS_LIMIT_MS || 30000)).unref();
}

module.exports = { grpc, proto, grpcOpts, parseArgs, parseAddr, fmtAddr, runPeer };
if (require.main === module) main();
