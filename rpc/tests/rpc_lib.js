// SPDX-License-Identifier: GPL-2.0-only
// Helpers shared by the node clients of the rpc integration tests: a tally of the calls a client
// made, keyed the way rpc_expect.py keys vigil's events, raw HTTP/1.1 JSON-RPC over one TCP
// socket (so the test knows every byte the server wrote), and a counted WebSocket session.
'use strict';
const net = require('net');
const fs = require('fs');

class Tally {
	constructor() { this.counts = {}; }
	// One call as the client saw it: response object (or null when none), transport, batch place.
	add(method, resp, transport, bsize, bindex) {
		let status = 'unknown', code = '';
		if (resp && resp.error) { status = 'error'; code = String(resp.error.code); }
		else if (resp && 'result' in resp) status = 'ok';
		this.addKey(method, 'call', status, code, transport, bsize, bindex);
	}
	addKey(method, kind, status, code, transport, bsize, bindex) {
		const k = [method, kind, status, code, transport, bsize, bindex].join('|');
		this.counts[k] = (this.counts[k] || 0) + 1;
	}
	write(path) { fs.writeFileSync(path, JSON.stringify(this.counts, null, 1) + '\n'); }
}

// A keep-alive HTTP/1.1 client on one raw socket: request() sends one POST and resolves with
// { status, headers, body, bytes } where bytes counts everything the server wrote for it.
class RawHttp {
	constructor(port, host = '127.0.0.1') { this.port = port; this.host = host; }
	connect() {
		return new Promise((resolve, reject) => {
			this.sock = net.connect(this.port, this.host, () => resolve(this));
			this.sock.once('error', reject);
			this.buf = Buffer.alloc(0);
			this.waiter = null;
			this.closed = false;
			this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.pump(); });
			this.sock.on('end', () => { this.closed = true; this.pump(); });
		});
	}
	localPort() { return this.sock.localPort; }
	pump() {
		if (!this.waiter) return;
		const i = this.buf.indexOf('\r\n\r\n');
		if (i < 0) return;
		const head = this.buf.subarray(0, i).toString('latin1');
		const m = /content-length:\s*(\d+)/i.exec(head);
		let total;
		if (m) total = i + 4 + Number(m[1]);
		else if (this.closed) total = this.buf.length;
		else return;
		if (this.buf.length < total) return;
		const body = this.buf.subarray(i + 4, total);
		this.buf = this.buf.subarray(total);
		const w = this.waiter;
		this.waiter = null;
		w({ status: Number(head.split(' ')[1]), head, body, bytes: total });
	}
	request(body, extra = '') {
		const b = Buffer.from(body);
		const req = `POST / HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n` +
			`Content-Type: application/json\r\nContent-Length: ${b.length}\r\n${extra}\r\n`;
		return new Promise((resolve) => {
			this.waiter = resolve;
			this.sock.write(Buffer.concat([Buffer.from(req), b]));
			this.lastReqBytes = req.length + b.length;
		});
	}
	close() { this.sock.end(); }
}

function parseJson(buf) { try { return JSON.parse(buf.toString()); } catch (e) { return null; } }

// A WebSocket session on the node at @port, every call and push counted in @tally: a newHeads
// subscription, @mines blocks mined one at a time over the socket (evm_mine, each answered and
// pushed before the next), @calls eth_blockNumber calls, then the unsubscribe. Resolves with the
// number of pushes received.
async function wsSession(port, tally, mines, calls) {
	const WebSocket = require('ws');
	const ws = new WebSocket(`ws://127.0.0.1:${port}`);
	const waiting = {};
	let next = 1, pushes = 0, pushWaiter = null;
	ws.on('message', (data) => {
		const m = JSON.parse(data.toString());
		if (m.method === 'eth_subscription') {
			pushes++;
			tally.addKey('eth_subscription', 'notification', 'ok', '', 'ws', 1, 0);
			if (pushWaiter) pushWaiter();
		} else if (waiting[m.id]) {
			waiting[m.id](m);
		}
	});
	await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
	const call = (method, params) => new Promise((resolve) => {
		const id = next++;
		waiting[id] = (m) => {
			if (method === 'eth_subscribe')
				tally.addKey(method, 'subscribe', m.error ? 'error' : 'ok',
					m.error ? String(m.error.code) : '', 'ws', 1, 0);
			else
				tally.add(method, m, 'ws', 1, 0);
			resolve(m);
		};
		ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
	});
	const sub = await call('eth_subscribe', ['newHeads']);
	for (let i = 0; i < mines; i++) {
		const want = pushes + 1;
		const pushed = new Promise((resolve) => { pushWaiter = () => pushes >= want && resolve(); });
		await call('evm_mine', []);
		await pushed;
	}
	for (let i = 0; i < calls; i++) await call('eth_blockNumber', []);
	await call('eth_unsubscribe', [sub.result]);
	ws.close();
	return pushes;
}

module.exports = { Tally, RawHttp, parseJson, wsSession };
