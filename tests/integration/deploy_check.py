#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Offline checks of deploy/ used by tests/integration/int_deploy_*.sh.

  deploy_check.py schema RENDERED.yaml
      Deserializes every object of a `kubectl kustomize` output into its typed model of the
      Kubernetes Python client (python3-kubernetes): an unknown field, a wrong type or a missing
      required field is an error.
  deploy_check.py invariants RENDERED.yaml README.md
      The security and wiring promises of deploy/README.md, asserted on the rendered objects:
      NetworkPolicies (geth 8551 only from Prysm, 8545 only from vigil peers, metrics only from
      Prometheus), securityContext (non-root, read-only root, no capabilities; the vigil node
      agent's capabilities exactly the table in the README), the JWT Secret, probes, resources,
      and references the API server or kubelet would reject (duplicate or invalid port names,
      undeclared volumes, named ports that do not exist, selectors that select nothing).
  deploy_check.py metrics METRICS.md RULES.yml DASHBOARD.json... [--emit-rules OUT]
      Every metric name a dashboard query or an alert rule uses is listed in METRICS.md, and
      every label it matches, groups by or shows (legend, annotation) is one of that metric's
      listed labels (or job/instance/le); dashboards are well-formed Grafana JSON.
      --emit-rules writes every dashboard query as a recording rule so that
      `promtool check rules` can parse them.
  deploy_check.py configmap RENDERED.yaml NAME FILE...
      The rendered ConfigMap NAME (with or without its hash suffix) holds exactly FILE...,
      byte for byte: the deployed files are the tested files.
  deploy_check.py exposition METRICS.md COMPONENT
      Prints a sample /metrics page with every metric METRICS.md assigns to COMPONENT (rpc,
      watchdog, peers, mesh, kaspa): `promtool check metrics` lints the contract with it.
  deploy_check.py scrape METRICS.md COMPONENT FILE|URL
      A real scrape of COMPONENT exports every metric METRICS.md assigns to it, with the
      documented type and labels (for the test against live components).
  deploy_check.py live METRICS.md RULES.yml DASHBOARD.json... --scrape COMPONENT=FILE|URL...
      Every metric a dashboard or rule queries (recording rules expanded) is in the live scrape
      of the component METRICS.md says exports it (`every publisher`: every scrape given), with
      each label the query matches, groups by or shows and each `label="value"` it selects;
      each scrape holds its component's contract (types, labels where it has samples) and the
      bus's. Metrics of geth, Prysm and Prometheus are listed as not scraped here.
  deploy_check.py alert-tests RULES.yml TESTS.yml
      Every alert of RULES.yml has a unit test case where it fires and one where it does not.
  deploy_check.py dockerfile Dockerfile scripts/deps [build/vigil]
      The Dockerfile checks listed in deploy/docker/README.md (hadolint is not in Debian).
  deploy_check.py compose COMPOSE.yaml SCHEMA.json PROMETHEUS.yml
      A compose file against the compose-spec JSON schema (python3-jsonschema), then its
      wiring: pinned images, declared and used volumes, depends_on targets, unique host ports,
      vigil containers non-root with a read-only root and a working health check, several
      sensors with their own --sensor-id and their own store volume, NATS and PostgreSQL hosts
      that are services, one JetStream stream, and PROMETHEUS.yml scraping every sensor.
  deploy_check.py kaspa-k8s RENDERED.yaml PROMETHEUS.yml
      The rendered deploy/kaspa/kubernetes: references, restricted Pod Security (non-root,
      read-only root, no capabilities, RuntimeDefault seccomp, resources), the sensor StatefulSet
      (sensor id from the pod name, probes, store and spool on its own volume), the P2P Service
      (LoadBalancer/NodePort, externalTrafficPolicy Local), the headless Service PROMETHEUS.yml's
      job vigil-kaspa resolves, and the NetworkPolicy letting Prometheus in.
  deploy_check.py vigil-flags VIGIL DOCKERFILE FILE...
      Every vigil command line of the compose or rendered Kubernetes FILEs: its subcommand's
      `VIGIL ... --help` succeeds and lists every --flag, every $(VAR) in a value is defined,
      and every VIGIL_* variable is one of the command's (or an ENV of DOCKERFILE).

Each check prints one line per failure and exits 1 when there is any.
"""
import json
import os
import re
import subprocess
import sys

import yaml

errors = []


def err(msg):
    errors.append(msg)
    print("error: " + msg)


def load_objects(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def obj_name(o):
    md = o.get("metadata", {})
    return "%s %s/%s" % (o.get("kind"), md.get("namespace", "-"), md.get("name"))


# ---------------------------------------------------------------------------------------------
# schema: strict deserialization into the client's models

PRIMITIVES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def strict(data, typ, path):
    """Builds the model object for data of OpenAPI type typ, recording every mismatch."""
    import kubernetes.client.models as models

    if typ.startswith("list["):
        if not isinstance(data, list):
            err("%s: expected a list, got %r" % (path, data))
            return None
        return [strict(v, typ[5:-1], "%s[%d]" % (path, i)) for i, v in enumerate(data)]
    if typ.startswith("dict("):
        if not isinstance(data, dict):
            err("%s: expected a map, got %r" % (path, data))
            return None
        inner = typ[typ.index(",") + 1:-1].strip()
        return {k: strict(v, inner, "%s.%s" % (path, k)) for k, v in data.items()}
    if typ == "object":
        return data
    if typ in PRIMITIVES:
        ok = isinstance(data, PRIMITIVES[typ]) and not (typ != "bool" and isinstance(data, bool))
        if not ok:
            err("%s: expected %s, got %r" % (path, typ, data))
        return data
    if typ == "datetime":
        return data
    cls = getattr(models, typ, None)
    if cls is None:
        err("%s: no model %s in this kubernetes client" % (path, typ))
        return None
    if not isinstance(data, dict):
        err("%s: expected an object (%s), got %r" % (path, typ, data))
        return None
    by_json = {v: k for k, v in cls.attribute_map.items()}
    kwargs = {}
    for key, value in data.items():
        attr = by_json.get(key)
        if attr is None:
            err("%s: unknown field %r in %s" % (path, key, typ))
            continue
        kwargs[attr] = strict(value, cls.openapi_types[attr], "%s.%s" % (path, key))
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        err("%s: invalid %s: %s" % (path, typ, e))
        return None


def cmd_schema(rendered):
    objs = load_objects(rendered)
    if not objs:
        err("%s: no objects" % rendered)
    for o in objs:
        api, kind = o.get("apiVersion", ""), o.get("kind", "")
        version = api.split("/")[-1]
        typ = version[0].upper() + version[1:] + kind
        strict(o, typ, obj_name(o))
    print("%d objects checked against their models" % len(objs))


# ---------------------------------------------------------------------------------------------
# invariants

def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def find(objs, kind, ns, name):
    for o in objs:
        md = o.get("metadata", {})
        if o.get("kind") == kind and md.get("namespace") == ns and md.get("name") == name:
            return o
    err("%s %s/%s is missing" % (kind, ns, name))
    return None


def workloads(objs):
    return [o for o in objs if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet")]


def selects(selector, labels):
    """True when a LabelSelector (matchLabels only; matchExpressions unsupported) selects labels."""
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        err("matchExpressions in a NetworkPolicy selector: extend deploy_check.py")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def pods(objs):
    """(namespace, pod template labels, pod spec, workload) of every workload."""
    out = []
    for w in workloads(objs):
        t = w["spec"]["template"]
        out.append((w["metadata"]["namespace"], t["metadata"].get("labels", {}), t["spec"], w))
    return out


def container_port_numbers(spec, port, protocol):
    """Resolves a NetworkPolicy port (number or name) against the pod's container ports."""
    if isinstance(port, int):
        return {port}
    return {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])
            if p.get("name") == port and p.get("protocol", "TCP") == protocol}


def port_matches(rule_port, spec, port, protocol):
    """True when one entry of a NetworkPolicy rule's ports admits port/protocol."""
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    if "port" not in rule_port:
        return True  # every port of that protocol
    if "endPort" in rule_port and isinstance(rule_port["port"], int):
        return rule_port["port"] <= port <= rule_port["endPort"]
    return port in container_port_numbers(spec, rule_port["port"], protocol)


