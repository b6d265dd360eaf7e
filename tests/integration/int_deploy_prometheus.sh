#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/prometheus with the real promtool (Debian's prometheus package): the scrape config and
# the alert rules are valid, the rules' unit tests pass (each alert firing and not firing), and
# the ConfigMap the Kubernetes base renders holds exactly these files.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
KUBECTL=${KUBECTL:-kubectl}

if ! command -v promtool >/dev/null; then
	skip promtool "promtool is not installed (scripts/deps installs prometheus)"
	exit 0
fi
check check_config promtool check config deploy/prometheus/prometheus.yml
check check_rules promtool check rules deploy/prometheus/alerts.rules.yml
check test_rules promtool test rules deploy/prometheus/tests/alerts.test.yml

# Every alert has a case where it fires and one where it stays silent.
check every_alert_tested "$PY" tests/integration/deploy_check.py alert-tests \
	deploy/prometheus/alerts.rules.yml deploy/prometheus/tests/alerts.test.yml

if command -v "$KUBECTL" >/dev/null; then
	"$KUBECTL" kustomize deploy/kubernetes/base >"$TMP/base.yaml" 2>"$TMP/base.err"
	check configmap_is_source "$PY" tests/integration/deploy_check.py configmap "$TMP/base.yaml" \
		prometheus-config deploy/prometheus/prometheus.yml deploy/prometheus/alerts.rules.yml
else
	skip configmap_is_source "kubectl is not installed"
fi
exit "$T_FAILED"
