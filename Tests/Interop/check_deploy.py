#!/usr/bin/env python3
"""Static checks of the container files, since no Docker engine runs here:

    check_deploy.py BINARIES_DIR

- every services/*/Dockerfile passes hadolint (settings in .hadolint.yaml);
- it builds a product that Package.swift declares, copies that binary into the
  runtime image and makes it the ENTRYPOINT; its COPY sources exist;
- the runtime image installs the shared libraries the C modules link
  (libnghttp2, libprotobuf-c, libsqlite3);
- every flag in its CMD, and in every compose command, is one that the built
  executable's --help lists, and EXPOSE covers the ports it listens on;
- `docker-compose config` accepts compose/compose.yaml in both profiles, and
  every service a command points at (`--registry decision-1:7002`) exists in the
  same profile and listens on that port;
- the config files the compose file mounts parse.

Prints one line per problem and exits 1 when there is any.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LIBRARIES = ["libnghttp2-14", "libprotobuf-c1", "libsqlite3-0"]
problems = []


def problem(text):
    problems.append(text)


def executable_products():
    text = (ROOT / "Package.swift").read_text()
    return set(re.findall(r'\.executableTarget\(\s*name:\s*"([^"]+)"', text))


def help_flags(binaries, product, cache={}):
    if product not in cache:
        path = Path(binaries) / product
        if not path.exists():
            problem(f"{path} is missing; build the package first")
            cache[product] = set()
        else:
            out = subprocess.run([str(path), "--help"], capture_output=True, text=True).stdout
            cache[product] = set(re.findall(r"--[a-z][a-z0-9-]*", out))
    return cache[product]


def instructions(dockerfile):
    """(keyword, argument text) per instruction, with continuation lines joined."""
    lines, current = [], ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += " " + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest.strip()))
            current = ""
    return lines


def listen_port(args):
    for flag, value in zip(args, args[1:]):
        if flag == "--listen":
            return int(value.rsplit(":", 1)[1])
    return None


def check_dockerfile(path, binaries, products):
    name = path.relative_to(ROOT)
    result = subprocess.run(["hadolint", "--config", str(ROOT / ".hadolint.yaml"), str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        problem(f"{name}: hadolint: {result.stdout.strip() or result.stderr.strip()}")
    steps = instructions(path)
    built = [p for k, a in steps if k == "RUN" for p in re.findall(r"--product\s+(\S+)", a)]
    entry = [json.loads(a) for k, a in steps if k == "ENTRYPOINT"]
    cmd = [json.loads(a) for k, a in steps if k == "CMD"]
    if not entry or not cmd:
        problem(f"{name}: needs ENTRYPOINT and CMD in exec form")
        return None
    product = Path(entry[-1][0]).name
    if product not in products:
        problem(f"{name}: ENTRYPOINT runs {product}, which Package.swift does not declare as an executable")
    if product not in built:
        problem(f"{name}: the build stage never builds --product {product}")
    runtime_copies = [a for k, a in steps if k == "COPY" and a.startswith("--from=build")]
    if not any(product in a for a in runtime_copies):
        problem(f"{name}: the runtime stage does not copy {product} from the build stage")
    for keyword, argument in steps:
        if keyword == "COPY" and not argument.startswith("--from"):
            for source in shlex.split(argument)[:-1]:
                if not (ROOT / source).exists():
                    problem(f"{name}: COPY source {source} does not exist")
    installs = " ".join(a for k, a in steps if k == "RUN" and "apt-get install" in a)
    for library in RUNTIME_LIBRARIES:
        if library not in installs:
            problem(f"{name}: the runtime image does not install {library}")
    flags = help_flags(binaries, product)
    for flag in (a for a in cmd[-1] if a.startswith("--")):
        if flag not in flags:
            problem(f"{name}: CMD flag {flag} is not an option of {product}")
    exposed = {int(p.split("/")[0]) for k, a in steps if k == "EXPOSE" for p in a.split()}
    port = listen_port(cmd[-1])
    if port and port not in exposed:
        problem(f"{name}: listens on {port} but EXPOSEs {sorted(exposed)}")
    return product


def check_compose(binaries, dockerfile_products):
    compose_dir = ROOT / "compose"
    for profiles in ["embedded", "postgres"]:
        env = dict(os.environ, COMPOSE_PROFILES=profiles)
        result = subprocess.run(["docker-compose", "-f", "compose.yaml", "config"], cwd=compose_dir, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            problem(f"compose ({profiles}): docker-compose config refused it: {result.stderr.strip()}")
            continue
        import yaml  # docker-compose's resolved output

        config = yaml.safe_load(result.stdout)
        services = {name: s for name, s in config["services"].items() if profiles in s.get("profiles", [profiles])}
        listening = {}
        for name, service in services.items():
            command = service.get("command") or []
            if "build" in service:
                dockerfile = Path(service["build"]["context"]) / service["build"].get("dockerfile", "Dockerfile")
                product = dockerfile_products.get(dockerfile.resolve())
                if product is None:
                    problem(f"compose ({profiles}) {name}: builds {dockerfile}, which is not a checked service Dockerfile")
                    continue
                flags = help_flags(binaries, product)
                for flag in (a for a in command if a.startswith("--")):
                    if flag not in flags:
                        problem(f"compose ({profiles}) {name}: flag {flag} is not an option of {product}")
                listening[name] = listen_port(command)
        for name, service in services.items():
            command = service.get("command") or []
            for flag, value in zip(command, command[1:]):
                if flag in ("--registry", "--decision", "--exceptions"):
                    host, _, port = value.rpartition(":")
                    if host not in services:
                        problem(f"compose ({profiles}) {name}: {flag} {value} names no service of this profile")
                    elif listening.get(host) not in (None, int(port)):
                        problem(f"compose ({profiles}) {name}: {flag} {value}, but {host} listens on {listening[host]}")
    for config_file in (compose_dir / "config").rglob("*.json"):
        try:
            json.loads(config_file.read_text())
        except ValueError as error:
            problem(f"{config_file.relative_to(ROOT)}: not JSON: {error}")


def main(binaries):
    products = executable_products()
    dockerfiles = sorted(ROOT.glob("services/*/Dockerfile"))
    if len(dockerfiles) < 3:
        problem(f"expected a Dockerfile per service, found {[str(d.relative_to(ROOT)) for d in dockerfiles]}")
    dockerfile_products = {}
    for dockerfile in dockerfiles:
        product = check_dockerfile(dockerfile, binaries, products)
        if product:
            dockerfile_products[dockerfile.resolve()] = product
    check_compose(binaries, dockerfile_products)
    for text in problems:
        print(text)
    print(f"check_deploy: {len(dockerfiles)} Dockerfiles, compose in 2 profiles, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