def allowed_peers(objs, ns, labels, spec, port, protocol="TCP"):
    """Every `from` peer that some NetworkPolicy lets reach (ns, labels):port. An entry None
    means "from anywhere". Returns None when no policy selects the pod (all traffic allowed)."""
    selected = False
    peers = []
    for np in by_kind(objs, "NetworkPolicy"):
        if np["metadata"]["namespace"] != ns:
            continue
        s = np["spec"]
        if "Ingress" not in s.get("policyTypes", ["Ingress"]):
            continue
        if not selects(s.get("podSelector", {}), labels):
            continue
        selected = True
        for rule in s.get("ingress") or []:
            rports = rule.get("ports")
            hit = not rports or any(port_matches(p, spec, port, protocol) for p in rports)
            if not hit:
                continue
            if not rule.get("from"):
                peers.append(None)
            else:
                peers.extend(rule["from"])
    return peers if selected else None


def peer_is(peer, ns_of_policy, want_ns, want_labels, objs):
    """True when a NetworkPolicy peer admits pods only from want_ns with want_labels' workload."""
    if peer is None or "ipBlock" in peer:
        return False
    pod_sel = peer.get("podSelector")
    ns_sel = peer.get("namespaceSelector")
    if pod_sel is None or not (pod_sel.get("matchLabels")):
        return False
    if ns_sel is None:
        if ns_of_policy != want_ns:
            return False
    else:
        if ns_sel.get("matchLabels") != {"kubernetes.io/metadata.name": want_ns}:
            return False
    if not selects(pod_sel, want_labels):
        return False
    # the selector must not also admit some other workload of that namespace
    for ns, labels, _, w in pods(objs):
        if ns == want_ns and labels != want_labels and selects(pod_sel, labels):
            return False
    return True


def check_only_from(objs, target, port, source_ns, source_name, what):
    ns, labels, spec, _ = target
    src = [p for p in pods(objs) if p[0] == source_ns and p[3]["metadata"]["name"] == source_name]
    if not src:
        err("%s: source workload %s/%s not found" % (what, source_ns, source_name))
        return
    peers = allowed_peers(objs, ns, labels, spec, port)
    if peers is None:
        err("%s: no NetworkPolicy selects the pods, port %d is open to all" % (what, port))
        return
    if not peers:
        err("%s: port %d is not reachable from %s at all" % (what, port, source_name))
        return
    for peer in peers:
        if not peer_is(peer, ns, source_ns, src[0][1], objs):
            err("%s: port %d is also open to %s" % (what, port, json.dumps(peer)))


def check_open(objs, target, port, protocol, what):
    ns, labels, spec, _ = target
    peers = allowed_peers(objs, ns, labels, spec, port, protocol)
    if peers is not None and None not in peers:
        err("%s: P2P port %d/%s is not open to everyone" % (what, port, protocol))


def documented_capabilities(readme):
    """{container: set(capabilities)} from the README table whose rows read
    | `container` | `CAP` | why |."""
    caps = {}
    with open(readme) as f:
        text = f.read()
    start = text.find("<!-- capabilities -->")
    end = text.find("<!-- /capabilities -->")
    if start < 0 or end < 0:
        err("%s: no <!-- capabilities --> table" % readme)
        return caps
    for m in re.finditer(r"^\|\s*`([\w-]+)`\s*\|\s*`([A-Z_]+)`\s*\|", text[start:end], re.M):
        caps.setdefault(m.group(1), set()).add(m.group(2))
    return caps


def container_sc(pod_spec, c):
    merged = dict(pod_spec.get("securityContext") or {})
    merged.update(c.get("securityContext") or {})
    return merged


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# The Secrets deploy/kubernetes/create-secrets.sh creates: {name: keys an env may read}
ETH_SECRETS = {"engine-jwt": set(), "grafana-admin": {"password"}}


def check_references(objs, secrets=None):
    """Rules the API server or the kubelet enforce that typed models do not: unique and valid
    port and container names, mounts of declared volumes, named probe and Service ports that
    exist, selectors that select, ConfigMap references that resolve; Secrets only those of
    @secrets ({name: keys}, default ETH_SECRETS) that the deployment's README creates."""
    secrets = ETH_SECRETS if secrets is None else secrets
    configmaps = {(o["metadata"]["namespace"], o["metadata"]["name"]): o.get("data", {})
                  for o in by_kind(objs, "ConfigMap")}
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
                for o in by_kind(objs, "Service")}
    for ns, labels, spec, w in pods(objs):
        where = "%s/%s" % (ns, w["metadata"]["name"])
        if not selects(w["spec"].get("selector"), labels):
            err("%s: spec.selector does not select its own pod template" % where)
        if w["kind"] == "StatefulSet" and (ns, w["spec"].get("serviceName")) not in services:
            err("%s: serviceName %s is not a Service" % (where, w["spec"].get("serviceName")))
        cnames = [c["name"] for c in spec["containers"]]
        if len(set(cnames)) != len(cnames):
            err("%s: duplicate container names" % where)
        port_names = [p["name"] for c in spec["containers"] for p in c.get("ports", [])
                      if "name" in p]
        for n in port_names:
            if len(n) > 15 or not IANA_SVC_NAME.match(n):
                err("%s: port name %r is not a valid IANA service name (<= 15 chars)" % (where, n))
        if len(set(port_names)) != len(port_names):
            err("%s: port names must be unique in a pod: %s" % (where, sorted(port_names)))
        volumes = [v["name"] for v in spec.get("volumes", [])]
        if w["kind"] == "StatefulSet":
            volumes += [t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])]
        if len(set(volumes)) != len(volumes):
            err("%s: duplicate volume names" % where)
        for v in spec.get("volumes", []):
            cm = v.get("configMap")
            if cm and (ns, cm["name"]) not in configmaps:
                err("%s: volume %s uses ConfigMap %s, which is not rendered" %
                    (where, v["name"], cm["name"]))
            sec = v.get("secret")
            if sec and sec["secretName"] not in secrets:
                err("%s: Secret %s is not one the README creates" %
                    (where, sec["secretName"]))
        for c in spec["containers"]:
            cport_names = {p["name"] for p in c.get("ports", []) if "name" in p}
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    err("%s container %s: mounts undeclared volume %s" %
                        (where, c["name"], m["name"]))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                pr = c.get(probe) or {}
                for kind in ("httpGet", "tcpSocket"):
                    port = (pr.get(kind) or {}).get("port")
                    if isinstance(port, str) and port not in cport_names:
                        err("%s container %s: %s port %s is not a port of this container" %
                            (where, c["name"], probe, port))
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
                if ref and ref["key"] not in configmaps.get((ns, ref["name"]), {}):
                    err("%s container %s: env %s: ConfigMap %s has no key %s" %
                        (where, c["name"], e["name"], ref["name"], ref["key"]))
                sref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if sref and sref["key"] not in secrets.get(sref["name"], set()):
                    err("%s: Secret %s key %s is not one the README creates" %
                        (where, sref["name"], sref["key"]))
    for (ns, name), svc in services.items():
        sel = svc["spec"].get("selector")
        targets = [p for p in pods(objs) if p[0] == ns and sel and
                   all(p[1].get(k) == v for k, v in sel.items())]
        if not targets:
            err("Service %s/%s selects no pod" % (ns, name))
            continue
        for sp in svc["spec"]["ports"]:
            tp = sp.get("targetPort", sp["port"])
            proto = sp.get("protocol", "TCP")
            for _, _, spec, w in targets:
                have = {(p.get("name"), p["containerPort"], p.get("protocol", "TCP"))
                        for c in spec["containers"] for p in c.get("ports", [])}
                ok = any((tp == n if isinstance(tp, str) else tp == num) and proto == pr
                         for n, num, pr in have)
                if not ok:
                    err("Service %s/%s port %s: target %s/%s is not a port of %s" %
                        (ns, name, sp.get("name"), tp, proto, w["metadata"]["name"]))


