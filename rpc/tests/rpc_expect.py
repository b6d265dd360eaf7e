#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Compares the calls vigil reported (JSON Lines from --jsonl, subject <app>.jsonrpc.requests) with
# the counts the clients kept themselves (JSON objects key -> count, summed over all files given).
# A key is method|kind|status|error_code|transport|batch_size|batch_index. Prints each difference
# and exits 1 when there is one.
#   rpc_expect.py EVENTS.jsonl [--port P] EXPECTED.json...
import collections, json, sys

args = sys.argv[1:]
events, port = args.pop(0), None
if args and args[0] == '--port':
    port = int(args[1])
    args = args[2:]
want = collections.Counter()
for f in args:
    for k, v in json.load(open(f)).items():
        want[k] += v
got = collections.Counter()
for line in open(events):
    r = json.loads(line)
    if not r['subject'].endswith('.jsonrpc.requests'):
        continue
    e = r['event']
    if port is not None and e['server_port'] != port:
        continue
    code = '' if e['error_code'] is None else str(e['error_code'])
    got['|'.join(str(x) for x in (e['method'], e['kind'], e['status'], code, e['transport'],
                                  e['batch_size'], e['batch_index']))] += 1
bad = 0
for k in sorted(set(want) | set(got)):
    if want[k] != got[k]:
        print(f'{k}: client counted {want[k]}, vigil reported {got[k]}')
        bad = 1
print(f'{sum(want.values())} calls expected, {sum(got.values())} reported, '
      f'{len(want)} distinct keys')
sys.exit(bad)
