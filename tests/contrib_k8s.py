"""Checks of contrib/k8s for tests/contrib-verify.sh.

  contrib_k8s.py files  OUTDIR
      Without kubectl: the two shipped configurations agree (the monitor
      overlay's is the base's plus server:), no manifest holds a Secret;
      writes OUTDIR/base.yaml and OUTDIR/monitor.yaml for `flipper validate`.
  contrib_k8s.py render OVERLAY RENDERED.yaml OUTDIR
      On `kubectl kustomize contrib/k8s/overlays/OVERLAY`: the objects hang
      together, the Secret is absent, the pods are locked down, and the
      shutdown allowances cover a round in hand. Writes the mounted
      flipper.yaml to OUTDIR/OVERLAY-flipper.yaml for `flipper validate`.

Prints one problem per line and exits 1 when there are any.
"""

import glob
import os
import re
import sys

import yaml

K8S = "contrib/k8s"
problems = []


def want(cond, what):
    if not cond:
        problems.append(what)


def duration(text):
    """Seconds in a Go duration ("1m30s", "1500ms")."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def delivery_budget():
    """Seconds a round may spend delivering notifications, from the source."""
    for path in sorted(glob.glob("src/*.c")):
        m = re.search(r"#define DELIVERY_BUDGET_MS\s+(\d+)", open(path).read())
        if m:
            return int(m.group(1)) / 1000
    problems.append("src/*.c: no DELIVERY_BUDGET_MS; the shutdown allowance check needs it")
    return 0


def round_budget(cfg):
    """The longest a round in hand may take after SIGTERM: per group (one
    after another) the inventory (poll_timeout), the slowest check and the
    apply (plan_apply_timeout), then the heartbeat and delivery."""
    total = 0
    for g in cfg.get("groups") or []:
        checks = g.get("checks") or []
        total += duration(g.get("poll_timeout", "20s"))
        total += max([duration(c.get("timeout", "10s")) for c in checks] or [0])
        total += duration(g.get("plan_apply_timeout", "30s"))
    hb = cfg.get("heartbeat") or {}
    if hb.get("enabled"):
        total += duration(hb.get("timeout", "10s"))
    return total + delivery_budget()


def secret_keys_documented():
    """Keys that README.md's `kubectl create secret ... flipper-secrets` makes."""
    text = open(os.path.join(K8S, "README.md")).read()
    m = re.search(r"kubectl create secret generic flipper-secrets((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        problems.append(f"{K8S}/README.md: no `kubectl create secret generic flipper-secrets` command")
        return set()
    return set(re.findall(r"--from-(?:file|literal)=([a-z0-9-]+)=", m.group(1)))


def check_files(outdir):
    base = yaml.safe_load(open(os.path.join(K8S, "base/flipper.yaml")))
    mon = yaml.safe_load(open(os.path.join(K8S, "overlays/monitor/config/flipper.yaml")))
    server = mon.pop("server", None)
    want(mon == base, "overlays/monitor/config/flipper.yaml differs from base/flipper.yaml "
         "in more than server:")
    want(isinstance(server, dict) and server.get("enabled") is True,
         "overlays/monitor/config/flipper.yaml: server.enabled is not true")
    want("server" not in base, "base/flipper.yaml: server: belongs to the monitor overlay")
    for path in glob.glob(os.path.join(K8S, "**/*.yaml"), recursive=True):
        for doc in yaml.safe_load_all(open(path)):
            want(not (isinstance(doc, dict) and doc.get("kind") == "Secret"),
                 f"{path}: a Secret in the repository (create it with kubectl instead)")
    for name in ("base", "monitor"):
        src = "base/flipper.yaml" if name == "base" else "overlays/monitor/config/flipper.yaml"
        with open(os.path.join(outdir, f"{name}.yaml"), "w") as f:
            f.write(open(os.path.join(K8S, src)).read())


def check_render(overlay, rendered, outdir):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    want("Secret" not in by_kind, f"{overlay}: the render holds a Secret")
    want("PodTemplate" not in by_kind, f"{overlay}: base/pod.yaml leaked into the render")
    workloads = by_kind.get("CronJob", []) + by_kind.get("Deployment", [])
    want(len(workloads) == 1, f"{overlay}: {len(workloads)} workloads, want exactly one")
    if not workloads:
        return
    w = workloads[0]
    for d in docs:
        want(d["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "flipper",
             f"{overlay}: {d['kind']} {d['metadata']['name']} lacks app.kubernetes.io/name")

    if w["kind"] == "CronJob":
        want(overlay == "cronjob", f"{overlay}: renders a CronJob")
        spec = w["spec"]
        job = spec["jobTemplate"]["spec"]
        pod = job["template"]["spec"]
        want(spec.get("concurrencyPolicy") == "Forbid", "cronjob: concurrencyPolicy Forbid")
        want(spec.get("schedule") == "* * * * *", "cronjob: schedule every minute")
        want(job.get("backoffLimit") == 0, "cronjob: backoffLimit 0 (the next run is the retry)")
        # Failed Jobs (and their pods' logs) are kept for a day.
        want(job.get("ttlSecondsAfterFinished", 0) >= 86400,
             "cronjob: ttlSecondsAfterFinished keeps failed Jobs less than a day")
        want(spec.get("failedJobsHistoryLimit", 1) >= 1440,
             "cronjob: failedJobsHistoryLimit drops a day of once-a-minute failures")
        want(spec.get("successfulJobsHistoryLimit", 3) <= 3,
             "cronjob: successfulJobsHistoryLimit keeps too many successful Jobs")
    else:
        want(overlay == "monitor", f"{overlay}: renders a Deployment")
        spec = w["spec"]
        pod = spec["template"]["spec"]
        want(spec.get("replicas") == 1, "monitor: replicas 1")
        want(spec.get("strategy", {}).get("type") == "Recreate", "monitor: strategy Recreate")
        sel = spec.get("selector", {}).get("matchLabels", {})
        labels = spec["template"]["metadata"].get("labels", {})
        want(sel and all(labels.get(k) == v for k, v in sel.items()),
             "monitor: the selector does not match the pod labels")

    c = (pod.get("containers") or [{}])[0]
    args = c.get("args") or []
    want(args[:2] == ["-c", "/etc/flipper/flipper.yaml"], f"{overlay}: -c /etc/flipper/flipper.yaml")
    psc = pod.get("securityContext", {})
    want(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532,
         f"{overlay}: pod runAsNonRoot, runAsUser 65532")
    want(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{overlay}: pod seccomp")
    csc = c.get("securityContext", {})
    want(csc.get("readOnlyRootFilesystem") is True, f"{overlay}: readOnlyRootFilesystem")
    want(csc.get("allowPrivilegeEscalation") is False, f"{overlay}: allowPrivilegeEscalation false")
    want(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{overlay}: capabilities drop ALL")
    want(c.get("resources", {}).get("requests") and c.get("resources", {}).get("limits"),
         f"{overlay}: resources requests and limits")
    want(pod.get("automountServiceAccountToken") is False, f"{overlay}: no service account token")

    env = {e["name"]: e for e in c.get("env", [])}
    want(env.get("FLIPPER_STATE", {}).get("value") == "/var/lib/flipper/flipper.db",
         f"{overlay}: FLIPPER_STATE=/var/lib/flipper/flipper.db")
    want("secretKeyRef" in env.get("HCLOUD_TOKEN", {}).get("valueFrom", {}),
         f"{overlay}: HCLOUD_TOKEN from the Secret")
    documented = secret_keys_documented()
    for name, e in env.items():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            want(ref.get("name") == "flipper-secrets", f"{overlay}: env {name} names another Secret")
            want(ref.get("key") in documented,
                 f"{overlay}: env {name} needs key {ref.get('key')}, which README.md's "
                 "kubectl create secret does not make")

    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    cm_mount = mounts.get("/etc/flipper")
    cm_name = cm_mount and vols.get(cm_mount["name"], {}).get("configMap", {}).get("name")
    want(("ConfigMap", cm_name) in names, f"{overlay}: /etc/flipper is not a rendered ConfigMap")
    state = mounts.get("/var/lib/flipper")
    state_vol = vols.get(state["name"], {}) if state else {}
    if overlay == "cronjob":
        claim = state_vol.get("persistentVolumeClaim", {}).get("claimName")
        want(("PersistentVolumeClaim", claim) in names,
             "cronjob: /var/lib/flipper is not the rendered PersistentVolumeClaim")
    else:
        want("emptyDir" in state_vol, "monitor: /var/lib/flipper is not an emptyDir")
        want("PersistentVolumeClaim" not in by_kind, "monitor: renders a PersistentVolumeClaim")

    cms = [d for d in by_kind.get("ConfigMap", []) if d["metadata"]["name"] == cm_name]
    text = cms[0].get("data", {}).get("flipper.yaml") if cms else None
    want(isinstance(text, str), f"{overlay}: the mounted ConfigMap has no flipper.yaml")
    if not isinstance(text, str):
        return
    with open(os.path.join(outdir, f"{overlay}-flipper.yaml"), "w") as f:
        f.write(text)
    cfg = yaml.safe_load(text)

    # Room for the round in hand after SIGTERM, and for the whole run.
    need = round_budget(cfg)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    want(grace >= need, f"{overlay}: terminationGracePeriodSeconds {grace} < {need:g} s, "
         "a round in hand (poll_timeout + check timeout + plan_apply_timeout + delivery)")
    if overlay == "cronjob":
        want("--for" in args, "cronjob: reconcile --for")
        run = duration(args[args.index("--for") + 1]) if "--for" in args else 0
        deadline = w["spec"]["jobTemplate"]["spec"].get("activeDeadlineSeconds", 0)
        want(deadline >= run + need,
             f"cronjob: activeDeadlineSeconds {deadline} < --for {run:g} s + a round in hand "
             f"{need:g} s")

    if overlay == "monitor":
        want("monitor" in args, "monitor: runs flipper monitor")
        server = cfg.get("server") or {}
        port = server.get("port", 9521)
        want(server.get("enabled") is True, "monitor: flipper.yaml does not enable server")
        want(server.get("host") in ("0.0.0.0", "::"),
             "monitor: server.host must be the pod's address for probes and scrapes")
        # Answers in progress get shutdown_timeout after SIGTERM, beside
        # the round in hand; the grace period must cover it too.
        stop = duration(server.get("shutdown_timeout", "5s"))
        want(grace >= stop, f"monitor: terminationGracePeriodSeconds {grace} < "
             f"server.shutdown_timeout {stop:g} s")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe"):
            h = c.get(probe, {}).get("httpGet", {})
            p = ports.get(h.get("port"), h.get("port"))
            want(h.get("path") == "/v1/health" and p == port,
                 f"monitor: {probe} is not GET /v1/health on server.port {port}")
        ann = w["spec"]["template"]["metadata"].get("annotations", {})
        want(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port)
             and ann.get("prometheus.io/path") == "/metrics",
             "monitor: no Prometheus scrape annotations for /metrics on server.port")


def main():
    if sys.argv[1] == "files":
        check_files(sys.argv[2])
    else:
        check_render(sys.argv[2], sys.argv[3], sys.argv[4])
    if problems:
        print("\n".join(problems))
        sys.exit(1)


main()