def cmd_invariants(rendered, readme):
    objs = load_objects(rendered)
    all_pods = pods(objs)
    check_references(objs)

    def pod(ns, name):
        for p in all_pods:
            if p[0] == ns and p[3]["metadata"]["name"] == name:
                return p
        err("workload %s/%s is missing" % (ns, name))
        return None

    geth, prysm = pod("ethereum", "geth"), pod("ethereum", "prysm")
    peers_mon = pod("ethereum", "vigil-peers")
    node = pod("monitoring", "vigil-node")
    if None in (geth, prysm, peers_mon, node):
        return

    # --- namespaces and default deny
    # Pod Security Admission: restricted where nothing needs more, privileged only for the
    # namespace of the vigil node agent
    for ns, enforce in (("ethereum", "restricted"), ("monitoring", "privileged")):
        nso = [o for o in by_kind(objs, "Namespace") if o["metadata"]["name"] == ns]
        if not nso:
            err("Namespace %s is missing" % ns)
            continue
        labels = nso[0]["metadata"].get("labels", {})
        if labels.get("pod-security.kubernetes.io/enforce") != enforce:
            err("Namespace %s must enforce the %s Pod Security Standard" % (ns, enforce))
        if labels.get("pod-security.kubernetes.io/warn") != "restricted":
            err("Namespace %s must warn about pods that are not restricted" % ns)
    for ns, labels, spec, w in all_pods:
        if ns != "monitoring" and w["metadata"]["name"] == "vigil-node":
            err("vigil-node must stay in monitoring, the only privileged namespace")
        if not any(np["metadata"]["namespace"] == ns and np["spec"].get("podSelector") == {}
                   and not np["spec"].get("ingress") for np in by_kind(objs, "NetworkPolicy")):
            err("namespace %s has no default-deny ingress NetworkPolicy" % ns)

    # --- who reaches what
    check_only_from(objs, geth, 8551, "ethereum", "prysm", "geth Engine API")
    check_only_from(objs, geth, 8545, "ethereum", "vigil-peers", "geth JSON-RPC")
    check_only_from(objs, geth, 6060, "monitoring", "prometheus", "geth metrics")
    check_only_from(objs, prysm, 3500, "ethereum", "vigil-peers", "Prysm beacon API")
    check_only_from(objs, prysm, 8080, "monitoring", "prometheus", "Prysm metrics")
    check_only_from(objs, peers_mon, 9103, "monitoring", "prometheus", "vigil peers metrics")
    for port in (9101, 9102):
        check_only_from(objs, node, port, "monitoring", "prometheus", "vigil node metrics")
    check_open(objs, geth, 30303, "TCP", "geth")
    check_open(objs, geth, 30303, "UDP", "geth")
    check_open(objs, prysm, 13000, "TCP", "Prysm")
    check_open(objs, prysm, 12000, "UDP", "Prysm")

    # --- Services
    svc = find(objs, "Service", "ethereum", "geth")
    if svc:
        if svc["spec"].get("type", "ClusterIP") != "ClusterIP":
            err("Service ethereum/geth must be ClusterIP (RPC and metrics stay in the cluster)")
        if {p["port"] for p in svc["spec"]["ports"]} != {8545, 8551, 6060}:
            err("Service ethereum/geth must serve 8545, 8551 and 6060")
    for name, want in (("geth-p2p", {(30303, "TCP"), (30303, "UDP")}),
                       ("prysm-p2p", {(13000, "TCP"), (12000, "UDP")})):
        s = find(objs, "Service", "ethereum", name)
        if not s:
            continue
        if s["spec"].get("type") not in ("LoadBalancer", "NodePort"):
            err("Service ethereum/%s must be LoadBalancer or NodePort" % name)
        have = {(p["port"], p.get("protocol", "TCP")) for p in s["spec"]["ports"]}
        if not want <= have:
            err("Service ethereum/%s lacks %s" % (name, sorted(want - have)))
        for p in s["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            if s["spec"].get("type") == "LoadBalancer" and not isinstance(target, str) \
                    and p["port"] != target:
                err("Service ethereum/%s remaps P2P port %d: peers dial the advertised port" %
                    (name, p["port"]))

    # --- Engine API JWT: one Secret, mounted read-only by both clients, never generated
    for name, p, flag in (("geth", geth, "--authrpc.jwtsecret="),
                          ("prysm", prysm, "--jwt-secret=")):
        spec = p[2]
        c = spec["containers"][0]
        arg = [a for a in c.get("args", []) if a.startswith(flag)]
        if len(arg) != 1:
            err("%s: exactly one %s argument expected" % (name, flag))
            continue
        path = arg[0][len(flag):]
        mounts = [m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"] + "/")]
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        if len(mounts) != 1 or "secret" not in vols.get(mounts[0]["name"], {}):
            err("%s: the JWT %s does not come from a Secret volume" % (name, path))
            continue
        if vols[mounts[0]["name"]]["secret"].get("secretName") != "engine-jwt":
            err("%s: the JWT must come from Secret engine-jwt" % name)
        if not mounts[0].get("readOnly"):
            err("%s: the JWT volume must be mounted read-only" % name)
    if any(o["kind"] == "Secret" and o["metadata"]["name"] == "engine-jwt" for o in objs):
        err("Secret engine-jwt is rendered by kustomize: it must be created once, outside git")
    if "--execution-endpoint=http://geth:8551" not in prysm[2]["containers"][0].get("args", []):
        err("prysm: --execution-endpoint=http://geth:8551 expected")
    if "--syncmode=snap" not in geth[2]["containers"][0].get("args", []):
        err("geth: --syncmode=snap expected")
    if not any(a.startswith("--checkpoint-sync-url=") for a in prysm[2]["containers"][0]["args"]):
        err("prysm: --checkpoint-sync-url expected")

    # --- volumes
    for name, size in (("geth", "1Ti"), ("prysm", "500Gi")):
        w = find(objs, "StatefulSet", "ethereum", name)
        if w:
            vct = w["spec"].get("volumeClaimTemplates", [])
            got = vct[0]["spec"]["resources"]["requests"]["storage"] if vct else None
            if got != size:
                print("note: %s volume is %s (mainnet wants %s)" % (name, got, size))

    # --- every container: resources, probes, pinned images
    for ns, labels, spec, w in all_pods:
        for c in spec["containers"]:
            where = "%s/%s container %s" % (ns, w["metadata"]["name"], c["name"])
            res = c.get("resources", {})
            for k in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(k, {})):
                    err("%s: %s for cpu and memory expected" % (where, k))
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    err("%s: no %s" % (where, probe))
            image = c.get("image", "")
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                err("%s: image %s is not pinned to a tag" % (where, image))

    # --- securityContext
    caps_doc = documented_capabilities(readme)
    for ns, labels, spec, w in all_pods:
        wname = w["metadata"]["name"]
        for c in spec["containers"] + spec.get("initContainers", []):
            where = "%s/%s container %s" % (ns, wname, c["name"])
            sc = container_sc(spec, c)
            caps = (c.get("securityContext") or {}).get("capabilities") or {}
            if sc.get("privileged"):
                err("%s: privileged" % where)
            if sc.get("allowPrivilegeEscalation") is not False:
                err("%s: allowPrivilegeEscalation must be false" % where)
            if sc.get("readOnlyRootFilesystem") is not True:
                err("%s: readOnlyRootFilesystem must be true" % where)
            if caps.get("drop") != ["ALL"]:
                err("%s: capabilities must drop ALL" % where)
            if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                err("%s: seccompProfile RuntimeDefault expected" % where)
            if wname == "vigil-node":
                want = caps_doc.get(c["name"])
                if want is None:
                    err("%s: its capabilities are not documented in the README table" % where)
                elif set(caps.get("add", [])) != want:
                    err("%s: capabilities %s differ from the documented %s" %
                        (where, sorted(caps.get("add", [])), sorted(want)))
                if len(caps.get("add", [])) != len(set(caps.get("add", []))):
                    err("%s: duplicate capabilities" % where)
            else:
                if caps.get("add"):
                    err("%s: adds capabilities %s" % (where, caps["add"]))
                if sc.get("runAsNonRoot") is not True or sc.get("runAsUser", 1) == 0:
                    err("%s: must run as non-root (runAsNonRoot, runAsUser != 0)" % where)
        if wname == "vigil-node":
            if not spec.get("hostPID"):
                err("vigil-node: hostPID expected (the BPF programs report host PIDs)")
            if spec.get("hostNetwork") or spec.get("hostIPC"):
                err("vigil-node: hostNetwork/hostIPC are not needed")
            if set(caps_doc) != {c["name"] for c in spec["containers"]}:
                err("README capability table lists %s, vigil-node has %s" %
                    (sorted(caps_doc), sorted(c["name"] for c in spec["containers"])))
        elif spec.get("hostPID") or spec.get("hostNetwork") or spec.get("hostIPC"):
            err("%s/%s: host namespaces are reserved to vigil-node" % (ns, wname))
        for v in spec.get("volumes", []):
            if "hostPath" in v and wname != "vigil-node":
                err("%s/%s: hostPath volume %s" % (ns, wname, v["name"]))

    # --- the vigil image: one for every component
    vigil_images = {c["image"] for _, _, spec, w in all_pods
                    if w["metadata"]["labels"].get("app.kubernetes.io/part-of") == "vigil"
                    for c in spec["containers"]}
    if len(vigil_images) != 1:
        err("vigil components use %d images %s, expected one" % (len(vigil_images),
                                                                   sorted(vigil_images)))
    print("%d workloads checked" % len(all_pods))


# ---------------------------------------------------------------------------------------------
# metrics used by dashboards and rules

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan", "atan2"}
TOKEN = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[A-Za-z]*|[A-Za-z_:][A-Za-z0-9_:]*|.", re.S)


def metric_names(expr):
    """Metric names in a PromQL expression (Grafana variables allowed)."""
    m = re.match(r"^\s*label_values\s*\(\s*([A-Za-z_:][\w:]*)\s*,", expr)
    if m:
        return {m.group(1)}
    if re.match(r"^\s*label_values\s*\(", expr):
        return set()
    m = re.match(r"^\s*query_result\s*\((.*)\)\s*$", expr, re.S)
    if m:
        expr = m.group(1)
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    names = set()
    toks = TOKEN.findall(e)
    for i, t in enumerate(toks):
        if not re.match(r"[A-Za-z_:]", t) or t in KEYWORDS:
            continue
        rest = "".join(toks[i + 1:]).lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        names.add(t)
    return names


ROW = re.compile(r"^\|\s*`([a-zA-Z_:][\w:]*)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|"
                 r"([^|]*)\|([^|]*)\|([^|]*)\|")


def label_names(expr):
    """Label names an expression matches on, groups by or asks label_values() for."""
    out = []
    m = re.match(r"^\s*label_values\s*\(\s*(?:[A-Za-z_:][\w:]*\s*,\s*)?(\w+)\s*\)", expr)
    if m:
        out.append(m.group(1))
    for inner in re.findall(r"\{([^}]*)\}", re.sub(r"\{\{\s*\w+\s*\}\}", "", expr)):
        out += re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", re.sub(r'"(?:[^"\\]|\\.)*"', '""', inner))
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)",
                            expr):
        out += [g.strip() for g in group.split(",") if g.strip()]
    return out


def contract_rows(path):
    """[(name, type, [labels], exported by, meaning)] from the tables of METRICS.md."""
    rows = []
    with open(path) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                labels = re.findall(r"`(\w+)`", m.group(3))
                rows.append((m.group(1), m.group(2), labels, m.group(4).strip(),
                             m.group(5).strip()))
    return rows


def contract(path):
    """{name: type} from the tables of METRICS.md."""
    out = {}
    for name, typ, _, _, _ in contract_rows(path):
        if name in out:
            err("%s: %s listed twice" % (path, name))
        out[name] = typ
    return out


def component_rows(path, component):
    rows = [r for r in contract_rows(path) if re.match(r"vigil %s\b" % re.escape(component), r[3])]
    if not rows:
        err("%s: no metrics exported by vigil %s" % (path, component))
    return rows


def cmd_exposition(path, component):
    for name, typ, labels, _, meaning in component_rows(path, component):
        print("# HELP %s %s" % (name, re.sub(r"\s+", " ", meaning.replace("`", ""))))
        print("# TYPE %s %s" % (name, typ))
        lab = ",".join('%s="x"' % l for l in labels)
        if typ == "histogram":
            for le in ("0.1", "+Inf"):
                print("%s_bucket{%s} 0" % (name, ",".join(filter(None, [lab, 'le="%s"' % le]))))
            for suffix in ("_sum", "_count"):
                print("%s%s%s 0" % (name, suffix, "{%s}" % lab if lab else ""))
        else:
            print("%s%s 0" % (name, "{%s}" % lab if lab else ""))


def parse_exposition(text):
    """({name: type}, {sample name: set of label-name tuples})"""
    types, samples = {}, {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s", line)
        if m:
            names = tuple(sorted(re.findall(r'(\w+)="', m.group(3) or "")))
            samples.setdefault(m.group(1), set()).add(names)
    return types, samples


def read_source(source):
    """The text of a file, or of an http(s) URL (a live /metrics)."""
    if re.match(r"https?://", source):
        import urllib.request
        with urllib.request.urlopen(source, timeout=10) as r:
            return r.read().decode()
    with open(source) as f:
        return f.read()


def check_rows(source, types, samples, rows, need_samples=True):
    """Each contract row is exported with its type and, where it has samples, exactly its
    labels; without need_samples a labelled metric may have none yet (no event so far).
    Returns the names of those without samples."""
    empty = []
    for name, typ, labels, _, _ in rows:
        if types.get(name) != typ:
            err("%s: %s has TYPE %s, the contract says %s" % (source, name, types.get(name), typ))
            continue
        series = [name + "_bucket", name + "_sum", name + "_count"] if typ == "histogram" \
            else [name]
        for sname in series:
            extra = {"le"} if sname.endswith("_bucket") else set()
            got = samples.get(sname)
            if not got and (need_samples or not labels):
                err("%s: no %s samples" % (source, sname))
                continue
            if not got and sname == name:
                empty.append(name)
            for names in got or ():
                if set(names) != set(labels) | extra:
                    err("%s: %s has labels %s, the contract says %s" %
                        (source, sname, sorted(names), sorted(set(labels) | extra)))
                    break
    return empty


def cmd_scrape(path, component, source):
    types, samples = parse_exposition(read_source(source))
    rows = component_rows(path, component)
    check_rows(source, types, samples, rows)
    print("%d metrics of vigil %s checked in %s" % (len(rows), component, source))


def known(name, names):
    if name in names:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and names.get(base) in ("histogram", "summary") and \
                (suffix != "_bucket" or names[base] == "histogram"):
            return True
    return False


def dashboard_queries(d, where):
    """(where, expr) of every panel target and templating query, rows included."""
    out = []

    def walk(panels):
        for p in panels:
            if p.get("type") == "row":
                walk(p.get("panels", []))
                continue
            for t in p.get("targets", []):
                if "expr" in t:
                    out.append(("%s panel %r" % (where, p.get("title")), t["expr"],
                                re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", ""))))
    walk(d.get("panels", []))
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            out.append(("%s variable %s" % (where, v.get("name")), q, []))
    return out


def check_dashboard(path, d, uids):
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in d:
            err("%s: no %s" % (path, key))
    if d.get("uid") in uids:
        err("%s: uid %s used twice" % (path, d.get("uid")))
    uids.add(d.get("uid"))
    ids = set()

    def walk(panels):
        for p in panels:
            if p.get("id") in ids:
                err("%s: panel id %s used twice" % (path, p.get("id")))
            ids.add(p.get("id"))
            for k in ("type", "title", "gridPos"):
                if k not in p:
                    err("%s: panel %s has no %s" % (path, p.get("id"), k))
            gp = p.get("gridPos", {})
            if not all(isinstance(gp.get(k), int) for k in ("x", "y", "w", "h")) or \
                    gp["x"] < 0 or gp["w"] < 1 or gp["x"] + gp["w"] > 24:
                err("%s: panel %r: gridPos %s is outside Grafana's 24 columns" %
                    (path, p.get("title"), gp))
            if p.get("type") != "row":
                ds = p.get("datasource") or {}
                if ds.get("uid") != "prometheus":
                    err("%s: panel %r does not use the provisioned datasource uid prometheus" %
                        (path, p.get("title")))
                if not p.get("targets"):
                    err("%s: panel %r has no query" % (path, p.get("title")))
            walk(p.get("panels", []))
    walk(d.get("panels", []))


def grafana_vars_to_promql(expr):
    e = re.sub(r"\$__\w+", "5m", expr)
    return re.sub(r"\$\{?\w+\}?", ".*", e)


def collect_queries(paths):
    """([(where, expr, labels shown)], {recording rule name: expr}) of dashboards (*.json,
    checked for well-formedness) and rule files (YAML)."""
    queries, records, uids = [], {}, set()
    for path in paths:
        if path.endswith(".json"):
            try:
                with open(path) as f:
                    d = json.load(f)
            except ValueError as e:
                err("%s: not valid JSON: %s" % (path, e))
                continue
            check_dashboard(path, d, uids)
            queries += dashboard_queries(d, path)
        else:
            with open(path) as f:
                doc = yaml.safe_load(f)
            for g in doc.get("groups", []):
                for r in g.get("rules", []):
                    text = json.dumps(r.get("annotations", {}))
                    queries.append(("%s rule %s" % (path, r.get("alert") or r.get("record")),
                                    r["expr"], re.findall(r"\$labels\.(\w+)", text)))
                    if r.get("record"):
                        records[r["record"]] = r["expr"]
    return queries, records


def expand_records(names, records, seen=()):
    """Metric names with recording rules replaced by the metrics their expressions use."""
    out = set()
    for n in names:
        if n in records and n not in seen:
            out |= expand_records(metric_names(records[n]), records, seen + (n,))
        else:
            out.add(n)
    return out


def cmd_metrics(args):
    emit = None
    if "--emit-rules" in args:
        i = args.index("--emit-rules")
        emit = args[i + 1]
        args = args[:i] + args[i + 2:]
    names = contract(args[0])
    if not names:
        err("%s: no metric tables" % args[0])
    queries, records = collect_queries(args[1:])
    used = set()
    labels = {n: set(ls) for n, _, ls, _, _ in contract_rows(args[0])}
    for where, expr, shown in queries:
        found = expand_records(metric_names(expr), records)
        if not found and "label_values" not in expr:
            err("%s: no metric name found in %r" % (where, expr))
        for n in sorted(found):
            used.add(n)
            if not known(n, names):
                err("%s: metric %s is not in %s" % (where, n, args[0]))
        allowed = {"job", "instance"}
        for n in found:
            base = re.sub(r"_(bucket|sum|count)$", "", n) if n not in labels else n
            allowed |= labels.get(base, set()) | ({"le"} if n.endswith("_bucket") else set())
        for label in sorted(set(label_names(expr)) | set(shown)):
            if label not in allowed:
                err("%s: label %s is not a label of %s in %s" %
                    (where, label, " or ".join(sorted(found)), args[0]))
    if emit:
        rules = {"groups": [{"name": "dashboard-queries", "rules": [
            {"record": "dashboard:query:%d" % i, "expr": grafana_vars_to_promql(e)}
            for i, (_, e, _) in enumerate(queries) if not e.lstrip().startswith("label_values")]}]}
        with open(emit, "w") as f:
            yaml.safe_dump(rules, f)
    unused = sorted(n for n in names if n.startswith("vigil_") and
                    not any(known(u, {n: names[n]}) for u in used))
    if unused:
        print("note: contract metrics no dashboard or rule uses: %s" % ", ".join(unused))
    print("%d queries checked, %d metric names used" % (len(queries), len(used)))


def cmd_alert_tests(rules, tests):
    with open(rules) as f:
        alerts = [r["alert"] for g in yaml.safe_load(f)["groups"] for r in g["rules"]
                  if "alert" in r]
    fires, silent = set(), set()
    with open(tests) as f:
        for t in yaml.safe_load(f).get("tests", []):
            for case in t.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    for a in alerts:
        if a not in fires:
            err("%s: no test case where %s fires" % (tests, a))
        if a not in silent:
            err("%s: no test case where %s stays silent" % (tests, a))
    print("%d alerts checked for firing and silent test cases" % len(alerts))


def cmd_configmap(rendered, name, files):
    cms = [o for o in load_objects(rendered) if o.get("kind") == "ConfigMap" and
           re.fullmatch(re.escape(name) + r"(-[a-z0-9]{10})?", o["metadata"]["name"])]
    if len(cms) != 1:
        err("%s: %d ConfigMaps named %s" % (rendered, len(cms), name))
        return
    data = cms[0].get("data", {})
    want = {os.path.basename(f): f for f in files}
    if set(data) != set(want):
        err("ConfigMap %s holds %s, expected %s" % (name, sorted(data), sorted(want)))
    for key, path in want.items():
        with open(path) as f:
            if data.get(key) != f.read():
                err("ConfigMap %s: %s differs from %s" % (name, key, path))
    print("ConfigMap %s holds %d files, identical to the sources" % (name, len(data)))


# ---------------------------------------------------------------------------------------------
# live: dashboards and rules against real scrapes

SHARED_EXPORTERS = ("every publisher", "every exporter")


def parse_series(text):
    """{sample name: [{label: value}, ...]} of a /metrics page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s", line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.setdefault(m.group(1), []).append(labels)
    return out


def equality_matchers(expr):
    """[(metric, label, value)] of every `label="value"` matcher of a selector (regex and
    negative matchers, and values holding a Grafana variable, are left out)."""
    out = []
    e = re.sub(r"\{\{\s*\w+\s*\}\}", "", expr)
    for m in re.finditer(r"([A-Za-z_:][\w:]*)\s*\{([^}]*)\}", e):
        for label, value in re.findall(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', m.group(2)):
            if "$" not in value:
                out.append((m.group(1), label, value))
    return out


def cmd_live(args):
    """Every metric a dashboard or rule queries, through recording rules, is in the live
    scrape of the component METRICS.md says exports it, with every label the query matches,
    groups by or shows, and every label value it selects with `=`."""
    scrapes = {}
    while "--scrape" in args:
        i = args.index("--scrape")
        comp, _, src = args[i + 1].partition("=")
        scrapes[comp] = src
        args = args[:i] + args[i + 2:]
    path = args[0]
    rows = {r[0]: r for r in contract_rows(path)}
    shared = [r for r in rows.values() if r[3] in SHARED_EXPORTERS]
    pages = {}
    for comp, src in scrapes.items():
        text = read_source(src)
        types, samples = parse_exposition(text)
        pages[comp] = parse_series(text)
        # the whole contract of the component (and the bus's), where it has samples yet
        empty = check_rows(src, types, samples, component_rows(path, comp) + shared,
                           need_samples=False)
        if empty:
            print("note: %s: no samples yet (no such event in this run): %s" %
                  (src, ", ".join(empty)))

    def exporters(name):
        """(row, [scraped components that must export name]) or (row, None) for others'."""
        base = name if name in rows else re.sub(r"_(bucket|sum|count)$", "", name)
        row = rows.get(base)
        if not row or (base != name and row[1] not in ("histogram", "summary")):
            return None, None
        if row[3].startswith("vigil "):
            # the scraped component whose name ("kaspa sensor", "rpc") begins the exporter's
            comps = [c for c in pages if re.match(r"vigil %s\b" % re.escape(c), row[3])]
            return row, comps or [row[3][len("vigil "):]]
        return row, (list(pages) if row[3] in SHARED_EXPORTERS else None)

    queries, records = collect_queries(args[1:])
    checked, external = {c: set() for c in pages}, {}
    for where, expr, shown in queries:
        names = expand_records(metric_names(expr), records)
        live_labels, vigil_names = set(), 0
        for n in sorted(names):
            row, comps = exporters(n)
            if row is None:
                err("%s: metric %s is not in %s" % (where, n, path))
                continue
            if comps is None:
                external.setdefault(row[3], set()).add(n)
                continue
            vigil_names += 1
            for c in comps:
                if c not in pages:
                    err("%s: %s comes from vigil %s, which was not scraped" % (where, n, c))
                    continue
                series = pages[c].get(n)
                if not series:
                    err("%s: %s is not in the live scrape of vigil %s (%s)" %
                        (where, n, c, scrapes[c]))
                    continue
                checked[c].add(n)
                live_labels |= {l for s in series for l in s}
        if vigil_names and not any(n in records for n in metric_names(expr)):
            for label in sorted(set(label_names(expr)) | set(shown)):
                if label not in live_labels | {"job", "instance"}:
                    err("%s: no series of %s in the live scrape has label %s" %
                        (where, " or ".join(sorted(names)), label))
        for metric, label, value in equality_matchers(expr):
            _, comps = exporters(metric)
            if label in ("job", "instance") or not comps:
                continue
            for c in comps:
                series = pages.get(c, {}).get(metric) or []
                seen = sorted({s[label] for s in series if label in s})
                if series and value not in seen:
                    err("%s: %s{%s=\"%s\"} selects nothing in the live scrape of vigil %s "
                        "(values: %s)" % (where, metric, label, value, c, ", ".join(seen)))
    for c in sorted(pages):
        print("vigil %s (%s): %d queried metrics found live: %s" %
              (c, scrapes[c], len(checked[c]), ", ".join(sorted(checked[c]))))
    for who, names in sorted(external.items()):
        print("not scraped here, exported by %s (checked against %s only): %s" %
              (who, path, ", ".join(sorted(names))))
    print("%d queries checked against %d live scrapes" % (len(queries), len(pages)))


# ---------------------------------------------------------------------------------------------
# Dockerfile

def dockerfile_instructions(path):
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.lstrip().startswith("#"):
                continue  # comment inside a continued instruction
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            cur += line
            word, _, rest = cur.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            cur = ""
    return out


def apt_packages(run):
    """Packages named by the `apt-get install` of one RUN."""
    m = re.search(r"apt-get install((?:\s+[^&|;]+))", run)
    if not m:
        return set()
    return {w for w in m.group(1).split() if not w.startswith("-")}


def deps_build_packages(deps):
    """The "# build" group of APT_PKGS in scripts/deps."""
    with open(deps) as f:
        text = f.read()
    m = re.search(r"APT_PKGS=\(\s*# build\n(.*?)\n\s*#", text, re.S)
    if not m:
        err("%s: no '# build' group in APT_PKGS" % deps)
        return set()
    return set(m.group(1).split())


FUZZ_ONLY = {"libclang-rt-14-dev"}


def cmd_dockerfile(path, deps, binary=None):
    ins = dockerfile_instructions(path)
    args = {}
    stages = []  # [{"from": image, "name": alias, "ins": [...]}]
    for word, rest in ins:
        if word == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k] = v
        elif word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), parts[0])
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"from": image, "name": alias, "ins": []})
        elif stages:
            stages[-1]["ins"].append((word, rest))
    if len(stages) < 2:
        err("%s: a multi-stage build expected, found %d stage(s)" % (path, len(stages)))
        return
    names = {s["name"] for s in stages if s["name"]}
    for s in stages:
        image = s["from"]
        if image in names:
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            err("%s: FROM %s is not pinned to a tag" % (path, image))
    build, runtime = stages[0], stages[-1]
    if runtime["from"] in names:
        err("%s: the runtime stage starts from the build stage" % path)
    for word, rest in ins:
        if word == "ADD":
            err("%s: ADD %s: use COPY" % (path, rest))
        if word == "RUN" and re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", rest):
            err("%s: RUN pipes a download into a shell" % path)
        if word == "RUN" and "apt-get install" in rest:
            if "--no-install-recommends" not in rest:
                err("%s: apt-get install without --no-install-recommends" % path)
            if "apt-get update" not in rest:
                err("%s: apt-get install without apt-get update in the same RUN" % path)
            if "rm -rf /var/lib/apt/lists" not in rest:
                err("%s: apt-get install leaves /var/lib/apt/lists in the layer" % path)
    final = runtime["ins"]
    users = [rest for word, rest in final if word == "USER"]
    if not users:
        err("%s: the runtime stage has no USER" % path)
    else:
        uid = users[-1].partition(":")[0]
        if not uid.isdigit() or uid == "0":
            err("%s: USER %s: a numeric non-root uid expected" % (path, users[-1]))
    if not any(word == "HEALTHCHECK" and "CMD" in rest for word, rest in final):
        err("%s: the runtime stage has no HEALTHCHECK" % path)
    ep = [rest for word, rest in final if word == "ENTRYPOINT"]
    if not ep or not ep[-1].startswith("["):
        err("%s: an exec-form ENTRYPOINT expected" % path)

    build_pkgs = set().union(*(apt_packages(r) for w, r in build["ins"] if w == "RUN"))
    runtime_pkgs = set().union(*(apt_packages(r) for w, r in final if w == "RUN"))
    missing = deps_build_packages(deps) - FUZZ_ONLY - build_pkgs
    if missing:
        err("%s: the build stage lacks build packages of %s: %s" %
            (path, deps, " ".join(sorted(missing))))
    for p in sorted(runtime_pkgs):
        if p.endswith("-dev") or p in ("gcc", "clang", "llvm", "make", "binutils"):
            err("%s: the runtime stage installs build tool %s" % (path, p))

    ignore = os.path.join(os.path.dirname(path), os.path.basename(path) + ".dockerignore")
    try:
        with open(ignore) as f:
            patterns = {l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")}
        for want in (".git", "build", ".cache"):
            if want not in patterns:
                err("%s: does not exclude %s" % (ignore, want))
    except OSError as e:
        err("%s: %s" % (ignore, e))

    if binary:
        check_runtime_libraries(path, binary, runtime_pkgs)
    print("%d stages, %d build and %d runtime packages checked" %
          (len(stages), len(build_pkgs), len(runtime_pkgs)))


_base = None


def base_packages():
    """Packages every Debian image has: Essential or priority required, and what they depend
    on (libc6 is such a dependency), from the local package database."""
    global _base
    if _base is None:
        q = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Essential} ${Priority}\\n"],
                           capture_output=True, text=True, check=True).stdout
        roots = [l.split()[0] for l in q.splitlines()
                 if len(l.split()) == 3 and (l.split()[1] == "yes" or l.split()[2] == "required")]
        dep = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                              "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                              "--no-enhances"] + roots, capture_output=True, text=True).stdout
        _base = set(roots) | {l.split(":")[0] for l in dep.splitlines() if l and l[0] != " "}
    return _base


