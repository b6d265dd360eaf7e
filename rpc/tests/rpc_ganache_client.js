// SPDX-License-Identifier: GPL-2.0-only
// The client side of int_rpc_ganache.sh: drives a real ganache with ethers, the ws package and
// raw HTTP, and writes what it sent and what came back (its own ground truth) to OUTDIR:
//   expected.json  key -> count (see rpc_expect.py) of every call made
//   facts.json     figures the test checks one by one (big response bytes, client ports, ...)
// usage: node rpc_ganache_client.js GANACHE_PORT GZIP_PORT OUTDIR
'use strict';
const http = require('http');
const zlib = require('zlib');
const { ethers } = require('ethers');
const { Tally, RawHttp, parseJson, wsSession } = require('./rpc_lib.js');

const [port, gzPort] = process.argv.slice(2, 4).map(Number);
const outdir = process.argv[4];
const url = `http://127.0.0.1:${port}`;
const tally = new Tally();
const facts = {};

// Every payload ethers puts on the wire goes through _send: count it with its response.
class CountingProvider extends ethers.JsonRpcProvider {
	async _send(payload) {
		const res = await super._send(payload);
		const items = Array.isArray(payload) ? payload : [payload];
		items.forEach((p, i) => {
			const r = res.find((x) => x.id === p.id) || null;
			tally.add(p.method, r, 'http', items.length, Array.isArray(payload) ? i : 0);
		});
		return res;
	}
}

async function phaseEthers() {
	const network = ethers.Network.from(1337);
	const p = new CountingProvider(url, network, { staticNetwork: network, batchMaxCount: 1 });
	const accounts = await p.send('eth_accounts', []);
	for (let i = 0; i < 20; i++) await p.getBlockNumber();
	for (let i = 0; i < 15; i++) await p.getBalance(accounts[i % 2]);
	for (let i = 0; i < 10; i++) await p.getTransactionCount(accounts[0]);
	const signer = await p.getSigner(accounts[0]);
	// a contract whose code always reverts: PUSH1 0 PUSH1 0 REVERT, behind a 12-byte constructor
	const init = '0x6005600c60003960056000f3' + '60006000fd';
	const hash = await signer.sendUncheckedTransaction({ data: init, gasLimit: 100000 });
	let rcpt = null;
	while (!rcpt) rcpt = await p.getTransactionReceipt(hash);
	facts.reverter = rcpt.contractAddress;
	for (let i = 0; i < 3; i++) {
		try { await p.call({ to: rcpt.contractAddress, data: '0x12345678' }); } catch (e) { }
	}
	for (let i = 0; i < 4; i++) await p.getCode(rcpt.contractAddress);
	// batches: ethers packs concurrent calls into one JSON array
	const b = new CountingProvider(url, network, { staticNetwork: network, batchMaxCount: 7,
		batchStallTime: 50 });
	for (let round = 0; round < 3; round++) {
		const calls = [];
		for (let i = 0; i < 7; i++) calls.push(b.send('eth_getBlockByNumber', ['latest', false]));
		await Promise.all(calls);
	}
	p.destroy();
	b.destroy();
}

// WebSocket on the same port (rpc_lib.js wsSession): 6 blocks mined and pushed, 5 plain calls.
async function phaseWs() {
	facts.ws_pushes = await wsSession(port, tally, 6, 5);
}

// ethers' own WebSocketProvider: a 'block' listener (eth_subscribe newHeads), blocks mined
// through it, plain calls; every payload and push counted where ethers handles it.
class CountingWsProvider extends ethers.WebSocketProvider {
	async _send(payload) {
		const res = await super._send(payload);
		const items = Array.isArray(payload) ? payload : [payload];
		items.forEach((p) => {
			const r = res.find((x) => x.id === p.id) || null;
			if (p.method === 'eth_subscribe')
				tally.addKey(p.method, 'subscribe', r && r.error ? 'error' : 'ok',
					r && r.error ? String(r.error.code) : '', 'ws', 1, 0);
			else
				tally.add(p.method, r, 'ws', 1, 0);
		});
		return res;
	}
	async _processMessage(message) {
		if (JSON.parse(message).method === 'eth_subscription')
			tally.addKey('eth_subscription', 'notification', 'ok', '', 'ws', 1, 0);
		return super._processMessage(message);
	}
}

