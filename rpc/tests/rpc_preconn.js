// SPDX-License-Identifier: GPL-2.0-only
// A keep-alive connection opened (and used once) before vigil starts: connects, makes one
// eth_syncing call, prints "ready", waits until the file GO exists, then makes N eth_mining
// calls on the same socket and writes its counts to OUT (see rpc_expect.py).
// usage: node rpc_preconn.js PORT GO N OUT
'use strict';
const fs = require('fs');
const { Tally, RawHttp, parseJson } = require('./rpc_lib.js');

const [port, go, n, out] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]),
	process.argv[5]];
(async () => {
	const c = await new RawHttp(port).connect();
	await c.request(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'eth_syncing' }));
	console.log(`ready 127.0.0.1:${c.localPort()}`);
	while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 50));
	const t = new Tally();
	for (let i = 1; i <= n; i++) {
		const r = await c.request(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'eth_mining' }));
		t.add('eth_mining', parseJson(r.body), 'http', 1, 0);
	}
	t.write(out);
	c.close();
	process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
