// SPDX-License-Identifier: GPL-2.0-only
/*
 * A realistic request mix for bench/rpc/run: sets up state on a running ganache, then writes a
 * wrk Lua script that posts a fixed, shuffled sequence of JSON-RPC bodies to it.
 *
 *   node bench/rpc/mix.js URL LUA_FILE [--repeat N]
 *
 * Method weights: the method weights of Chainstack's chainbench Ethereum profile (their public
 * load-testing tool, weights derived from real provider traffic): eth_call 259,
 * eth_getTransactionReceipt 62, eth_blockNumber 49, eth_getBalance 31, eth_chainId 28,
 * eth_getBlockByNumber 23, eth_getTransactionByHash 20, and about 31 "others", split here into
 * eth_getLogs 10, eth_getCode 6, eth_getTransactionCount 6, eth_gasPrice 5, eth_estimateGas 4:
 * 503 bodies (times --repeat), in an order shuffled the same way every run (the addresses and
 * hashes in them are those of this ganache).
 *
 * State (ganache's unlocked accounts, eth_sendTransaction; ganache mines one block per
 * transaction): a hand-assembled ERC-20-like token whose balanceOf(address) hashes the holder
 * into its mapping slot (SHA3) and SLOADs it, as chainbench's eth_call (an ERC-20 balanceOf)
 * does on mainnet; mint(address,uint256) transactions that write those slots and emit ERC-20
 * Transfer logs; ordinary value transfers. The bodies query what was created: balanceOf of the
 * holders (most non-zero), receipts and transactions of those transactions, their blocks, logs
 * over ranges of 8 blocks, balances, code, nonces, gas estimates of a mint and of a transfer.
 *
 * Every body is then sent once, in order, and must be answered without a JSON-RPC error (and
 * with a non-null result): otherwise the script fails. It prints one line: bodies and
 * per-method counts.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const { ethers } = require('ethers');

const args = process.argv.slice(2);
const [url, luaFile] = args;
if (!url || !luaFile) {
	console.error('usage: mix.js URL LUA_FILE [--repeat N]');
	process.exit(2);
}
const ri = args.indexOf('--repeat');
const repeat = ri > 0 ? Number(args[ri + 1]) : 1;

// the chainbench Ethereum profile's weights; "others" (about 31) split over five methods
const WEIGHTS = {
	eth_call: 259, eth_getTransactionReceipt: 62, eth_blockNumber: 49, eth_getBalance: 31,
	eth_chainId: 28, eth_getBlockByNumber: 23, eth_getTransactionByHash: 20,
	eth_getLogs: 10, eth_getCode: 6, eth_getTransactionCount: 6, eth_gasPrice: 5,
	eth_estimateGas: 4,
};
const SEL_BALANCE_OF = '70a08231'; // balanceOf(address)
const SEL_MINT = '40c10f19'; // mint(address,uint256)
const TRANSFER_TOPIC = ethers.id('Transfer(address,address,uint256)');

/*
 * A tiny assembler: tokens are opcode names, "PUSHn 0x..", "@label" (a JUMPDEST) and ":label"
 * (PUSH2 of the label's offset). Returns the bytecode as hex without 0x.
 */
const OPS = {
	STOP: 0x00, ADD: 0x01, EQ: 0x14, SHR: 0x1c, SHA3: 0x20, CALLDATALOAD: 0x35,
	CODECOPY: 0x39, POP: 0x50, MSTORE: 0x52, SLOAD: 0x54, SSTORE: 0x55, JUMPI: 0x57,
	JUMPDEST: 0x5b, DUP1: 0x80, DUP2: 0x81, SWAP1: 0x90, LOG3: 0xa3, RETURN: 0xf3,
	REVERT: 0xfd,
};
function assemble(src) {
	const toks = src.trim().split(/\s+/);
	const labels = {};
	const emit = (resolve) => {
		const out = [];
		for (let i = 0; i < toks.length; i++) {
			const t = toks[i];
			if (t[0] === '@') {
				labels[t.slice(1)] = out.length;
				out.push(OPS.JUMPDEST);
			} else if (t[0] === ':') {
				const v = resolve ? labels[t.slice(1)] : 0;
				out.push(0x61, v >> 8, v & 0xff);
			} else if (/^PUSH\d+$/.test(t)) {
				const n = Number(t.slice(4));
				const hex = toks[++i].replace(/^0x/, '').padStart(2 * n, '0');
				out.push(0x5f + n, ...Buffer.from(hex, 'hex'));
			} else if (t in OPS) {
				out.push(OPS[t]);
			} else {
				throw new Error(`mix.js: unknown opcode ${t}`);
			}
		}
		return out;
	};
	emit(false);
	return Buffer.from(emit(true)).toString('hex');
}

