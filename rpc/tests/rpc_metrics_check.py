#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Checks vigil's Prometheus text (/metrics) against the clients' counts (rpc_expect.py keys):
# vigil_rpc_requests_total{method,status} and vigil_rpc_errors_total{method,code} must equal the
# sums the clients counted. Extra "method|status" or "method|code" pairs on the command line after
# --extra are added to what is expected (calls the clients' counts cannot express).
#   rpc_metrics_check.py METRICS.txt EXPECTED.json... [--extra KEY...]
import collections, json, re, sys

args = sys.argv[2:]
extra = []
if '--extra' in args:
    i = args.index('--extra')
    args, extra = args[:i], args[i + 1:]
want_req, want_err = collections.Counter(), collections.Counter()
for f in args:
    for k, v in json.load(open(f)).items():
        method, kind, status, code = k.split('|')[:4]
        if kind == 'notification':
            continue
        want_req[(method, status)] += v
        if code:
            want_err[(method, code)] += v
for e in extra:
    method, status = e.split('|')
    want_req[(method, status)] += 1
got_req, got_err = collections.Counter(), collections.Counter()
line_re = re.compile(r'^(\w+)\{(.*)\} (\S+)$')
for line in open(sys.argv[1]):
    m = line_re.match(line.strip())
    if not m:
        continue
    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
    v = float(m.group(3))
    if m.group(1) == 'vigil_rpc_requests_total' and v:
        got_req[(labels['method'], labels['status'])] += v
    elif m.group(1) == 'vigil_rpc_errors_total' and v:
        got_err[(labels['method'], labels['code'])] += v
bad = 0
for name, want, got in (('requests_total', want_req, got_req), ('errors_total', want_err, got_err)):
    for k in sorted(set(want) | set(got)):
        if want[k] != got[k]:
            print(f'{name}{k}: clients counted {want[k]}, metric says {got[k]}')
            bad = 1
    print(f'{name}: {len(want)} series expected, {sum(want.values())} calls')
sys.exit(bad)
