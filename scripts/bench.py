#!/usr/bin/env python3
"""The benchmark behind scripts/bench.sh: apply, no-op plan and destroy of
pipelines/lab.yaml and a generated big spec, through bench-proxy.py (AWS's
round trips and provisioning times, scaled) in front of the emulator.

For each spec and command it prints the median wall time over the runs,
the critical-path bound of the graph at the proxy's times, their ratio,
AWS calls per command and peak RSS.

The bound: the longest path through the resource graph where each
resource costs what AWS takes to make it usable (or gone) at the proxy's
times plus one round trip for its call, plus two round trips for the
command itself (reading the record, writing it). Role propagation counts
on the role (what uses it cannot start sooner); an encrypted stream's
encryption counts on the edge to a Firehose reading it (Firehose needs it
ACTIVE), not to anything else. A destroy's trigger and Firehose deletes
let what waits on them start once AWS accepted them, an instance
profile once its role is out of it, and a host once it is shutting down
lets its instance profile go (not its security group). A destroy is done
with a stream, Firehose or trigger once AWS reads it as being deleted
(two round trips); `destroy --wait` waits for them to be gone before the
record goes. No tool can finish sooner than the bound.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APPLY = {"stream": "stream", "firehose": "firehose", "role": "role", "instance_profile": "role",
         "trigger": "trigger", "agent": "instance"}
# Deletes that release what waits on them once AWS accepted them (an
# instance profile once its role is out of it), and a host shutting down,
# which releases its instance profile but not its security group.
RELEASED = {"trigger", "firehose", "instance_profile"}
RELEASED_TO = {"agent": {"instance_profile"}}
# Deletes a destroy leaves AWS to finish (without --wait).
FINISHING = {"trigger", "firehose", "stream"}
DESTROY = {"stream": "stream_delete", "firehose": "firehose_delete", "trigger": "trigger_delete",
           "agent": "instance_stop"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not start")


def graph(binary, spec, extra):
    dot = subprocess.run([binary, "graph", spec, *extra], check=True, capture_output=True, text=True).stdout
    nodes = re.findall(r'^\s*"([^"]+)" \[label', dot, re.M)
    edges = re.findall(r'^\s*"([^"]+)" -> "([^"]+)";', dot, re.M)
    return nodes, edges


def unencrypted_streams(spec):
    text = open(spec).read()
    m = re.search(r"^streams:\n((?:[ #].*\n|\n)*)", text, re.M)
    out, key = set(), None
    for line in (m.group(1) if m else "").splitlines():
        k = re.match(r"^  ([A-Za-z0-9_-]+):", line)
        if k:
            key = k.group(1)
        if key and re.match(r"^\s+encryption:\s*none", line):
            out.add(key)
    return out


def bound(nodes, edges, times, latency, destroy, plain_streams, wait=True):
    table = DESTROY if destroy else APPLY
    rt = latency / 1000.0

    def weight(n):
        kind = n.split(".")[0]
        if destroy and not wait and kind in FINISHING:
            return 2 * rt
        return times.get(table.get(kind, ""), 0.0) + rt

    deps = {n: [] for n in nodes}
    for a, b in edges:  # b depends on a
        if destroy:
            deps[a].append((b, 0.0))
        else:
            extra = 0.0
            if a.startswith("stream.") and b.startswith("firehose.") and a.split(".", 1)[1] not in plain_streams:
                extra = times["stream_update"]
            deps[b].append((a, extra))
    start, memo = {}, {}

    def begin(n):
        # When n can start: after what it waits on released it (a delete
        # AWS accepted releases at once; the record waits for the finish).
        if n not in start:
            start[n] = max((begin(d) + (rt if released(d, n) else weight(d)) + e for d, e in deps[n]), default=0.0)
        return start[n]

    def released(d, n):
        kind = d.split(".")[0]
        return destroy and not n.startswith("record.") and (
            kind in RELEASED or n.split(".")[0] in RELEASED_TO.get(kind, ()))

    for n in nodes:
        memo[n] = begin(n) + weight(n)
    return max(memo.values()) + 2 * rt


def run(binary, args, env, cwd, port):
    urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats?reset=1").read()
    start = time.perf_counter()
    proc = subprocess.Popen([binary, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats").read())
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"`pipectl {' '.join(args)}` exited {code}:\n{out[-3000:]}")
    return wall, stats["total"], usage.ru_maxrss / 1024.0, out, stats["calls"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--moto", required=True)
    p.add_argument("--latency-ms", type=float, default=30)
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--big", type=int, default=72, help="streams in the generated spec (0: skip it)")
    p.add_argument("--only", choices=["lab", "big"], help="one spec only")
    p.add_argument("--cli", action="store_true", help="also time the sequential CLI way for lab.yaml")
    p.add_argument("--calls", action="store_true", help="also print each command's calls by operation")
    p.add_argument("--stock-emulator", action="store_true",
                   help="run moto_server as it is, scanning its package folder on every request")
    a = p.parse_args()
    a.binary = os.path.abspath(a.binary)

    moto_port, proxy_port = free_port(), free_port()
    # moto's server, with its per-request folder scan done once
    # (scripts/bench-emulator.py), run by the Python it is installed in.
    python = os.path.join(os.path.dirname(a.moto), "python")
    server = [a.moto] if a.stock_emulator else [python, os.path.join(ROOT, "scripts", "bench-emulator.py")]
    moto = subprocess.Popen([*server, "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "bench-proxy.py"),
                              "--upstream", f"http://127.0.0.1:{moto_port}", "--port", str(proxy_port),
                              "--latency-ms", str(a.latency_ms), "--scale", str(a.scale)])
    work = tempfile.mkdtemp(prefix="pipectl-bench-")
    try:
        wait_port(moto_port, moto, "the emulator")
        wait_port(proxy_port, proxy, "the proxy")
        times = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{proxy_port}/__stats").read())["times"]
        env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy_port}", AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1",
                   NO_COLOR="1")
        env.pop("AWS_PROFILE", None)
        specs = []
        if a.only in (None, "lab"):
            specs.append(("lab.yaml", ROOT, "pipelines/lab.yaml", []))
        if a.big and a.only in (None, "big"):
            shutil.copytree(os.path.join(ROOT, "templates"), os.path.join(work, "templates"))
            os.makedirs(os.path.join(work, "pipelines"))
            spec = os.path.join(work, "pipelines", "big.yaml")
            with open(spec, "w") as f:
                subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen-spec.py"), str(a.big)],
                               stdout=f, check=True)
            specs.append(("big", work, "pipelines/big.yaml", ["--code-root", work]))

        print(f"latency {a.latency_ms:g} ms, AWS times x{a.scale:g} "
              f"(stream {times['stream']:g} s, firehose {times['firehose']:g} s, role {times['role']:g} s, "
              f"trigger {times['trigger']:g} s, instance {times['instance']:g} s), {a.runs} runs, median")
        print(f"{'spec':<10} {'resources':>9} {'command':<14} {'wall s':>8} {'bound s':>8} {'ratio':>6} "
              f"{'calls':>6} {'RSS MB':>7}")
        # The emulator sets up each service on its first call (seconds);
        # AWS does not: one untimed apply and destroy first.
        for cmd in ("apply", "destroy"):
            run(a.binary, [cmd, "pipelines/lab.yaml", "--yes", "--env", "warmup"], env, ROOT, proxy_port)
        for label, cwd, spec, extra in specs:
            nodes, edges = graph(a.binary, os.path.join(cwd, spec), extra)
            plain = unencrypted_streams(os.path.join(cwd, spec))
            bounds = {"apply": bound(nodes, edges, times, a.latency_ms, False, plain),
                      "destroy": bound(nodes, edges, times, a.latency_ms, True, plain, wait=False),
                      "destroy --wait": bound(nodes, edges, times, a.latency_ms, True, plain),
                      "plan": None}
            results = {"apply": [], "plan": [], "destroy": [], "destroy --wait": []}
            for i in range(a.runs):
                envname = f"bench{i}"
                results["apply"].append(run(a.binary, ["apply", spec, "--yes", "--env", envname, *extra], env,
                                            cwd, proxy_port))
                r = run(a.binary, ["plan", spec, "--env", envname, *extra], env, cwd, proxy_port)
                if "No changes" not in r[3]:
                    sys.exit(f"the re-plan of {label} was not clean:\n{r[3][-3000:]}")
                results["plan"].append(r)
                results["destroy"].append(run(a.binary, ["destroy", spec, "--yes", "--env", envname, *extra], env,
                                              cwd, proxy_port))
                if label == "lab.yaml":
                    # The same destroy waiting for every resource to be gone.
                    run(a.binary, ["apply", spec, "--yes", "--env", f"{envname}w", *extra], env, cwd, proxy_port)
                    results["destroy --wait"].append(
                        run(a.binary, ["destroy", spec, "--yes", "--wait", "--env", f"{envname}w", *extra], env, cwd,
                            proxy_port))
            for cmd in ("apply", "plan", "destroy", "destroy --wait"):
                rs = results[cmd]
                if not rs:
                    continue
                wall = statistics.median(r[0] for r in rs)
                calls = statistics.median(r[1] for r in rs)
                rss = max(r[2] for r in rs)
                b = bounds[cmd]
                bs, ratio = (f"{b:8.2f}", f"{wall / b:6.3f}") if b else (f"{'-':>8}", f"{'-':>6}")
                print(f"{label:<10} {len(nodes):>9} {cmd:<14} {wall:8.2f} {bs} {ratio} {calls:>6.0f} {rss:7.1f}",
                      flush=True)
                if a.calls:
                    ops = sorted(rs[-1][4].items(), key=lambda kv: -kv[1])
                    print("    " + ", ".join(f"{op} {n}" for op, n in ops), flush=True)
        if a.cli:
            cli = [sys.executable, os.path.join(ROOT, "scripts", "cli-way.py")]
            for step in ("create", "delete"):
                start = time.perf_counter()
                subprocess.run([*cli, step], env=env, check=True)
                print(f"{'cli-way':<10} {'':>9} {step:<14} {time.perf_counter() - start:8.2f}", flush=True)
    finally:
        for proc in (proxy, moto):
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