// balances live at keccak256(holder . 0), as Solidity lays out a mapping in slot 0
const RUNTIME = assemble(`
	PUSH1 0 CALLDATALOAD PUSH1 0xe0 SHR
	DUP1 PUSH4 0x${SEL_BALANCE_OF} EQ :balanceOf JUMPI
	PUSH4 0x${SEL_MINT} EQ :mint JUMPI
	PUSH1 0 DUP1 REVERT
	@balanceOf POP
	PUSH1 4 CALLDATALOAD PUSH1 0 MSTORE PUSH1 0x40 PUSH1 0 SHA3 SLOAD
	PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN
	@mint
	PUSH1 0x24 CALLDATALOAD
	PUSH1 4 CALLDATALOAD PUSH1 0 MSTORE PUSH1 0x40 PUSH1 0 SHA3
	DUP2 DUP2 SLOAD ADD SWAP1 SSTORE
	PUSH1 0 MSTORE
	PUSH1 4 CALLDATALOAD PUSH1 0 PUSH32 ${TRANSFER_TOPIC} PUSH1 0x20 PUSH1 0 LOG3
	STOP`);
// init code: copy the runtime that follows it to memory and return it
const INIT = '0x' + assemble(`PUSH1 0x${(RUNTIME.length / 2).toString(16)} DUP1 PUSH1 0x0b
	PUSH1 0 CODECOPY PUSH1 0 RETURN`) + RUNTIME;

const word = (hex) => hex.replace(/^0x/, '').toLowerCase().padStart(64, '0');
const qty = (n) => '0x' + BigInt(n).toString(16);

// numbers in [0, 1) from SHA-256 of a counter: the same sequence every run
let draws = 0;
const rand = () => crypto.createHash('sha256').update(`bench/rpc/mix.js ${draws++}`).digest()
	.readUInt32BE(0) / 2 ** 32;

