#!/usr/bin/python3
"""Checks deploy/kubernetes the way an operator's `kubectl apply -k` would need it to be, without a
cluster: every manifest parses and is a well-formed object, the kustomization lists files that
exist, and the StatefulSet keeps the promises deploy/README.md makes (the preStop drain fits in the
grace period, readiness follows DERP, liveness survives a drain, the admin socket and the mesh list
are where the flags say). The flags in the ConfigMap are parsed by the derpd just built.

Usage: check_kubernetes.py DERPD_BINARY MANIFEST_FOLDER
"""
import pathlib
import re
import shlex
import subprocess
import sys

import yaml

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def duration_seconds(text):
    match = re.fullmatch(r"(\d+)(s|m)", text)
    if not match:
        return None
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def main():
    derpd, folder = sys.argv[1], pathlib.Path(sys.argv[2])
    docs = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            name = f"{path.name}: {doc.get('kind')}"
            check(isinstance(doc.get("apiVersion"), str), f"{name}: no apiVersion")
            check(isinstance(doc.get("kind"), str), f"{name}: no kind")
            if doc.get("kind") != "Kustomization":
                check(doc.get("metadata", {}).get("name"), f"{name}: no metadata.name")
            docs.setdefault(doc.get("kind"), []).append(doc)

    kustomization = docs["Kustomization"][0]
    for resource in kustomization["resources"]:
        check((folder / resource).is_file(), f"kustomization.yaml lists missing {resource}")

    config = docs["ConfigMap"][0]["data"]
    statefulset = docs["StatefulSet"][0]
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    grace = pod["terminationGracePeriodSeconds"]

    command = container["lifecycle"]["preStop"]["exec"]["command"]
    check(command[:2] == ["/usr/local/bin/derpctl", "drain"],
          f"preStop must run derpctl drain, runs {command}")
    deadline = duration_seconds(command[command.index("--deadline") + 1]) \
        if "--deadline" in command else None
    if check(deadline is not None, "preStop derpctl drain needs --deadline Ns"):
        check(deadline < grace,
              f"preStop drain deadline {deadline}s must be below terminationGracePeriodSeconds {grace}")

    ready = container["readinessProbe"]["httpGet"]
    check(ready["path"] == "/derp/probe" and ready.get("scheme") == "HTTPS",
          f"readiness must follow DERP (/derp/probe over HTTPS), is {ready}")
    alive = container["livenessProbe"]["httpGet"]
    check(alive["path"] == "/generate_204" and alive["port"] == 80,
          f"liveness must stay up during a drain (/generate_204 on 80), is {alive}")

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    check("emptyDir" in volumes.get(mounts.get("/run/derpd"), {}),
          "the admin socket folder /run/derpd must be an emptyDir mount")
    flags_mount = [p for p, n in mounts.items() if "configMap" in volumes[n]]
    check(flags_mount == ["/etc/derpd/flags"], f"flags ConfigMap mounted at {flags_mount}")

    common = shlex.split(config["common"])
    check(common[common.index("--mesh-with-file") + 1] == "/etc/derpd/flags/mesh-with"
          if "--mesh-with-file" in common else False,
          "common flags must read the mesh list from the mounted mesh-with key")
    siblings = [line.split("#")[0].strip() for line in config["mesh-with"].splitlines()]
    siblings = [s for s in siblings if s]
    check(len(siblings) >= 2, f"mesh-with lists {siblings}")
    for node_key in [k for k in config if k.startswith("node.")]:
        argv = [derpd] + common + shlex.split(config[node_key]) + ["--version"]
        result = subprocess.run(argv, capture_output=True, text=True)
        check(result.returncode == 0,
              f"derpd refuses the flags of {node_key}: {result.stdout}{result.stderr}")
        hostname = shlex.split(config[node_key])
        if "--hostname" in hostname:
            check(hostname[hostname.index("--hostname") + 1] in siblings,
                  f"{node_key}'s --hostname is not in the mesh-with list")

    for failure in failures:
        print("FAIL:", failure)
    if failures:
        return 1
    print(f"deploy/kubernetes: {sum(len(v) for v in docs.values())} objects checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
