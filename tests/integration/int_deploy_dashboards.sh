#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/grafana: every dashboard is valid Grafana JSON on the provisioned datasource, every
# metric name a dashboard query or an alert rule uses is in deploy/METRICS.md (or a known
# geth/Prysm metric listed there), every query parses (promtool), and the ConfigMaps the
# Kubernetes base renders hold exactly the files in git.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
CHECK=tests/integration/deploy_check.py
KUBECTL=${KUBECTL:-kubectl}
dashboards=(deploy/grafana/dashboards/*.json)

check dashboards_present test ${#dashboards[@]} -ge 5
for d in "${dashboards[@]}"; do
	check "json_$(basename "$d" .json)" jq -e '.uid and .title and (.panels | length > 0)' "$d"
done
check metrics_in_contract "$PY" "$CHECK" metrics deploy/METRICS.md \
	deploy/prometheus/alerts.rules.yml "${dashboards[@]}" --emit-rules "$TMP/queries.yml"
if command -v promtool >/dev/null && [ -s "$TMP/queries.yml" ]; then
	check queries_parse promtool check rules "$TMP/queries.yml"
else
	skip queries_parse "promtool is not installed"
fi
# The contract itself: each component's metrics, written as the /metrics page the component
# must serve, pass promtool's linter (naming, _total on counters, units), and the scrape checker
# that the live tests use accepts that page and rejects it with one metric missing.
if command -v promtool >/dev/null; then
	for c in rpc watchdog peers mesh kaspa; do
		page="$TMP/contract_$c.prom"
		"$PY" "$CHECK" exposition deploy/METRICS.md "$c" >"$page"
		promtool check metrics <"$page" >"$page.lint" 2>&1
		check "contract_lint_$c" test ! -s "$page.lint"
		[ -s "$page.lint" ] && cat "$page.lint"
		check "scrape_check_accepts_$c" "$PY" "$CHECK" scrape deploy/METRICS.md "$c" "$page"
		# drop the first metric (its HELP, TYPE and samples): the checker must notice
		first=$(sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$page" | head -n 1)
		grep -v -E "^(# (HELP|TYPE) )?${first}([{ _]|$)" "$page" >"$page.cut"
		check "scrape_check_rejects_$c" \
			bash -c '! "$@"' _ "$PY" "$CHECK" scrape deploy/METRICS.md "$c" "$page.cut"
	done
else
	skip contract_lint "promtool is not installed"
fi
check datasource_uid grep -q '^ *uid: prometheus$' deploy/grafana/provisioning/datasources/prometheus.yaml

if command -v "$KUBECTL" >/dev/null; then
	"$KUBECTL" kustomize deploy/kubernetes/base >"$TMP/base.yaml" 2>"$TMP/base.err"
	check configmap_dashboards "$PY" "$CHECK" configmap "$TMP/base.yaml" grafana-dashboards \
		"${dashboards[@]}"
	check configmap_datasources "$PY" "$CHECK" configmap "$TMP/base.yaml" grafana-datasources \
		deploy/grafana/provisioning/datasources/prometheus.yaml
	check configmap_providers "$PY" "$CHECK" configmap "$TMP/base.yaml" \
		grafana-dashboard-providers deploy/grafana/provisioning/dashboards/vigil.yaml
else
	skip configmaps "kubectl is not installed"
fi
exit "$T_FAILED"
