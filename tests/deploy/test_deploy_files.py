"""deploy/: the Kubernetes manifests validate offline against a fixed Kubernetes version's
schemas (strict: unknown fields fail), the compose file parses and holds what it promises, and
the gateway configs inside both are valid gateway configs: each trusts exactly the proxy in
front of it for client addresses, and keeps /metrics off the public path."""

import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from gateway.config import GatewaySettings, load_settings, parse_listen
from port_resolvers.sim.reference import PORT_IDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.29"
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"


def manifests() -> dict[str, dict[str, Any]]:
    docs = [
        doc
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]
    return {doc["kind"]: doc for doc in docs}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_manifests_validate_strictly_against_the_kubernetes_schemas() -> None:
    files = sorted(str(p) for p in (DEPLOY / "k8s").glob("*.yaml"))
    done = subprocess.run(
        [str(VALIDATOR), "--strict", "-k", KUBERNETES_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == len(files)


def test_the_manifests_hold_every_part_of_a_deployment() -> None:
    kinds = set(manifests())
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "ConfigMap",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
    } <= kinds


def test_the_deployment_probes_limits_runs_unprivileged_and_takes_secrets_by_reference() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    secret_refs = [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    assert {e["name"] for e in secret_refs} == {"PORTGATE_AUDIT__STORE", "PORTGATE_REGISTRY__STORE"}
    assert "Secret" not in manifests()  # referenced, never written down


def test_the_configmap_holds_a_valid_gateway_config(tmp_path: Path) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text(manifests()["ConfigMap"]["data"]["portgate.yaml"], encoding="utf-8")
    settings = load_settings(config)
    assert [p.id for p in settings.ports] == list(PORT_IDS)


def test_compose_runs_two_gateways_behind_a_balancer_with_the_shared_services() -> None:
    services = compose()["services"]
    assert set(services) == {
        "lb",
        "gateway",
        "sim-ports",
        "redis",
        "postgres",
        "otel-collector",
        "jaeger",
    }
    assert services["gateway"]["deploy"]["replicas"] == 2
    for name in ("gateway", "sim-ports", "lb", "redis", "postgres"):
        assert "test" in services[name]["healthcheck"], name
    assert "/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert services["gateway"]["depends_on"]["sim-ports"]["condition"] == "service_healthy"
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "server gateway:8000" in nginx


def test_the_compose_gateway_config_is_valid_and_names_the_simulated_resolvers() -> None:
    settings = load_settings(DEPLOY / "portgate.compose.yaml")
    command = compose()["services"]["sim-ports"]["command"]
    base = int(command[command.index("--base-port") + 1])
    expected = [f"http://sim-ports:{base + 2 * i + 1}/graphql" for i in range(len(PORT_IDS))]
    assert [str(p.url) for p in settings.ports] == expected
    assert [p.id for p in settings.ports] == list(PORT_IDS)
    # Egress: exactly those resolvers on compose's private network, nothing else there.
    assert [f"http://{h}/graphql" for h in settings.registry.egress.hosts] == expected


def test_the_image_is_multi_stage_non_root_with_a_healthcheck() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile


def configmap_settings(tmp_path: Path) -> GatewaySettings:
    config = tmp_path / "portgate.yaml"
    config.write_text(manifests()["ConfigMap"]["data"]["portgate.yaml"], encoding="utf-8")
    return load_settings(config)


def test_behind_nginx_in_compose_only_nginx_is_trusted_for_client_addresses() -> None:
    services = compose()["services"]
    lb_address = services["lb"]["networks"]["default"]["ipv4_address"]
    [subnet] = compose()["networks"]["default"]["ipam"]["config"]
    assert ipaddress.ip_address(lb_address) in ipaddress.ip_network(subnet["subnet"])
    settings = load_settings(DEPLOY / "portgate.compose.yaml")
    assert settings.server.trusted_proxies == (f"{lb_address}/32",)
    assert settings.server.client_ip_header == "x-forwarded-for"
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "client_header_timeout" in nginx


def test_in_compose_metrics_are_on_their_own_port_and_never_published() -> None:
    settings = load_settings(DEPLOY / "portgate.compose.yaml")
    assert settings.metrics.listen is not None
    _, port = parse_listen(settings.metrics.listen)
    gateway = compose()["services"]["gateway"]
    assert "ports" not in gateway  # nothing of a gateway is published but through lb
    command = gateway["command"]
    assert port != int(command[command.index("--port") + 1])


def test_in_kubernetes_the_ingress_controller_is_trusted_and_alone_reaches_the_api(
    tmp_path: Path,
) -> None:
    settings = configmap_settings(tmp_path)
    assert settings.server.trusted_proxies
    ingress = manifests()["Ingress"]
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    service = manifests()["Service"]
    assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    assert path["backend"]["service"]["port"]["name"] == "http"
    policy = manifests()["NetworkPolicy"]["spec"]
    pod_labels = manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    api_rules = [r for r in policy["ingress"] if {"port": "http", "protocol": "TCP"} in r["ports"]]
    [api_rule] = api_rules
    [source] = api_rule["from"]
    assert "ingress" in str(source["namespaceSelector"]["matchLabels"])


def test_in_kubernetes_metrics_are_scraped_from_their_own_port(tmp_path: Path) -> None:
    settings = configmap_settings(tmp_path)
    assert settings.metrics.listen is not None
    _, port = parse_listen(settings.metrics.listen)
    template = manifests()["Deployment"]["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    (container,) = template["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == port
    assert ports["http"] != port
    # The Service (and so the Ingress) exposes the API only.
    assert [p["targetPort"] for p in manifests()["Service"]["spec"]["ports"]] == ["http"]
    grace = template["spec"]["terminationGracePeriodSeconds"]
    assert settings.server.shutdown_timeout < grace
