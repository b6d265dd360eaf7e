// SPDX-License-Identifier: GPL-2.0-only
// Helpers shared by the node clients of the rpc integration tests: a tally of the calls a client
// made, keyed the way rpc_expect.py keys vigil's events, and raw HTTP/1.1 JSON-RPC over one TCP
// socket (so the test knows every byte the server wrote).
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

module.exports = { Tally, RawHttp, parseJson };