def check_runtime_libraries(path, binary, runtime_pkgs):
    """Every DT_NEEDED library of binary comes from a runtime package or a required one."""
    dyn = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn.stdout)
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for soname in needed:
        m = re.search(r"^\s*%s \(libc6,x86-64[^)]*\) => (\S+)" % re.escape(soname), cache, re.M)
        if not m:
            err("%s: %s needs %s, which ldconfig does not know" % (path, binary, soname))
            continue
        lib = os.path.realpath(m.group(1))
        owner = None
        for candidate in (m.group(1), lib, lib.replace("/usr/lib/", "/lib/", 1)):
            q = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if q.returncode == 0:
                owner = q.stdout.split(":")[0]
                break
        if owner is None:
            err("%s: no Debian package owns %s (%s)" % (path, lib, soname))
            continue
        if owner not in runtime_pkgs and owner not in base_packages():
            err("%s: %s needs %s from package %s, which the runtime stage does not install" %
                (path, binary, soname, owner))


# ---------------------------------------------------------------------------------------------
# the Kaspa sensor fleet (deploy/kaspa)

def is_vigil_image(image):
    """The one vigil image, however the registry and tag are written."""
    return bool(image) and image.rsplit("/", 1)[-1].partition(":")[0] == "vigil"


def interpolate(value):
    """${VAR:-default} -> default and ${VAR:?msg} / ${VAR} -> VAR, as compose would with VAR
    unset (the checks need the defaults, never a user's environment)."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*)|:?\?[^}]*)?\}",
                  lambda m: m.group(2) if m.group(2) is not None else m.group(1), value)


def flag_args(args):
    """{flag name: value or True} of a vigil argument list after its subcommand words."""
    out, i = {}, 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            if not eq and i + 1 < len(args) and not str(args[i + 1]).startswith("-"):
                val, i = str(args[i + 1]), i + 1
            out[name] = val if (eq or val) else True
        i += 1
    return out


def subcommand(args):
    words = []
    for a in args:
        if str(a).startswith("-"):
            break
        words.append(str(a))
    return words


_help = {}


def vigil_help(vigil, words):
    """({flags}, {VIGIL_* env names}) of `vigil WORDS --help`, or None if it fails."""
    key = tuple(words)
    if key not in _help:
        r = subprocess.run([vigil] + words + ["--help"], capture_output=True, text=True)
        if r.returncode != 0:
            _help[key] = None
        else:
            flags = set(re.findall(r"^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)", r.stdout, re.M))
            envs = set(re.findall(r"\[env: (VIGIL_\w+)\]", r.stdout))
            group = re.search(r"^Commands:", r.stdout, re.M) is not None
            _help[key] = (flags, envs, group)
    return _help[key]


def dockerfile_env(path):
    return {rest.split("=")[0].split()[0] for word, rest in dockerfile_instructions(path)
            if word == "ENV"}


def vigil_command_lines(path):
    """[(where, args, {env name: value or None})] of every vigil container of a compose file
    or a rendered Kubernetes file."""
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    out = []
    for d in docs:
        if "services" in d:
            for name, svc in d["services"].items():
                if not is_vigil_image(interpolate(svc.get("image", ""))):
                    continue
                env = svc.get("environment") or {}
                if isinstance(env, list):
                    env = dict(e.partition("=")[::2] for e in env)
                out.append(("%s: service %s" % (path, name),
                            [interpolate(str(a)) for a in svc.get("command") or []], env))
        elif d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            spec = d["spec"]["template"]["spec"]
            for c in spec.get("containers", []) + spec.get("initContainers", []):
                if not is_vigil_image(c.get("image", "")):
                    continue
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                out.append(("%s: %s/%s container %s" % (path, d["kind"], d["metadata"]["name"],
                                                       c["name"]),
                            [str(a) for a in c.get("args") or []], env))
    return out


def cmd_vigil_flags(vigil, dockerfile, files):
    image_env = dockerfile_env(dockerfile)
    n = 0
    for path in files:
        for where, args, env in vigil_command_lines(path):
            n += 1
            words = subcommand(args)
            h = vigil_help(vigil, words)
            if not words or h is None:
                err("%s: `vigil %s --help` fails: not a vigil command" % (where, " ".join(words)))
                continue
            flags, envs, group = h
            if group:
                err("%s: `vigil %s` is a group of commands: name one (vigil %s help)" %
                    (where, " ".join(words), " ".join(words)))
                continue
            for name, val in flag_args(args[len(words):]).items():
                base = name[3:] if name.startswith("no-") and name[3:] in flags else name
                if base not in flags:
                    err("%s: vigil %s has no option --%s" % (where, " ".join(words), name))
                for ref in re.findall(r"\$\((\w+)\)", val if isinstance(val, str) else ""):
                    if ref not in env:
                        err("%s: --%s uses $(%s), which the container does not define" %
                            (where, name, ref))
            for e in env:
                if e.startswith("VIGIL_") and e not in envs and e not in image_env:
                    err("%s: %s is neither an environment variable of vigil %s nor one of the "
                        "image" % (where, e, " ".join(words)))
    if not n:
        err("no vigil command line found in %s" % " ".join(files))
    print("%d vigil command lines checked against --help" % n)


def cmd_compose(path, schema_path, prometheus_path):
    import jsonschema
    with open(path) as f:
        d = yaml.safe_load(f)
    with open(schema_path) as f:
        schema = json.load(f)
    for e in jsonschema.Draft201909Validator(schema).iter_errors(d):
        err("%s: %s: %s" % (path, "/".join(str(p) for p in e.absolute_path) or "(top)",
                            e.message[:300]))
    services = d.get("services") or {}
    declared = set((d.get("volumes") or {}).keys())
    used, host_ports, sensors = set(), {}, {}
    for name, svc in services.items():
        where = "%s: service %s" % (path, name)
        image = interpolate(svc.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            err("%s: image %r is not pinned to a tag" % (where, image))
        for dep in svc.get("depends_on") or []:
            if dep not in services:
                err("%s: depends_on %s, which is not a service" % (where, dep))
        for v in svc.get("volumes") or []:
            src = (v.get("source") if isinstance(v, dict) else v.split(":")[0])
            if src.startswith((".", "/")):
                if not os.path.exists(os.path.join(os.path.dirname(path), src)):
                    err("%s: bind mount %s does not exist" % (where, src))
            else:
                used.add(src)
                if src not in declared:
                    err("%s: volume %s is not declared" % (where, src))
        for p in svc.get("ports") or []:
            hp = str(p).rsplit(":", 2)
            if len(hp) >= 2:
                host = ":".join(hp[:-1])
                if host in host_ports:
                    err("%s: host port %s already published by %s" % (where, host,
                                                                       host_ports[host]))
                host_ports[host] = name
        if not is_vigil_image(image):
            continue
        args = [interpolate(str(a)) for a in svc.get("command") or []]
        flags = flag_args(args[len(subcommand(args)):])
        env = svc.get("environment") or {}
        if str(svc.get("user", "0")).partition(":")[0] in ("0", "root"):
            err("%s: a vigil container runs as root" % where)
        if not svc.get("read_only"):
            err("%s: a vigil container without read_only: true" % where)
        metrics = flags.get("metrics")
        health_off = (svc.get("healthcheck") or {}).get("disable")
        if metrics and str(env.get("VIGIL_METRICS_PORT")) != metrics.rpartition(":")[2]:
            err("%s: VIGIL_METRICS_PORT %s is not the --metrics port %s (the image's health "
                "check asks that port)" % (where, env.get("VIGIL_METRICS_PORT"), metrics))
        if not metrics and not health_off:
            err("%s: no --metrics, so the image's health check fails: disable it" % where)
        for k in ("nats-url",):
            host = re.sub(r"^\w+://", "", str(flags.get(k, ""))).split(":")[0]
            if k in flags and host not in services:
                err("%s: --%s names %s, which is not a service" % (where, k, host))
        if subcommand(args)[:2] == ["kaspa", "sensor"]:
            sensors[name] = (flags, svc)
        if subcommand(args)[:2] == ["kaspa", "collect"]:
            dsn = str(env.get("VIGIL_PG", flags.get("pg", "")))
            host = re.sub(r"^\w+://([^@]*@)?", "", dsn).split(":")[0].split("/")[0]
            if host not in services:
                err("%s: the PostgreSQL DSN names host %r, which is not a service" % (where, host))
    for v in declared - used:
        err("%s: volume %s is declared and never used" % (path, v))
    if len(sensors) < 2:
        err("%s: a fleet of several sensors expected, found %d" % (path, len(sensors)))
    ids = [f.get("sensor-id") for f, _ in sensors.values()]
    if None in ids or len(set(ids)) != len(ids):
        err("%s: every sensor needs its own --sensor-id: %s" % (path, ids))
    stores = {}
    for name, (flags, svc) in sensors.items():
        store = flags.get("store")
        if not store:
            err("%s: sensor %s has no --store" % (path, name))
            continue
        mounts = {}
        for v in svc.get("volumes") or []:
            src, _, rest = v.partition(":")
            mounts[rest.split(":")[0]] = src
        vol = [src for dst, src in mounts.items() if store.startswith(dst.rstrip("/") + "/")]
        if not vol:
            err("%s: sensor %s keeps its store %s outside its volumes" % (path, name, store))
        elif vol[0] in stores:
            err("%s: sensors %s and %s share the volume %s" % (path, stores[vol[0]], name,
                                                              vol[0]))
        else:
            stores[vol[0]] = name
    streams = {f.get("jetstream") for f, _ in sensors.values()}
    for name, svc in services.items():
        args = [str(a) for a in svc.get("command") or []]
        if subcommand(args)[:2] == ["kaspa", "collect"]:
            js = flag_args(args[2:]).get("jetstream")
            if streams != {js}:
                err("%s: collect reads stream %s, the sensors write %s" % (path, js, streams))
    with open(prometheus_path) as f:
        prom = yaml.safe_load(f)
    jobs = {j["job_name"]: j for j in prom.get("scrape_configs", [])}
    want = {"%s:%s" % (n, f.get("metrics", "").rpartition(":")[2]) for n, (f, _) in sensors.items()}
    job = jobs.get("vigil-kaspa")
    got = {t for sc in (job or {}).get("static_configs", []) for t in sc.get("targets", [])}
    if got != want:
        err("%s: job vigil-kaspa scrapes %s, the sensors' metrics are %s" %
            (prometheus_path, sorted(got), sorted(want)))
    prom_mounts = [v for svc in services.values() if "prometheus" in svc.get("image", "")
                   for v in svc.get("volumes") or []]
    if not any(v.split(":")[0] == "./" + os.path.basename(prometheus_path) for v in prom_mounts):
        err("%s: no Prometheus service mounts %s" % (path, prometheus_path))
    print("%d services, %d sensors checked" % (len(services), len(sensors)))


def cmd_kaspa_k8s(rendered, prometheus_path):
    objs = load_objects(rendered)
    check_references(objs, secrets={"kaspa-postgres": {"dsn"}})
    for ns in by_kind(objs, "Namespace"):
        if ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") != \
                "restricted":
            err("Namespace %s does not enforce the restricted Pod Security Standard" %
                ns["metadata"]["name"])
    for ns, labels, spec, w in pods(objs):
        where = "%s/%s" % (ns, w["metadata"]["name"])
        if spec.get("automountServiceAccountToken") is not False:
            err("%s: mounts a ServiceAccount token it does not need" % where)
        for c in spec["containers"]:
            sc = container_sc(spec, c)
            cw = "%s container %s" % (where, c["name"])
            if sc.get("runAsNonRoot") is not True or sc.get("runAsUser", 0) == 0:
                err("%s: not non-root (runAsNonRoot and a non-zero runAsUser)" % cw)
            if sc.get("readOnlyRootFilesystem") is not True:
                err("%s: root file system not read-only" % cw)
            if sc.get("allowPrivilegeEscalation") is not False:
                err("%s: allowPrivilegeEscalation is not false" % cw)
            if (sc.get("capabilities") or {}).get("drop") != ["ALL"] or \
                    (sc.get("capabilities") or {}).get("add"):
                err("%s: capabilities are not exactly drop ALL" % cw)
            if (sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                err("%s: no RuntimeDefault seccomp profile" % cw)
            res = c.get("resources") or {}
            for k in ("requests", "limits"):
                if not {"cpu", "memory"} <= set((res.get(k) or {}).keys()):
                    err("%s: resources.%s lacks cpu or memory" % (cw, k))
    sensors = [w for w in workloads(objs) if any(
        c.get("args", [])[:2] == ["kaspa", "sensor"] for c in w["spec"]["template"]["spec"]
        ["containers"])]
    if len(sensors) != 1:
        err("one sensor workload expected, found %d" % len(sensors))
        return
    sts = sensors[0]
    spec = sts["spec"]["template"]["spec"]
    c = [c for c in spec["containers"] if c.get("args", [])[:2] == ["kaspa", "sensor"]][0]
    flags = flag_args(c["args"][2:])
    env = {e["name"]: e for e in c.get("env", [])}
    refs = re.findall(r"\$\((\w+)\)", str(flags.get("sensor-id", "")))
    if not any(((env.get(r) or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
               == "metadata.name" for r in refs):
        err("sensor: --sensor-id %r does not take the pod name (downward API metadata.name)" %
            flags.get("sensor-id"))
    if sts["kind"] != "StatefulSet":
        err("sensor: a StatefulSet expected (stable pod names, one volume per sensor)")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if ((c.get(probe) or {}).get("httpGet") or {}).get("path") != path:
            err("sensor: %s is not an HTTP GET of %s" % (probe, path))
    store_dir = os.path.dirname(str(flags.get("store", "")))
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    if not any(m["mountPath"].rstrip("/") == store_dir and m["name"] in claims
               for m in c.get("volumeMounts", [])):
        err("sensor: --store %s is not on the pod's own volume" % flags.get("store"))
    if not str(flags.get("spool", "")).startswith(store_dir + "/"):
        err("sensor: --spool %s is not on the pod's volume (the default is not writable)" %
            flags.get("spool"))
    if not spec.get("securityContext", {}).get("fsGroup"):
        err("sensor: no fsGroup: the volume would not be writable by the vigil user")
    p2p = [s for s in by_kind(objs, "Service") if s["spec"].get("type") in
           ("LoadBalancer", "NodePort") and any(p.get("port") == 16111
                                                for p in s["spec"]["ports"])]
    if not p2p:
        err("no LoadBalancer or NodePort Service for 16111")
    for s in p2p:
        if s["spec"].get("externalTrafficPolicy") != "Local":
            err("Service %s: externalTrafficPolicy must be Local (the sensor logs and probes "
                "the peer's own address)" % s["metadata"]["name"])
    with open(prometheus_path) as f:
        prom = yaml.safe_load(f)
    job = [j for j in prom.get("scrape_configs", []) if j["job_name"] == "vigil-kaspa"]
    names = [(n, sd.get("port")) for j in job for sd in j.get("dns_sd_configs", [])
             for n in sd.get("names", [])]
    if not names:
        err("%s: no dns_sd_configs in job vigil-kaspa" % prometheus_path)
    for n, port in names:
        svc_name, svc_ns = (n.split(".") + ["", ""])[:2]
        svc = find(objs, "Service", svc_ns, svc_name)
        if svc and (svc["spec"].get("clusterIP") != "None" or
                    port not in [p["port"] for p in svc["spec"]["ports"]]):
            err("Service %s/%s: headless with port %s expected (Prometheus job vigil-kaspa)" %
                (svc_ns, svc_name, port))
        if svc and not selects({"matchLabels": svc["spec"].get("selector")},
                               sts["spec"]["template"]["metadata"]["labels"]):
            err("Service %s/%s does not select the sensors" % (svc_ns, svc_name))
    metrics_open = any(
        selects(np["spec"].get("podSelector"), sts["spec"]["template"]["metadata"]["labels"]) and
        any(any(p.get("port") in (9105, "metrics") for p in r.get("ports", [])) and
            any((f.get("namespaceSelector") or {}).get("matchLabels", {}).get(
                "kubernetes.io/metadata.name") == "monitoring" for f in r.get("from", []))
            for r in np["spec"].get("ingress", []))
        for np in by_kind(objs, "NetworkPolicy"))
    if not metrics_open:
        err("no NetworkPolicy lets Prometheus (namespace monitoring) reach the sensors' 9105")
    print("%d objects of the Kaspa fleet checked" % len(objs))


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "schema":
        cmd_schema(args[0])
    elif cmd == "invariants":
        cmd_invariants(args[0], args[1])
    elif cmd == "metrics":
        cmd_metrics(args)
    elif cmd == "exposition":
        cmd_exposition(args[0], args[1])
    elif cmd == "scrape":
        cmd_scrape(args[0], args[1], args[2])
    elif cmd == "live":
        cmd_live(args)
    elif cmd == "alert-tests":
        cmd_alert_tests(args[0], args[1])
    elif cmd == "configmap":
        cmd_configmap(args[0], args[1], args[2:])
    elif cmd == "dockerfile":
        cmd_dockerfile(*args[:3])
    elif cmd == "compose":
        cmd_compose(args[0], args[1], args[2])
    elif cmd == "kaspa-k8s":
        cmd_kaspa_k8s(args[0], args[1])
    elif cmd == "vigil-flags":
        cmd_vigil_flags(args[0], args[1], args[2:])
    elif cmd == "names":  # debugging aid: the metric names of one expression
        print(" ".join(sorted(metric_names(args[0]))))
        return 0
    else:
        print(__doc__)
        return 2
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
