"""Checks the files under deploy/ with what this machine can check.

Usage: python3 scripts/deploy_check.py SLUICE_BINARY METRICS_FILE
  METRICS_FILE holds a live node's /metrics text after some traffic.

- every YAML file parses, the dashboard is JSON;
- every metric the dashboard and the alert rules query is one Sluice registers (Sources/SluiceServer/
  Metrics/SluiceMetrics.swift), and the histograms they read (_bucket, _count, _sum) are in the live text;
- the systemd unit passes `systemd-analyze verify` (with ExecStart pointed at the built binary);
- the commands the unit, the Dockerfile and the compose file run use only options `sluice serve --help` lists;
- deploy/sluice.yaml passes `sluice check-config`.
Prints "deploy-check: ok" when all pass; exits 1 with every problem otherwise.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
deploy = root / "deploy"
binary, metrics_file = os.path.abspath(sys.argv[1]), sys.argv[2]
problems = []

for path in sorted(deploy.rglob("*.y*ml")):
    try:
        yaml.safe_load(path.read_text())
    except Exception as error:
        problems.append(f"{path.relative_to(root)}: not YAML: {error}")
dashboard_path = deploy / "grafana/sluice-dashboard.json"
dashboard = json.loads(dashboard_path.read_text())
alerts = yaml.safe_load((deploy / "prometheus/alerts.yml").read_text())

expressions = []
def walk(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "expr" and isinstance(item, str):
                expressions.append(item)
            else:
                walk(item)
    elif isinstance(value, list):
        for item in value:
            walk(item)
walk(dashboard)
walk(alerts)
if len(expressions) < 10:
    problems.append(f"only {len(expressions)} queries found in the dashboard and rules")

registered = set(re.findall(r'"(sluice_[a-z_]+)"', (root / "Sources/SluiceServer/Metrics/SluiceMetrics.swift").read_text()))
live = set(re.findall(r"^(sluice_[a-z_]+)", pathlib.Path(metrics_file).read_text(), re.M))
queried = set()
for expression in expressions:
    queried |= set(re.findall(r"\b(sluice_[a-z_]+)", expression))
for name in sorted(queried):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name not in registered and base not in registered:
        problems.append(f"{name} is queried but Sluice exports no such metric")
    elif name != base and name not in live:
        problems.append(f"{name} is queried but a live node's /metrics has no such series")

unit = (deploy / "systemd/sluice.service").read_text()
with tempfile.TemporaryDirectory() as directory:
    copy = pathlib.Path(directory) / "sluice.service"
    copy.write_text(unit.replace("/usr/local/bin/sluice", os.path.abspath(binary)))
    if shutil.which("systemd-analyze") is None:
        problems.append("systemd-analyze is not installed")
    else:
        verify = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
        messages = [line for line in (verify.stdout + verify.stderr).splitlines() if "sluice.service" in line]
        if verify.returncode != 0 or messages:
            problems.append(f"systemd-analyze verify: {verify.returncode} {messages}")

help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
options = set(re.findall(r"(--[a-z-]+)", help_text))
commands = []
for line in unit.splitlines():
    if line.startswith("ExecStart="):
        commands.append(line.split("=", 1)[1].split()[1:])
dockerfile = (deploy / "docker/Dockerfile").read_text()
for match in re.finditer(r'^CMD (\[.*\])', dockerfile, re.M):
    commands.append(json.loads(match.group(1)))
compose = yaml.safe_load((deploy / "compose.yaml").read_text())
for name, service in (compose.get("services") or {}).items():
    command = service.get("command")
    if isinstance(command, list) and command and command[0] == "serve":
        commands.append(command)
    elif isinstance(command, str) and command.startswith("serve"):
        commands.append(command.split())
if not commands:
    problems.append("no `sluice serve` command found in the unit, the Dockerfile or the compose file")
for command in commands:
    if command[0] != "serve":
        problems.append(f"a command does not run `sluice serve`: {command}")
    for word in command:
        if word.startswith("--") and word.split("=")[0] not in options:
            problems.append(f"{word} (in {command}) is not an option of `sluice serve`")

with tempfile.TemporaryDirectory() as directory:
    check = subprocess.run(
        [binary, "check-config", "--config", str(deploy / "sluice.yaml")], cwd=directory,
        capture_output=True, text=True, env={k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")})
    if check.returncode != 0:
        problems.append(f"sluice check-config deploy/sluice.yaml: {check.stdout} {check.stderr}")

if problems:
    for problem in problems:
        print("deploy-check: FAILED:", problem)
    sys.exit(1)
print(f"deploy-check: ok ({len(expressions)} queries, {len(queried)} metrics, {len(commands)} commands)")
