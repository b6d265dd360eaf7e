#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Kubernetes deployment of deploy/, offline: yamllint on every YAML file, `kubectl
# kustomize` of the base and every overlay, every rendered object deserialized into its typed
# model (python3-kubernetes), and the security and wiring invariants of deploy/README.md
# (NetworkPolicies, securityContext, the vigil node agent's capabilities, the JWT Secret), and
# every vigil command line against `build/vigil ... --help` (deploy_check.py vigil-flags).
# KUBECTL selects another kubectl (for example Debian's 1.20 one, whose kustomize is v2).
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
CHECK=tests/integration/deploy_check.py
KUBECTL=${KUBECTL:-kubectl}
bin=${VIGIL_BUILD:-build}/vigil

if command -v yamllint >/dev/null; then
	check yamllint yamllint -s -c deploy/.yamllint.yaml deploy/
else
	skip yamllint "yamllint is not installed (scripts/deps installs it)"
fi

if ! command -v "$KUBECTL" >/dev/null; then
	skip kustomize "kubectl is not installed (scripts/deps installs kubernetes-client)"
	exit 0
fi
have_models=1
if ! "$PY" -c 'import kubernetes.client.models' 2>/dev/null; then
	have_models=0
	skip schema "python3-kubernetes is not installed (scripts/deps installs it)"
fi

for dir in deploy/kubernetes/base deploy/kubernetes/overlays/*; do
	name=$(basename "$dir")
	out="$TMP/$name.yaml"
	# kustomize prints deprecation warnings ("bases", "patchesJson6902") on stderr: the
	# manifests keep the old fields so that the kustomize of kubectl 1.20 renders them too
	if ! "$KUBECTL" kustomize "$dir" >"$out" 2>"$TMP/$name.err"; then
		fail "kustomize_$name" "$(tail -n 3 "$TMP/$name.err" | tr '\n' ' ')"
		continue
	fi
	check "kustomize_$name" test -s "$out"
	[ $have_models -eq 1 ] && check "schema_$name" "$PY" "$CHECK" schema "$out"
	check "invariants_$name" "$PY" "$CHECK" invariants "$out" deploy/README.md
	if [ -x "$bin" ]; then
		check "vigil_flags_$name" "$PY" "$CHECK" vigil-flags "$bin" deploy/docker/Dockerfile "$out"
	else
		fail "vigil_flags_$name" "$bin is not built: run make"
	fi
done

# The mainnet overlay's choices: storage class on every volume, mainnet volume sizes.
mainnet="$TMP/mainnet.yaml"
if [ -s "$mainnet" ]; then
	check mainnet_storage_class test "$(grep -c 'storageClassName: fast-ssd' "$mainnet")" -eq 3
	check mainnet_geth_volume grep -q 'storage: 1Ti' "$mainnet"
	check mainnet_prysm_volume grep -q 'storage: 500Gi' "$mainnet"
fi
exit "$T_FAILED"
