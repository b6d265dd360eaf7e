// SPDX-License-Identifier: GPL-2.0-only
// A small JSON-RPC server on node's own HTTP stack whose responses are gzip-compressed and sent
// with chunked transfer encoding (ganache never compresses). gz_fail answers an error -32602;
// any other method a large, compressible result.
// usage: node rpc_gzip_server.js PORT
'use strict';
const http = require('http');
const zlib = require('zlib');

http.createServer((req, res) => {
	const parts = [];
	req.on('data', (d) => parts.push(d));
	req.on('end', () => {
		let m;
		try { m = JSON.parse(Buffer.concat(parts).toString()); } catch (e) { m = { id: null }; }
		const out = m.method === 'gz_fail'
			? { jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'invalid params' } }
			: { jsonrpc: '2.0', id: m.id, result: '0x' + 'ab'.repeat(30000) };
		res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
		const z = zlib.gzipSync(JSON.stringify(out));
		/* two writes: node sends them as two chunks */
		res.write(z.subarray(0, z.length >> 1));
		res.end(z.subarray(z.length >> 1));
	});
}).listen(Number(process.argv[2]), '127.0.0.1');