async function phaseEthersWs() {
	const network = ethers.Network.from(1337);
	const p = new CountingWsProvider(`ws://127.0.0.1:${port}`, network, { staticNetwork: network });
	let blocks = 0;
	await p.on('block', () => blocks++);
	for (let i = 0; i < 3; i++) {
		const want = blocks + 1;
		await p.send('evm_mine', []);
		while (blocks < want) await new Promise((r) => setTimeout(r, 20));
	}
	for (let i = 0; i < 5; i++)
		await p.send('eth_getStorageAt', [ethers.ZeroAddress, '0x0', 'latest']);
	facts.ethers_ws_blocks = blocks;
	await p.destroy();
}

// A response of several MB: eth_call of init code that returns 2 MiB of zeros (4 MiB of hex).
async function phaseBig() {
	const c = await new RawHttp(port).connect();
	const body = JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'eth_call',
		params: [{ data: '0x622000006000f3', gas: '0x7fffffff' }, 'latest'] });
	const r = await c.request(body);
	const j = parseJson(r.body);
	tally.add('eth_call', j, 'http', 1, 0);
	facts.big_resp_bytes = r.bytes;
	facts.big_req_bytes = c.lastReqBytes;
	facts.big_result_len = j && j.result ? j.result.length : 0;
	c.close();
}

// A gzip server (rpc_gzip_server.js): every response is gzip with chunked transfer encoding.
async function phaseGzip() {
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	const one = (method) => new Promise((resolve, reject) => {
		const body = JSON.stringify({ jsonrpc: '2.0', id: 5, method, params: [] });
		const req = http.request({ host: '127.0.0.1', port: gzPort, method: 'POST', agent,
			headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' } },
		(res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => {
				facts.gzip_encoding = res.headers['content-encoding'];
				resolve(JSON.parse(zlib.gunzipSync(Buffer.concat(parts)).toString()));
			});
		});
		req.on('error', reject);
		req.end(body);
	});
	for (let i = 0; i < 9; i++) {
		const method = i % 3 === 2 ? 'gz_fail' : 'gz_fetch';
		tally.add(method, await one(method), 'http', 1, 0);
	}
	agent.destroy();
}

// Hundreds of requests on one keep-alive connection.
async function phaseKeepAlive() {
	const c = await new RawHttp(port).connect();
	for (let i = 0; i < 400; i++) {
		const r = await c.request(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'eth_gasPrice' }));
		tally.add('eth_gasPrice', parseJson(r.body), 'http', 1, 0);
	}
	facts.keepalive_client = `127.0.0.1:${c.localPort()}`;
	c.close();
}

// Pipelining: 50 requests in one write, then the 50 responses read in order.
async function phasePipelined() {
	const c = await new RawHttp(port).connect();
	const N = 50;
	let reqs = '';
	for (let i = 0; i < N; i++) {
		const body = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'web3_sha3',
			params: ['0x' + i.toString(16).padStart(2, '0')] });
		reqs += `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
			`Content-Length: ${body.length}\r\n\r\n${body}`;
	}
	c.sock.write(reqs);
	for (let i = 0; i < N; i++) {
		const r = await new Promise((resolve) => { c.waiter = resolve; c.pump(); });
		tally.add('web3_sha3', parseJson(r.body), 'http', 1, 0);
	}
	facts.pipelined_client = `127.0.0.1:${c.localPort()}`;
	c.close();
}

// 1,000 connections open at once, one call each.
async function phaseThousand() {
	const N = 1000;
	const conns = [];
	for (let i = 0; i < N; i++) conns.push(new RawHttp(port).connect());
	const cs = await Promise.all(conns);
	const rs = await Promise.all(cs.map((c, i) => c.request(JSON.stringify({ jsonrpc: '2.0',
		id: i, method: 'eth_coinbase' }))));
	rs.forEach((r) => tally.add('eth_coinbase', parseJson(r.body), 'http', 1, 0));
	facts.thousand_ports = new Set(cs.map((c) => c.localPort())).size;
	cs.forEach((c) => c.close());
}

(async () => {
	const t0 = Date.now();
	for (const phase of [phaseEthers, phaseWs, phaseEthersWs, phaseBig, phaseGzip, phaseKeepAlive,
		phasePipelined, phaseThousand]) {
		await phase();
		console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${phase.name} done`);
	}
	tally.write(`${outdir}/expected.json`);
	require('fs').writeFileSync(`${outdir}/facts.json`, JSON.stringify(facts) + '\n');
	process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
