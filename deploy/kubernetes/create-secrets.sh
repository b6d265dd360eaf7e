#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Creates, once, the two Secrets the manifests reference but never contain:
#   ethereum/engine-jwt     jwt.hex: the 32-byte Engine API secret geth and Prysm share
#   monitoring/grafana-admin password: the Grafana admin password (printed once)
# An existing Secret is left alone: regenerating the JWT while geth and Prysm run would cut
# Prysm off its execution client until both restart. Run it after the namespaces exist:
#   kubectl apply -k deploy/kubernetes/overlays/mainnet   # namespaces first (pods wait)
#   deploy/kubernetes/create-secrets.sh
set -euo pipefail
KUBECTL=${KUBECTL:-kubectl}

# create_secret <namespace> <name> <key> <value>: creates the Secret unless it exists
create_secret() {
	if "$KUBECTL" -n "$1" get secret "$2" >/dev/null 2>&1; then
		echo "secret $1/$2 exists, left unchanged"
		return 1
	fi
	# the value goes through stdin, never through the command line (ps would show it)
	printf '%s' "$4" | "$KUBECTL" -n "$1" create secret generic "$2" --from-file="$3"=/dev/stdin
	echo "secret $1/$2 created"
}

for ns in ethereum monitoring; do
	if ! "$KUBECTL" get namespace "$ns" >/dev/null 2>&1; then
		echo "create-secrets: namespace $ns does not exist: apply an overlay first" \
			"(kubectl apply -k deploy/kubernetes/overlays/mainnet)" >&2
		exit 1
	fi
done

create_secret ethereum engine-jwt jwt.hex "$(openssl rand -hex 32)" || true
password=$(openssl rand -base64 18)
if create_secret monitoring grafana-admin password "$password"; then
	echo "Grafana admin password: $password"
fi