async function main() {
	const network = ethers.Network.from(1337);
	const p = new ethers.JsonRpcProvider(url, network,
		{ staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
	const accounts = await p.send('eth_accounts', []);
	const send = async (tx) => {
		const hash = await p.send('eth_sendTransaction', [tx]);
		// ganache mines before it answers; anvil a moment after: wait up to 5 s
		let r = null;
		for (let i = 0; i < 250 && !r; i++) {
			r = await p.send('eth_getTransactionReceipt', [hash]);
			if (!r)
				await new Promise((res) => setTimeout(res, 20));
		}
		if (!r || r.status !== '0x1')
			throw new Error(`mix.js: transaction ${hash} failed: ${JSON.stringify(r)}`);
		return r;
	};

	const deploy = await send({ from: accounts[0], data: INIT, gas: qty(200000) });
	const token = deploy.contractAddress;
	// holders: the accounts and 22 fresh addresses; 24 of the 32 get tokens
	const holders = accounts.slice();
	for (let i = 0; holders.length < 32; i++)
		holders.push(ethers.getAddress(ethers.keccak256(ethers.toUtf8Bytes(`holder ${i}`))
			.slice(0, 42)));
	const txs = [deploy];
	for (let i = 0; i < 24; i++) {
		const data = '0x' + SEL_MINT + word(holders[(i * 5) % 32]) + word(qty(1000 + i));
		txs.push(await send({ from: accounts[i % accounts.length], to: token, data,
			gas: qty(100000) }));
	}
	for (let i = 0; i < 24; i++)
		txs.push(await send({ from: accounts[i % accounts.length],
			to: holders[(i * 7 + 3) % 32], value: qty(1e15 + i) }));
	const head = parseInt(await p.send('eth_blockNumber', []), 16);

	const pick = (a) => a[Math.floor(rand() * a.length)];
	const mint = '0x' + SEL_MINT + word(holders[1]) + word(qty(5));
	const make = {
		eth_call: () => [{ to: token, data: '0x' + SEL_BALANCE_OF + word(pick(holders)) },
			'latest'],
		eth_getTransactionReceipt: () => [pick(txs).transactionHash],
		eth_blockNumber: () => [],
		eth_getBalance: () => [pick(holders), 'latest'],
		eth_chainId: () => [],
		eth_getBlockByNumber: () => [rand() < 0.5 ? 'latest'
			: qty(1 + Math.floor(rand() * head)), false],
		eth_getTransactionByHash: () => [pick(txs).transactionHash],
		eth_getLogs: () => {
			const from = 1 + Math.floor(rand() * (head - 7));
			return [{ address: token, fromBlock: qty(from), toBlock: qty(from + 7),
				topics: [TRANSFER_TOPIC] }];
		},
		eth_getCode: () => [rand() < 0.5 ? token : pick(holders), 'latest'],
		eth_getTransactionCount: () => [pick(accounts), 'latest'],
		eth_gasPrice: () => [],
		eth_estimateGas: () => [rand() < 0.5 ? { from: accounts[1], to: token, data: mint }
			: { from: accounts[1], to: accounts[2], value: qty(1) }],
	};
	const bodies = [];
	for (let r = 0; r < repeat; r++)
		for (const [method, w] of Object.entries(WEIGHTS))
			for (let i = 0; i < w; i++)
				bodies.push({ method, params: make[method]() });
	for (let i = bodies.length - 1; i > 0; i--) {
		const j = Math.floor(rand() * (i + 1));
		[bodies[i], bodies[j]] = [bodies[j], bodies[i]];
	}
	const text = bodies.map((b, i) => JSON.stringify({ jsonrpc: '2.0', id: i + 1,
		method: b.method, params: b.params }));

	// once through: every body must succeed
	let nonZero = 0;
	for (const t of text) {
		const res = await fetch(url, { method: 'POST', body: t,
			headers: { 'Content-Type': 'application/json' } });
		const j = await res.json();
		if (j.error || j.result === null || j.result === undefined)
			throw new Error(`mix.js: ${t} answered ${JSON.stringify(j)}`);
		if (JSON.parse(t).method === 'eth_call' && BigInt(j.result) !== 0n)
			nonZero++;
	}

	const lua = [
		'-- generated by bench/rpc/mix.js: JSON-RPC bodies posted in this order, cycled',
		'wrk.method = "POST"',
		'wrk.headers["Content-Type"] = "application/json"',
		'local bodies = {',
		...text.map((t) => `\t${JSON.stringify(t)},`),
		'}',
		'local reqs, n = {}, 0',
		'function init(args)',
		'\tfor i, b in ipairs(bodies) do reqs[i] = wrk.format(nil, "/", nil, b) end',
		'end',
		'function request()',
		'\tn = n % #reqs + 1',
		'\treturn reqs[n]',
		'end',
		'',
	];
	fs.writeFileSync(luaFile, lua.join('\n'));
	const counts = Object.keys(WEIGHTS).map((m) => `${m} ${bodies.filter((b) => b.method === m)
		.length}`);
	console.log(`mix: ${text.length} bodies (${counts.join(', ')}); ${head} blocks, ` +
		`${txs.length} transactions; ${nonZero} of ${WEIGHTS.eth_call * repeat} eth_call ` +
		'balances non-zero');
}

main().catch((e) => {
	console.error(e.message);
	process.exit(1);
});
