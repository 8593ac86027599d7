#!/usr/bin/env python3
"""The benchmark behind scripts/bench.sh: apply, no-op plan and destroy of
pipelines/lab.yaml and a generated big spec, through bench-proxy.py (AWS's
round trips and provisioning times, scaled) in front of the emulator.

For each spec and command it prints the median wall time over the runs,
the critical-path bound of the graph at the proxy's times, the
rate-aware bound at AWS's rates (rates/aws.json, not scaled), the ratio
of the wall time to the rate-aware bound, AWS calls and throttled calls
per command, peak RSS, and what sets the bound (the path, or an op's
calls at its rate). docs/bench.md says how the bounds are computed.

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

The rate-aware bound: for each operation a resource cannot be made (or
deleted) without (REQUIRED), its calls can go out no faster than AWS's
token bucket for it allows (full at the start, refilled at its rate);
each resource's call cannot go before the resource can start (its head
on the critical path) and is followed by the rest of its path (its
tail). The bound is the longest of the critical path and every such
op's (op_bound). No tool can finish sooner than that either.
"""
import argparse
import importlib.util
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


def proxy_module():
    """scripts/bench-proxy.py, for its reading of the rates table."""
    spec = importlib.util.spec_from_file_location("bench_proxy", os.path.join(ROOT, "scripts", "bench-proxy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

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


def schedule(nodes, edges, times, latency, destroy, plain_streams, wait=True):
    """The critical-path bound, and for each resource its head (the
    earliest it can start, after the command's first round trip), its
    weight, and its tail (what it and everything after it still need,
    the command's last round trip included). head + tail <= bound, with
    equality on the critical path."""
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

    def released(d, n):
        kind = d.split(".")[0]
        return destroy and not n.startswith("record.") and (
            kind in RELEASED or n.split(".")[0] in RELEASED_TO.get(kind, ()))

    # gap(d, n): how long after d starts n can start (a delete AWS accepted
    # releases at once; the record waits for the finish).
    sooner = {n: [(d, (rt if released(d, n) else weight(d)) + e) for d, e in deps[n]] for n in nodes}
    later = {n: [] for n in nodes}
    for n in nodes:
        for d, g in sooner[n]:
            later[d].append((n, g))
    start, down = {}, {}

    def begin(n):
        if n not in start:
            start[n] = max((begin(d) + g for d, g in sooner[n]), default=0.0)
        return start[n]

    def rest(n):
        # n's own time, or what follows it, whichever ends later.
        if n not in down:
            down[n] = max([weight(n)] + [g + rest(m) for m, g in later[n]])
        return down[n]

    total = max(begin(n) + rest(n) for n in nodes) + 2 * rt
    return total, {n: {"head": begin(n) + rt, "weight": weight(n), "tail": rest(n) + rt,
                       "after": max([rt] + [g - weight(n) + rest(m) for m, g in later[n]]) + rt}
                   for n in nodes}


# The calls no tool can make (apply) or delete (destroy) a resource of a
# kind without, one per resource (or per `batch` resources), each with
# where it can go at the earliest and what must follow it:
#   "first": the resource's first call; it can go at the resource's head
#            and its whole tail follows (its AWS time, what waits on it).
#   "next":  needs the answer of the first (it names what that made): a
#            round trip after the head; its own round trip and the
#            command's last follow.
#   "ready": needs the resource usable (its AWS time after the head);
#            what waits on it follows (`after`).
#   "then":  a second step the resource is not done without: a round trip
#            after the head, and the whole tail follows.
# Tags a create call carries need no call of their own: CreateStream,
# CreateRole, CreateLogGroup, CreateDeliveryStream, CreateFunction,
# CreateEventSourceMapping, PutMetricAlarm and RunInstances all take them.
# Kinds left out make one or a few calls a spec (a network, a bucket, the
# record), never more than their bucket holds.
REQUIRED = {
    "apply": {
        "stream": [("kinesis", "CreateStream", "first", 1),
                   # Encryption cannot be set at creation; it starts once
                   # the stream is ACTIVE, and a Firehose reading the
                   # stream waits for it (stream_update).
                   ("kinesis", "StartStreamEncryption", "ready", 1)],
        # Its trust goes in CreateRole; its inline policy cannot.
        "role": [("iam", "CreateRole", "first", 1), ("iam", "PutRolePolicy", "next", 1)],
        # pipectl's log groups always have a retention, which
        # CreateLogGroup cannot set.
        "log_group": [("logs", "CreateLogGroup", "first", 1), ("logs", "PutRetentionPolicy", "next", 1)],
        "firehose": [("firehose", "CreateDeliveryStream", "first", 1)],
        "function": [("lambda", "CreateFunction", "first", 1)],
        "trigger": [("lambda", "CreateEventSourceMapping", "first", 1)],
        "glue_database": [("glue", "CreateDatabase", "first", 1)],
        "glue_table": [("glue", "CreateTable", "first", 1)],
        "alarm": [("monitoring", "PutMetricAlarm", "first", 1)],
        "dashboard": [("monitoring", "PutDashboard", "first", 1)],
        "metric_filter": [("logs", "PutMetricFilter", "first", 1)],
        # A profile is made empty; its role goes in with a second call.
        "instance_profile": [("iam", "CreateInstanceProfile", "first", 1),
                             ("iam", "AddRoleToInstanceProfile", "next", 1)],
        "security_group": [("ec2", "CreateSecurityGroup", "first", 1)],
        "agent": [("ec2", "RunInstances", "first", 1)],
    },
    "destroy": {
        "stream": [("kinesis", "DeleteStream", "first", 1)],
        "firehose": [("firehose", "DeleteDeliveryStream", "first", 1)],
        # IAM refuses to delete a role that still holds an inline policy.
        "role": [("iam", "DeleteRolePolicy", "first", 1), ("iam", "DeleteRole", "then", 1)],
        "function": [("lambda", "DeleteFunction", "first", 1)],
        # Its metric filters and streams go with it.
        "log_group": [("logs", "DeleteLogGroup", "first", 1)],
        "trigger": [("lambda", "DeleteEventSourceMapping", "first", 1)],
        # Up to 100 alarms a call.
        "alarm": [("monitoring", "DeleteAlarms", "first", 100)],
        # Its tables go with it.
        "glue_database": [("glue", "DeleteDatabase", "first", 1)],
        # IAM refuses to delete a profile that still holds its role.
        "instance_profile": [("iam", "RemoveRoleFromInstanceProfile", "first", 1),
                             ("iam", "DeleteInstanceProfile", "then", 1)],
        "security_group": [("ec2", "DeleteSecurityGroup", "first", 1)],
        # Up to 1000 instances a call.
        "agent": [("ec2", "TerminateInstances", "first", 1000)],
    },
}


def op_bound(items, rate, size, batch):
    """No tool can finish sooner: with calls of an op at most `size`
    at once and `rate` a second after, for every set S of the resources
    that need it, S's last call goes out no sooner than min_S head +
    (calls(S) - size) / rate, and its resource still needs its tail
    (at least min_S tail). S ranges over the sets cut by thresholds of
    head and tail, which hold every set's best value."""
    best = 0.0
    heads = sorted({h for h, _ in items})
    tails = sorted({q for _, q in items})
    for lo_h in heads:
        late = [(h, q) for h, q in items if h >= lo_h]
        for lo_q in tails:
            s = [(h, q) for h, q in late if q >= lo_q]
            if not s:
                break
            calls = -(-len(s) // batch)
            best = max(best, min(h for h, _ in s) + max(0.0, calls - size) / rate + min(q for _, q in s))
    return best


def rate_bound(command, sched, total, table, latency, plain_streams, bucket_of):
    """The rate-aware bound: the critical path, or an op's calls at AWS's
    rate, whichever takes longer; and what sets it."""
    rt = latency / 1000.0
    need = {}
    for n, t in sched.items():
        kind, name = n.split(".", 1)[0], n.split(".", 1)[-1]
        for service, op, when, batch in REQUIRED[command].get(kind, []):
            if op == "StartStreamEncryption" and name in plain_streams:
                continue
            head, tail = {"first": (t["head"], t["tail"]),
                          "next": (t["head"] + rt, 2 * rt),
                          "ready": (t["head"] + t["weight"], t["after"]),
                          "then": (t["head"] + rt, t["tail"])}[when]
            need.setdefault((service, op, batch), []).append((head, tail))
    best, by = total, "path"
    for (service, op, batch), items in need.items():
        limit = bucket_of(table, service, op)
        if limit is None:
            continue
        b = op_bound(items, *limit, batch)
        if b > best + 1e-9:
            best, by = b, f"{service}:{op}"
    return best, by


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
    return wall, stats["total"], usage.ru_maxrss / 1024.0, out, stats["calls"], stats["throttled"]


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
    p.add_argument("--calls", action="store_true",
                   help="also print each command's calls, and its throttled calls, by operation")
    p.add_argument("--no-rates", action="store_true", help="the proxy throttles nothing (for comparison)")
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
                              "--latency-ms", str(a.latency_ms), "--scale", str(a.scale),
                              *(["--no-rates"] if a.no_rates else [])])
    bucket_of = proxy_module().bucket_of
    with open(os.path.join(ROOT, "rates", "aws.json")) as f:
        table = json.load(f)
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
        print("rates: none (--no-rates)" if a.no_rates else
              f"rates: AWS's own, not scaled by the times' factor (rates/aws.json, checked {table['checked']})")
        print(f"{'spec':<10} {'resources':>9} {'command':<14} {'wall s':>8} {'path s':>7} {'rates s':>7} "
              f"{'ratio':>6} {'calls':>6} {'throttled':>9} {'RSS MB':>7}  bound by")
        # The emulator sets up each service on its first call (seconds);
        # AWS does not: one untimed apply and destroy first.
        for cmd in ("apply", "destroy"):
            run(a.binary, [cmd, "pipelines/lab.yaml", "--yes", "--env", "warmup"], env, ROOT, proxy_port)
        unclean = []
        for label, cwd, spec, extra in specs:
            nodes, edges = graph(a.binary, os.path.join(cwd, spec), extra)
            plain = unencrypted_streams(os.path.join(cwd, spec))
            bounds = {"plan": None}
            for cmd, destroy, wait in (("apply", False, True), ("destroy", True, False),
                                       ("destroy --wait", True, True)):
                total, sched = schedule(nodes, edges, times, a.latency_ms, destroy, plain, wait)
                if a.no_rates:
                    bounds[cmd] = (total, total, "path")
                else:
                    bounds[cmd] = (total, *rate_bound("destroy" if destroy else "apply", sched, total, table,
                                                      a.latency_ms, plain, bucket_of))
            results = {"apply": [], "plan": [], "destroy": [], "destroy --wait": []}
            for i in range(a.runs):
                envname = f"bench{i}"
                results["apply"].append(run(a.binary, ["apply", spec, "--yes", "--env", envname, *extra], env,
                                            cwd, proxy_port))
                r = run(a.binary, ["plan", spec, "--env", envname, *extra], env, cwd, proxy_port)
                if "No changes" not in r[3]:
                    # Said, and the bench fails at the end, but the
                    # destroy still runs and the figures still print.
                    changes = [line for line in r[3].splitlines()
                               if re.match(r"^\s*(~|\+|-/\+|-|!) \w", line) or line.startswith(("Plan:", "      "))]
                    print(f"the re-plan of {label} was not clean:\n" + "\n".join(changes[:40]), file=sys.stderr,
                          flush=True)
                    unclean.append(label)
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
                refused = statistics.median(sum(r[5].values()) for r in rs)
                rss = max(r[2] for r in rs)
                if bounds[cmd]:
                    path, rated, by = bounds[cmd]
                    bs = f"{path:7.2f} {rated:7.2f} {wall / rated:6.3f}"
                else:
                    bs, by = f"{'-':>7} {'-':>7} {'-':>6}", ""
                print(f"{label:<10} {len(nodes):>9} {cmd:<14} {wall:8.2f} {bs} {calls:>6.0f} {refused:>9.0f} "
                      f"{rss:7.1f}  {by}".rstrip(), flush=True)
                if a.calls:
                    ops = sorted(rs[-1][4].items(), key=lambda kv: -kv[1])
                    print("    calls: " + ", ".join(f"{op} {n}" for op, n in ops), flush=True)
                    if rs[-1][5]:
                        ops = sorted(rs[-1][5].items(), key=lambda kv: -kv[1])
                        print("    throttled: " + ", ".join(f"{op} {n}" for op, n in ops), flush=True)
        if a.cli:
            cli = [sys.executable, os.path.join(ROOT, "scripts", "cli-way.py")]
            for step in ("create", "delete"):
                start = time.perf_counter()
                subprocess.run([*cli, step], env=env, check=True)
                print(f"{'cli-way':<10} {'':>9} {step:<14} {time.perf_counter() - start:8.2f}", flush=True)
        if unclean:
            sys.exit(f"the re-plan of {', '.join(sorted(set(unclean)))} was not clean (above)")
    finally:
        for proc in (proxy, moto):
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
