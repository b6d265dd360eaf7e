// SPDX-License-Identifier: GPL-2.0-only
/*
 * Traffic for `make demo` (scripts/demo): drives a JSON-RPC node with ethers, the way a dapp or
 * an indexer would, so `vigil rpc top` has something to show.
 *
 *   node scripts/demo-traffic.js URL [--rate CALLS_PER_S] [--counts FILE]
 *
 * The mix, per tick of four workers: eth_blockNumber (most), eth_getBalance, eth_call on a tiny
 * contract deployed at start (returns 42), eth_chainId, a JSON-RPC batch of three now and then,
 * an unknown method now and then (the node answers with an error), and a value transfer every
 * few seconds so blocks get mined. The provider has a static network and batchMaxCount 1, so
 * ethers sends exactly the calls counted here; on SIGINT/SIGTERM (or with --counts, every
 * second) the client-side count per method is written as JSON.
 */
'use strict';
const fs = require('fs');
const { ethers } = require('ethers');

const args = process.argv.slice(2);
const url = args[0];
if (!url) {
	console.error('usage: demo-traffic.js URL [--rate CALLS_PER_S] [--counts FILE]');
	process.exit(2);
}
const opt = (name, def) => {
	const i = args.indexOf(name);
	return i > 0 && i + 1 < args.length ? args[i + 1] : def;
};
const rate = Number(opt('--rate', '100'));
const countsFile = opt('--counts', null);

// ganache --wallet.deterministic: the first two accounts of its fixed mnemonic
const KEY0 = '0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d';
const ADDR1 = '0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0';
// init code deploying code that returns 42 (PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN)
const INIT = '0x69602a60005260206000f3600052600a6016f3';

const counts = {};
const count = (m, n = 1) => { counts[m] = (counts[m] || 0) + n; };
let stopping = false;

function dump() {
	const s = JSON.stringify(counts) + '\n';
	if (countsFile)
		fs.writeFileSync(countsFile, s);
	else
		process.stderr.write(s);
}

async function main() {
	const network = new ethers.Network('ganache', 1337n);
	const provider = new ethers.JsonRpcProvider(url, network,
		{ staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1, polling: false });
	const wallet = new ethers.Wallet(KEY0, provider);
	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

	// Wait for the node, then deploy the contract eth_call will use.
	for (let i = 0; ; i++) {
		try {
			count('eth_chainId');
			await provider.send('eth_chainId', []);
			break;
		} catch (e) {
			if (i > 100)
				throw new Error(`node at ${url} does not answer: ${e.message}`);
			await sleep(200);
		}
	}
	const deployHash = await rawTx(provider, wallet, { data: INIT });
	let contract = null;
	while (!contract) {
		count('eth_getTransactionReceipt');
		const r = await provider.send('eth_getTransactionReceipt', [deployHash]);
		if (r && r.contractAddress)
			contract = r.contractAddress;
		else
			await sleep(100);
	}

	let lastTx = Date.now();
	const step = async () => {
		const p = Math.random();
		if (p < 0.40) {
			count('eth_blockNumber');
			await provider.send('eth_blockNumber', []);
		} else if (p < 0.60) {
			count('eth_getBalance');
			await provider.send('eth_getBalance', [ADDR1, 'latest']);
		} else if (p < 0.80) {
			count('eth_call');
			await provider.send('eth_call', [{ to: contract, data: '0x' }, 'latest']);
		} else if (p < 0.90) {
			count('eth_chainId');
			await provider.send('eth_chainId', []);
		} else if (p < 0.95) {
			// a batch: ethers sends an array payload in one HTTP request
			count('eth_blockNumber');
			count('eth_gasPrice');
			count('net_version');
			await provider._send([
				{ jsonrpc: '2.0', id: 1001, method: 'eth_blockNumber', params: [] },
				{ jsonrpc: '2.0', id: 1002, method: 'eth_gasPrice', params: [] },
				{ jsonrpc: '2.0', id: 1003, method: 'net_version', params: [] },
			]);
		} else {
			count('vigil_noSuchMethod');
			await provider.send('vigil_noSuchMethod', []).catch(() => {});
		}
		if (Date.now() - lastTx > 2000) {
			lastTx = Date.now();
			await rawTx(provider, wallet, { to: ADDR1, value: 1000n });
		}
	};

	const workers = 4;
	const gap = (1000 * workers) / rate;
	const worker = async () => {
		while (!stopping) {
			const t0 = Date.now();
			await step().catch((e) => console.error(`demo-traffic: ${e.message}`));
			const left = gap - (Date.now() - t0);
			await sleep(left > 0 ? left * (0.5 + Math.random()) : 0);
		}
	};
	if (countsFile)
		setInterval(dump, 1000).unref();
	await Promise.all(Array.from({ length: workers }, worker));
}

// A signed transfer, nonce and gas set here so the calls ethers makes are the ones counted.
let nonce = null;
async function rawTx(provider, wallet, tx) {
	if (nonce === null) {
		count('eth_getTransactionCount');
		nonce = parseInt(await provider.send('eth_getTransactionCount', [wallet.address, 'pending']), 16);
	}
	const signed = await wallet.signTransaction({
		...tx, nonce: nonce++, chainId: 1337n, gasLimit: 100000n, gasPrice: 2000000000n, type: 0,
	});
	count('eth_sendRawTransaction');
	return provider.send('eth_sendRawTransaction', [signed]);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
	process.on(sig, () => {
		stopping = true;
		dump();
		process.exit(0);
	});
}
main().catch((e) => {
	console.error(`demo-traffic: ${e.message}`);
	dump();
	process.exit(1);
});
