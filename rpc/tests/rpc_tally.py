#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# The client's own counts of curl calls: reads "REQUEST<TAB>RESPONSE" lines (JSON-RPC, single or
# batch) and prints a JSON object key -> count keyed like rpc_expect.py (transport http).
import collections, json, sys

counts = collections.Counter()
for line in sys.stdin:
    q, r = line.rstrip('\n').split('\t', 1)
    req, resp = json.loads(q), json.loads(r)
    batch = isinstance(req, list)
    reqs = req if batch else [req]
    by_id = {x.get('id'): x for x in (resp if isinstance(resp, list) else [resp])}
    for i, item in enumerate(reqs):
        x = by_id.get(item.get('id'), {})
        if 'error' in x:
            status, code = 'error', str(x['error']['code'])
        else:
            status, code = ('ok' if 'result' in x else 'unknown'), ''
        counts['|'.join([item['method'], 'call', status, code, 'http',
                         str(len(reqs) if batch else 1), str(i if batch else 0)])] += 1
print(json.dumps(counts))
