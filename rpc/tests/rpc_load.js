// SPDX-License-Identifier: GPL-2.0-only
// Generated JSON-RPC traffic on one keep-alive connection (rpc_lib.js RawHttp), counted by the
// client itself (written to OUT as rpc_expect.py keys).
//   node rpc_load.js PORT OUT garbage N      N calls, each with a new random method name
//   node rpc_load.js PORT OUT spike          steady eth_blockNumber + eth_getBalance, a burst of
//                                            eth_blockNumber, steady, a burst of failing
//                                            eth_getBalance calls, steady (about 10 s)
//   node rpc_load.js PORT OUT bodies N FILE C  every line of FILE (a JSON-RPC body, single or
//                                            batch) posted N times over C connections at once,
//                                            every item of a batch counted
//   node rpc_load.js PORT OUT ws N           a WebSocket session (rpc_lib.js wsSession): N blocks
//                                            mined and pushed, 5 eth_blockNumber calls; prints
//                                            the pushes received
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const { Tally, RawHttp, parseJson, wsSession } = require('./rpc_lib.js');

const [port, out, mode, n] = [Number(process.argv[2]), process.argv[3], process.argv[4],
	Number(process.argv[5] || 0)];
const tally = new Tally();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ADDR = '0x' + '11'.repeat(20);

(async () => {
	const c = await new RawHttp(port).connect();
	let id = 0;
	const call = async (method, params) => {
		const r = await c.request(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }));
		tally.add(method, parseJson(r.body), 'http', 1, 0);
	};
	// per 100 ms: one eth_blockNumber and 3 good eth_getBalance (10/s and 30/s); bad: 3 more
	// eth_getBalance calls that fail (invalid params)
	const steady = async (ms, bad) => {
		for (const end = Date.now() + ms; Date.now() < end;) {
			const t = Date.now();
			await call('eth_blockNumber', []);
			for (let i = 0; i < 3; i++) await call('eth_getBalance', [ADDR, 'latest']);
			for (let i = 0; bad && i < 3; i++) await call('eth_getBalance', []);
			await sleep(Math.max(0, 100 - (Date.now() - t)));
		}
	};
	if (mode === 'garbage') {
		for (let i = 0; i < n; i++)
			await call('garbage_' + crypto.randomBytes(6).toString('hex'), []);
	} else if (mode === 'bodies') {
		const bodies = fs.readFileSync(process.argv[6], 'utf8').split('\n').filter(Boolean);
		const conns = [c];
		for (let i = 1; i < Number(process.argv[7] || 1); i++)
			conns.push(await new RawHttp(port).connect());
		const queue = [];
		for (let i = 0; i < n; i++)
			queue.push(...bodies);
		let next = 0;
		await Promise.all(conns.map(async (k) => {
			while (next < queue.length) {
				const body = queue[next++], req = JSON.parse(body);
				const resp = parseJson((await k.request(body)).body);
				const items = Array.isArray(req) ? req : [req];
				items.forEach((it, i) => {
					const r = Array.isArray(resp) ? resp.find((x) => x.id === it.id) : resp;
					tally.add(it.method, r || null, 'http', items.length,
						  Array.isArray(req) ? i : 0);
				});
			}
		}));
		conns.slice(1).forEach((k) => k.close());
	} else if (mode === 'ws') {
		console.log(`pushes ${await wsSession(port, tally, n, 5)}`);
	} else if (mode === 'spike') {
		await steady(3500, false);
		for (let i = 0; i < 400; i++) await call('eth_blockNumber', []);
		await steady(2500, false);
		await steady(1000, true);
		await steady(2500, false);
	}
	c.close();
	tally.write(out);
	process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
