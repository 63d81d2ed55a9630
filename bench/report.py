#!/usr/bin/env python3
"""Helpers of bench/run.sh, standard library only (Python 3.11).

    report.py machine RUN                      machine.json: CPU, memory, kernel, versions
    report.py prepare MANIFEST DIR SECONDS     DIR/ids.txt, agents.txt, vars.sh, data.json
    report.py startup RUN BIN DATABASE PORT N  startup.json: start-to-`listening on`, N times
    report.py meta OUT key=value ...           one JSON object (numbers where they parse)
    report.py line BASE | get FILE KEY | cursor WRKJSON N   small helpers of run.sh
    report.py report RUN                       report.md, summary.json and the SVG charts

The report reads RUN/raw/*.wrk.json (written by bench/wrk/scenario.lua's done()) and the
matching *.meta.json (written by run.sh: CPU, RSS, phase) and never invents a figure: a missing
measurement is shown as "n/a" and the target that needed it as "not measured".
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

READS = ["get", "query", "query_oauth"]
WRITES = ["create", "close", "member", "route", "mapping", "mixed"]
ORDER = ["create", "close", "member", "route", "mapping", "get", "query", "query_oauth", "mixed"]

TITLES = {
    "create": "create interaction",
    "close": "close interaction",
    "member": "member drop/update",
    "route": "AWA route a work item to another queue",
    "mapping": "agent mapping upsert",
    "get": "Table API get by sys_id",
    "query": "Table API query, filter + paging (Basic)",
    "query_oauth": "Table API query, filter + paging (OAuth bearer)",
    "mixed": "mixed CCaaS (create, map, drop, close)",
}

# The targets of the issue, at the highest connection count of the run (64 in both modes).
READ_RATIO_TARGET = 0.60
WRITE_RATIO_TARGET = 0.25
P99_TARGET_MS = 10.0
RSS_TARGET_MB = 100.0
STARTUP_TARGET_MS = 100.0
PRISM_FACTOR_TARGET = 10.0


# ---------------------------------------------------------------------------------------------
# small subcommands used while the run goes on


def cmd_machine(run: Path) -> None:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "unavailable"
    root = Path(__file__).resolve().parent.parent
    commit = version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip() != ""
    fs = version(["sh", "-c", f"df -T '{run}' | tail -1 | awk '{{print $2}}'"])
    # what one synchronous 4 KiB write costs where the database lives (SQLite's commit waits
    # for one such flush of its write-ahead log)
    probe = run / "fsync-probe"
    t0 = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={probe}", "bs=4k", "count=500", "oflag=dsync"],
                   capture_output=True)
    sync_write_ms = (time.perf_counter() - t0) * 1000 / 500
    probe.unlink(missing_ok=True)
    info = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "virtualisation": version(["sh", "-c", "lscpu 2>/dev/null | awk -F: '/Hypervisor vendor/{gsub(/ /,\"\",$2); print $2}'"]) or "none reported",
        "filesystem": fs,
        "sync_write_ms": round(sync_write_ms, 3),
        "rustc": version(["rustc", "--version"]),
        "wrk": version(["sh", "-c", "wrk -v 2>&1 | head -1"]),
        "node": version(["node", "--version"]),
        "python": platform.python_version(),
        "commit": commit + ("-dirty" if dirty else ""),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
    }
    (run / "machine.json").write_text(json.dumps(info, indent=1) + "\n")


def cmd_prepare(manifest_path: Path, data: Path, seconds: str) -> None:
    m = json.loads(manifest_path.read_text())
    data.mkdir(parents=True, exist_ok=True)
    with open(data / "ids.txt", "w") as f:
        for i in m["interactions"]:
            # an interaction bench-data did not make (an earlier run's creates) has no agent
            f.write(f"{i['sys_id']} {i.get('agent') or ''}".rstrip() + "\n")
    with open(data / "agents.txt", "w") as f:
        for u in m["users"]:
            f.write(u["sys_id"] + "\n")
    with open(data / "users.txt", "w") as f:
        for u in m["users"]:
            f.write(u["user_name"] + "\n")
    first = m["users"][0]["user_name"] if m["users"] else "admin"
    with open(data / "vars.sh", "w") as f:
        f.write(f"BENCH_CHANNEL={m['channel']}\nBENCH_QUEUE={m['queue']}\n")
        f.write(f"BENCH_OTHER_QUEUE={m['other_queue']}\n")
        f.write(f"BENCH_INBOUND={m['inbound_id']}\nBENCH_SUPERVISOR={m['supervisor']}\n")
        f.write(f"BENCH_CLIENT_ID={m['client_id']}\nBENCH_CLIENT_SECRET={m['client_secret']}\n")
        f.write(f"BENCH_AGENT_USER={first}\nBENCH_INTERACTION_COUNT={len(m['interactions'])}\n")
        f.write(f"BENCH_USER_COUNT={len(m['users'])}\n")
    info = {"users": len(m["users"]), "interactions": len(m["interactions"]),
            "load_seconds": float(seconds)}
    (data / "data.json").write_text(json.dumps(info) + "\n")


def cmd_startup(run: Path, binary: str, database: str, port: str, repeat: int) -> None:
    """Starts the server `repeat` times on an existing database; times exec to the
    `listening on` line on its standard output, then stops it with SIGTERM."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "serve", "--database", database, "--listen", f"127.0.0.1:{port}"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = p.stdout.readline() if p.stdout else ""
        elapsed = (time.perf_counter() - t0) * 1000
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if "listening on" not in line:
            raise SystemExit(f"startup: no 'listening on' line (got {line!r})")
        times.append(round(elapsed, 2))
        time.sleep(0.2)
    out = {"runs_ms": times, "median_ms": statistics.median(times), "repeat": repeat}
    (run / "startup.json").write_text(json.dumps(out) + "\n")
    print(f"startup to 'listening on': median {out['median_ms']:.1f} ms of {times}")


def cmd_meta(out: str, pairs: list[str]) -> None:
    """Writes key=value pairs as one JSON object, merged into `out` if it exists."""
    path = Path(out)
    obj: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    for p in pairs:
        k, _, v = p.partition("=")
        try:
            obj[k] = int(v)
        except ValueError:
            try:
                obj[k] = float(v)
            except ValueError:
                obj[k] = v
    path.write_text(json.dumps(obj) + "\n")


def cmd_line(base: str) -> None:
    """One line on a finished measurement, for the console and run.log."""
    meta = json.loads(Path(base + ".meta.json").read_text())
    label = f"{meta['phase']:>7} {meta['target']:<11} {meta['scenario']:<11} c={meta['connections']:<3}"
    extra = " ".join(f"{k}={meta[k]}" for k in ("offset", "limit", "point", "table_before") if k in meta)
    try:
        w = json.loads(Path(base + ".wrk.json").read_text())
    except (OSError, json.JSONDecodeError):
        print(f"{label} {extra} FAILED (wrk exit {meta.get('wrk_exit')}; see {base}.txt)")
        return
    cpu = meta.get("server_cpu_s", 0) / meta["wall_s"] * 100 if meta.get("wall_s") else 0
    flags = []
    if w["non2xx"]:
        flags.append(f"NON-2XX {w['non2xx']} {w['non2xx_by_status']}")
    if w.get("wrapped") and meta["target"] == "switchboard":
        flags.append("IDS WRAPPED")
    busy, total = meta.get("machine_cpu_busy_s", 0), meta.get("machine_cpu_total_s", 0)
    if total and meta.get("wall_s"):
        other = busy / total * 100 * (os.cpu_count() or 1) - cpu - \
            (meta.get("wrk_cpu_user_s", 0) + meta.get("wrk_cpu_sys_s", 0)) / meta["wall_s"] * 100
        if other > CONTENDED_PCT:
            flags.append(f"CONTENDED (other work {other:.0f}% of a core)")
    se = w["socket_errors"]
    if se["connect"] + se["read"] + se["write"] + se["timeout"]:
        flags.append(f"SOCKET ERRORS {se}")
    lu = w["latency_us"]
    print(f"{label} {w['rps']:>9,.0f} req/s  p50 {lu['p50'] / 1000:7.2f}  p99 {lu['p99'] / 1000:7.2f}  "
          f"p99.9 {lu['p99.9'] / 1000:7.2f} ms  cpu {cpu:4.0f}%  {extra} {' '.join(flags)}".rstrip())


def cmd_get(path: str, key: str) -> None:
    print(json.loads(Path(path).read_text())[key])


def cmd_cursor(path: str, current: str) -> None:
    """The next unused id index after a run that consumed ids."""
    try:
        used = json.loads(Path(path).read_text())["max_index"] + 1
    except (OSError, json.JSONDecodeError, KeyError):
        used = 0
    print(max(int(current), used))


# ---------------------------------------------------------------------------------------------
# the report


def load_runs(run: Path) -> list[dict]:
    runs = []
    for meta_path in sorted((run / "raw").glob("*.meta.json")):
        meta = json.loads(meta_path.read_text())
        wrk_path = meta_path.with_name(meta_path.name.replace(".meta.json", ".wrk.json"))
        if wrk_path.exists():
            try:
                meta["wrk"] = json.loads(wrk_path.read_text())
            except json.JSONDecodeError:
                meta["wrk"] = None
        else:
            meta["wrk"] = None
        runs.append(meta)
    return runs


def find(runs, phase, target, scenario, conns=None, **tags):
    out = []
    for r in runs:
        if r.get("phase") != phase or r.get("target") != target or r.get("scenario") != scenario:
            continue
        if conns is not None and r.get("connections") != conns:
            continue
        if any(r.get(k) != v for k, v in tags.items()):
            continue
        out.append(r)
    return out


def one(runs, *a, **k):
    found = find(runs, *a, **k)
    return found[-1] if found else None


def rps(r):
    return r["wrk"]["rps"] if r and r.get("wrk") else None


def lat(r, p):
    if not r or not r.get("wrk"):
        return None
    return r["wrk"]["latency_us"][p] / 1000.0


def fmt(v, digits=0, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float) and digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def fms(v):
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fratio(v):
    if v is None:
        return "n/a"
    return f"{v:.0f}×" if v >= 10 else (f"{v:.1f}×" if v >= 1 else f"{v:.2f}×")


def pct(v):
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}%" if v < 0.1 else f"{v * 100:.0f}%"


def cpu_pct(r, key):
    if not r or not r.get("wall_s"):
        return None
    if key == "server":
        return r.get("server_cpu_s", 0) / r["wall_s"] * 100
    if key == "wrk":
        return (r.get("wrk_cpu_user_s", 0) + r.get("wrk_cpu_sys_s", 0)) / r["wall_s"] * 100
    if key == "machine":
        tot = r.get("machine_cpu_total_s") or 0
        return r.get("machine_cpu_busy_s", 0) / tot * 100 * (r.get("nproc") or 1) if tot else None
    if key == "other":
        m = cpu_pct(r, "machine")
        if m is None:
            return None
        return max(0.0, m - cpu_pct(r, "server") - cpu_pct(r, "wrk"))
    return None


CONTENDED_PCT = 25.0


def contended(r):
    """Other work (not the measured server, not wrk) used more than a quarter of a core."""
    o = cpu_pct(r, "other")
    return o is not None and o > CONTENDED_PCT


def errors_of(r):
    """(non-2xx, socket errors excluding status, wrapped) of one run."""
    if not r or not r.get("wrk"):
        return None, None, False
    w = r["wrk"]
    se = w["socket_errors"]
    return w["non2xx"], se["connect"] + se["read"] + se["write"] + se["timeout"], bool(w.get("wrapped"))


def flag(r):
    if not r:
        return "not run"
    if not r.get("wrk"):
        return "**FAILED** (wrk gave no result)"
    non2xx, sock, wrapped = errors_of(r)
    parts = []
    if non2xx:
        by = ", ".join(f"{k}: {v}" for k, v in sorted(r["wrk"]["non2xx_by_status"].items()))
        parts.append(f"**{non2xx} non-2xx** ({by})")
    if sock:
        parts.append(f"**{sock} socket errors/timeouts**")
    if wrapped and r.get("target") == "switchboard":
        parts.append("**ids wrapped** (some requests repeated an id)")
    if contended(r):
        parts.append(f"contended: other work used {cpu_pct(r, 'other'):.0f}% of a core")
    return "; ".join(parts) if parts else "ok"


# ---- SVG ------------------------------------------------------------------------------------

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def esc(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    import math
    if hi <= lo:
        hi = lo + 1
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 10))
        t += step
    return ticks


def tick_label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 and v % 1e6 == 0:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3 and v % 1e3 == 0:
        return f"{v / 1e3:g}k"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:g}"


def svg_chart(path: Path, title: str, x_label: str, y_label: str, series, x_mode: str = "linear",
              categories=None) -> None:
    """A line chart: series is [(name, [(x, y), ...])]. x_mode "log" (x > 0) or "category"
    (x values are indexes into `categories`, drawn evenly spaced)."""
    import math
    W, H, L, R, T, B = 720, 400, 80, 190, 40, 60
    pw, ph = W - L - R, H - T - B
    pts = [(x, y) for _, s in series for x, y in s if y is not None]
    if not pts:
        path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="60">'
                        f'<text x="10" y="30" font-family="sans-serif">{esc(title)}: no data</text></svg>\n')
        return
    ys = [y for _, y in pts]
    y_hi = max(ys) * 1.1 or 1
    y_ticks = nice_ticks(0, y_hi)
    y_hi = max(y_ticks[-1], y_hi)

    if x_mode == "log":
        xs = [math.log10(x) for x, _ in pts]
        x_lo, x_hi = math.floor(min(xs)), math.ceil(max(xs))
        if x_hi == x_lo:
            x_hi += 1
        fx = lambda x: L + (math.log10(x) - x_lo) / (x_hi - x_lo) * pw
        x_ticks = [(10 ** e, tick_label(10 ** e)) for e in range(x_lo, x_hi + 1)]
    else:
        n = max(len(categories or []) - 1, 1)
        fx = lambda x: L + x / n * pw
        x_ticks = [(i, str(c)) for i, c in enumerate(categories or [])]
    fy = lambda y: T + ph - y / y_hi * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="22" font-size="15" font-weight="bold">{esc(title)}</text>']
    for t in y_ticks:
        y = fy(t)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_label(t)}</text>')
    for xv, lab in x_ticks:
        x = fx(xv)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{T + ph + 18}" text-anchor="middle">{esc(lab)}</text>')
    out.append(f'<line x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}" stroke="black"/>')
    out.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{T + ph}" stroke="black"/>')
    out.append(f'<text x="{L + pw / 2}" y="{H - 15}" text-anchor="middle">{esc(x_label)}</text>')
    out.append(f'<text x="18" y="{T + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {T + ph / 2})">{esc(y_label)}</text>')
    for i, (name, s) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        good = [(fx(x), fy(y)) for x, y in s if y is not None]
        if len(good) > 1:
            out.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in good)))
        for x, y in good:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        ly = T + 10 + i * 20
        out.append(f'<line x1="{L + pw + 15}" y1="{ly}" x2="{L + pw + 40}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{L + pw + 45}" y="{ly + 4}">{esc(name)}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


# ---- the report itself ------------------------------------------------------------------------


def cmd_report(run: Path) -> None:
    cfg = json.loads((run / "config.json").read_text())
    machine = json.loads((run / "machine.json").read_text()) if (run / "machine.json").exists() else {}
    data = json.loads((run / "data" / "data.json").read_text()) if (run / "data" / "data.json").exists() else {}
    startup = json.loads((run / "startup.json").read_text()) if (run / "startup.json").exists() else None
    prism = json.loads((run / "prism.json").read_text()) if (run / "prism.json").exists() else {"status": "not run"}
    runs = load_runs(run)
    for r in runs:
        r["nproc"] = machine.get("nproc", 1)
    conns = [int(c) for c in str(cfg["connections"]).split()]
    top = max(conns)
    scenarios = [s for s in ORDER if s in str(cfg.get("scenarios", " ".join(ORDER))).split()]

    md: list[str] = []
    w = md.append
    w(f"# switchboard benchmark report ({cfg['mode']} run, {machine.get('date_utc', '?')})\n")
    w(f"Command: `{cfg['command']}` (commit {machine.get('commit', '?')}). Generated by "
      "`bench/report.py` from the raw files next to this one; every figure below is a measurement "
      "of this run.\n")
    w("## Machine and set-up\n")
    w(f"- {machine.get('nproc', '?')} CPUs, {machine.get('cpu_model', '?')}"
      f" ({machine.get('virtualisation') or 'no hypervisor reported'}), {machine.get('memory_gib', '?')} GiB memory, "
      f"Linux {machine.get('kernel', '?')}, database on {machine.get('filesystem', '?')} "
      f"(one synchronous 4 KiB write: {machine.get('sync_write_ms', '?')} ms, `dd oflag=dsync`).")
    w(f"- The load generator (wrk, {machine.get('wrk', '?')}) runs **on the same machine** over loopback "
      "and competes with the server for the same CPUs: see the CPU columns.")
    w(f"- Data set (`switchboard bench-data`): {data.get('users', '?'):,} agents, "
      f"{data.get('interactions', '?'):,} interactions (each with a conversation, an agent member and "
      f"an observing supervisor), one agent mapping per agent; loaded in "
      f"{fmt(data.get('load_seconds'), 1)} s. SQLite, `synchronous=FULL`, default server flags "
      "(including the `info` log of one line per request, written to a file).")
    if cfg.get("topup"):
        w(f"- Close, member drop/update, route and mixed use each loaded interaction once; they run after "
          f"the reads, once {int(cfg['topup']):,} more interactions were added the same way "
          "(the server stopped meanwhile), and use only those.")
    w(f"- Each measurement: wrk for {cfg['duration']} s per connection count ({', '.join(map(str, conns))}), "
      f"threads = min(2, connections), after a {cfg['warmup']} s warm-up per scenario; Prism "
      f"{cfg['prism_duration']} s. Latency percentiles come from wrk's histogram "
      "(`latency:percentile()` in `done()`; wrk does not correct for coordinated omission).")
    w("- CPU: server and Prism from `/proc/<pid>/stat` (utime+stime) over the run, wrk from its own "
      "rusage, the machine's from `/proc/stat`; 100% = one core. *Other* = machine − server − wrk: "
      "work that was not part of the measurement (the machine is shared); before each measurement "
      "the harness waits (within a budget) until other work uses under 25% of a core, and a "
      f"measurement during which it used more than {CONTENDED_PCT:.0f}% is marked † and listed under "
      "Flagged. Peak RSS: `VmHWM` of `/proc/<pid>/status`, reset before each measurement through "
      "`/proc/<pid>/clear_refs`.\n")

    # -- targets first: what the issue asks -------------------------------------------------
    targets = []  # (target, scenario, measured, threshold, met)
    for s in scenarios:
        sb = one(runs, "main", "switchboard", s, top)
        bare = one(runs, "main", "bare", s, top)
        ratio = rps(sb) / rps(bare) if rps(sb) and rps(bare) else None
        need = READ_RATIO_TARGET if s in READS else WRITE_RATIO_TARGET
        kind = "reads" if s in READS else "writes"
        targets.append((f"{kind} ≥ {need:.0%} of bare HTTP", s, pct(ratio), f"≥ {need:.0%}",
                        None if ratio is None else ratio >= need))
    for s in scenarios:
        sb = one(runs, "main", "switchboard", s, top)
        p99 = lat(sb, "p99")
        targets.append((f"p99 < {P99_TARGET_MS:g} ms", s, fms(p99) + " ms" if p99 is not None else "n/a",
                        f"< {P99_TARGET_MS:g} ms", None if p99 is None else p99 < P99_TARGET_MS))
    def peak(rs):
        rs = [r for r in rs if r.get("vm_hwm_kb")]
        if not rs:
            return None, ""
        top_run = max(rs, key=lambda r: r["vm_hwm_kb"])
        where = f"{top_run['phase']} {top_run['scenario']} c={top_run['connections']}" + \
            (f" limit={top_run['limit']}" if top_run.get("limit") else "")
        return top_run["vm_hwm_kb"] / 1024, where
    sb_runs = [r for r in runs if r.get("target") == "switchboard" and r.get("phase") != "scale"]
    for label, rs in (("the scenarios (warm-ups and every connection count)",
                       [r for r in sb_runs if r.get("phase") in ("main", "warmup")]),
                      ("the whole run: also the cache-miss burst and the query curves",
                       sb_runs)):
        mb, where = peak(rs)
        targets.append((f"peak RSS < {RSS_TARGET_MB:g} MB", label,
                        f"{fmt(mb, 1)} MB ({where})" if mb else "n/a",
                        f"< {RSS_TARGET_MB:g} MB", None if mb is None else mb < RSS_TARGET_MB))
    if startup:
        targets.append((f"start to `listening` < {STARTUP_TARGET_MS:g} ms", f"median of {startup['repeat']}",
                        f"{startup['median_ms']:.1f} ms", f"< {STARTUP_TARGET_MS:g} ms",
                        startup["median_ms"] < STARTUP_TARGET_MS))
    else:
        targets.append((f"start to `listening` < {STARTUP_TARGET_MS:g} ms", "", "n/a", "", None))
    for s in scenarios:
        sb = one(runs, "main", "switchboard", s, top)
        pr = one(runs, "main", "prism", s, top)
        if not pr or not pr.get("wrk"):
            targets.append((f"≥ {PRISM_FACTOR_TARGET:g}× Prism", s, "Prism not measured", "", None))
            continue
        if pr["wrk"]["non2xx"] or pr["wrk"]["ok"] == 0:
            targets.append((f"≥ {PRISM_FACTOR_TARGET:g}× Prism", s,
                            f"Prism cannot answer ({pr['wrk']['non2xx']} non-2xx)", "", None))
            continue
        f = rps(sb) / rps(pr) if rps(sb) and rps(pr) else None
        targets.append((f"≥ {PRISM_FACTOR_TARGET:g}× Prism", s, fratio(f),
                        f"≥ {PRISM_FACTOR_TARGET:g}×", None if f is None else f >= PRISM_FACTOR_TARGET))

    def verdict(v):
        return "not measured" if v is None else ("**met**" if v else "**not met**")

    w(f"## Targets (at {top} connections)\n")
    groups: dict[str, list] = {}
    for t in targets:
        groups.setdefault(t[0], []).append(t)
    w("| target | verdict | not met by |")
    w("|---|---|---|")
    summary_targets = {}
    for name, rows in groups.items():
        measured = [r for r in rows if r[4] is not None]
        failed = [r for r in measured if not r[4]]
        if not measured:
            v = "not measured"
        elif failed:
            v = "**not met**" + (f" ({len(measured) - len(failed)} of {len(measured)} met)" if len(measured) > 1 else "")
        else:
            v = "**met**" + (f" (all {len(measured)})" if len(measured) > 1 else "")
        summary_targets[name] = {"met": None if not measured else not failed,
                                 "rows": [{"scenario": r[1], "measured": r[2], "met": r[4]} for r in rows]}
        w(f"| {name} | {v} | {', '.join(f'{r[1]} ({r[2]})' for r in failed) or '-'} |")
    w("")
    w("| target | scenario | measured | needed | verdict |")
    w("|---|---|---|---|---|")
    for t in targets:
        w(f"| {t[0]} | {TITLES.get(t[1], t[1])} | {t[2]} | {t[3]} | {verdict(t[4])} |")
    w("")

    flagged = []
    for r in runs:
        if r.get("phase") in ("main", "scale", "curve", "coldauth"):
            fl = flag(r)
            if fl != "ok":
                flagged.append((r, fl))
    if flagged:
        w("### Flagged measurements\n")
        for r, fl in flagged:
            sample = (r.get("wrk") or {}).get("error_sample") or ""
            extra = " ".join(f"{k}={r[k]}" for k in ("offset", "limit", "point") if k in r)
            w(f"- {r['phase']} {r['target']} {r['scenario']} c={r['connections']} {extra}: {fl}"
              + (f"; first error body: `{sample[:200]}`" if sample else ""))
        w("")
    sb_bad = [r for r, _ in flagged if r["target"] == "switchboard" and (errors_of(r)[0] or errors_of(r)[1] or errors_of(r)[2])]
    if not sb_bad:
        w("No switchboard measurement had a non-2xx response, a socket error or a reused id.\n")

    # -- the main table -----------------------------------------------------------------------
    w("## Every scenario\n")
    w("Throughput in requests/s, latency in ms. *bare* is `bench/bare_http.rs` (same tokio/axum stack, a "
      "fixed body of the scenario's mean response size, no auth, no database, no logging) given the "
      "same requests; *Prism* is Prism serving switchboard's own OpenAPI document. Ratios: "
      "switchboard ÷ bare, switchboard ÷ Prism. CPU columns: server (or Prism) and wrk, % of one core "
      f"({machine.get('nproc', '?')} cores = {100 * (machine.get('nproc') or 1)}%).\n")
    w("| scenario | conns | req/s | p50 | p99 | p99.9 | non-2xx | server CPU | wrk CPU | peak RSS MB | body B | bare req/s | bare p99 | ÷ bare | Prism req/s | Prism p99 | Prism non-2xx | ÷ Prism |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    table_rows = []
    for s in scenarios:
        for c in conns:
            sb = one(runs, "main", "switchboard", s, c)
            bare = one(runs, "main", "bare", s, c)
            pr = one(runs, "main", "prism", s, c)
            r_bare = rps(sb) / rps(bare) if rps(sb) and rps(bare) else None
            pr_ok = pr and pr.get("wrk") and pr["wrk"]["non2xx"] == 0
            r_pr = rps(sb) / rps(pr) if pr_ok and rps(sb) and rps(pr) else None
            non2xx = sb["wrk"]["non2xx"] if sb and sb.get("wrk") else None
            mark = (" ⚠" if sb and (errors_of(sb)[0] or errors_of(sb)[1] or errors_of(sb)[2]) else "") + \
                   (" †" if sb and contended(sb) else "")
            w(f"| {TITLES[s]}{mark} | {c} | {fmt(rps(sb))} | {fms(lat(sb, 'p50'))} | {fms(lat(sb, 'p99'))} | "
              f"{fms(lat(sb, 'p99.9'))} | {fmt(non2xx)} | {fmt(cpu_pct(sb, 'server'), 0, '%')} | "
              f"{fmt(cpu_pct(sb, 'wrk'), 0, '%')} | {fmt((sb or {}).get('vm_hwm_kb', 0) / 1024 if sb and sb.get('vm_hwm_kb') else None, 1)} | "
              f"{fmt(sb['wrk']['mean_body_bytes'] if sb and sb.get('wrk') else None)} | "
              f"{fmt(rps(bare))}{' †' if contended(bare) else ''} | {fms(lat(bare, 'p99'))} | {pct(r_bare)} | "
              f"{fmt(rps(pr))}{' †' if pr and contended(pr) else ''} | "
              f"{fms(lat(pr, 'p99'))} | {fmt(pr['wrk']['non2xx'] if pr and pr.get('wrk') else None)} | "
              f"{fratio(r_pr)} |")
            table_rows.append({
                "scenario": s, "connections": c,
                "switchboard": {"rps": rps(sb), "p50_ms": lat(sb, "p50"), "p99_ms": lat(sb, "p99"),
                                "p99_9_ms": lat(sb, "p99.9"), "non2xx": non2xx,
                                "server_cpu_pct": cpu_pct(sb, "server"), "wrk_cpu_pct": cpu_pct(sb, "wrk"),
                                "peak_rss_mb": (sb or {}).get("vm_hwm_kb", 0) / 1024 if sb else None,
                                "other_cpu_pct": cpu_pct(sb, "other"), "flag": flag(sb)},
                "bare": {"rps": rps(bare), "p99_ms": lat(bare, "p99"), "server_cpu_pct": cpu_pct(bare, "server"),
                         "wrk_cpu_pct": cpu_pct(bare, "wrk"), "other_cpu_pct": cpu_pct(bare, "other")},
                "prism": {"rps": rps(pr), "p99_ms": lat(pr, "p99"),
                          "non2xx": pr["wrk"]["non2xx"] if pr and pr.get("wrk") else None,
                          "cpu_pct": cpu_pct(pr, "server"), "other_cpu_pct": cpu_pct(pr, "other"),
                          "peak_rss_mb": pr.get("vm_hwm_kb", 0) / 1024 if pr else None},
                "ratio_bare": r_bare, "ratio_prism": r_pr,
            })
    w("")
    w(f"Prism: {prism.get('status')}.\n")

    # -- CPU split ------------------------------------------------------------------------------
    w(f"## Where the CPU goes (at {top} connections)\n")
    w("Per measurement at the top connection count: CPU of the server (and the share of it spent in "
      "the kernel, `stime`), of wrk and of other work (% of one core), and the server's CPU time per "
      "request.\n")
    w("| scenario | switchboard | of which kernel | wrk | other | ms CPU/request | bare server | wrk (bare) | other (bare) | ms CPU/request (bare) | Prism | wrk (Prism) | Prism peak RSS MB |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in scenarios:
        sb = one(runs, "main", "switchboard", s, top)
        bare = one(runs, "main", "bare", s, top)
        def per_req(r):
            if not r or not r.get("wrk") or not r["wrk"]["requests"]:
                return None
            return r.get("server_cpu_s", 0) / r["wrk"]["requests"] * 1000
        pr = one(runs, "main", "prism", s, top)
        sys_share = (sb["server_sys_s"] / sb["server_cpu_s"] if sb and sb.get("server_cpu_s") and "server_sys_s" in sb
                     else None)
        w(f"| {TITLES[s]} | {fmt(cpu_pct(sb, 'server'), 0, '%')} | {pct(sys_share)} | {fmt(cpu_pct(sb, 'wrk'), 0, '%')} | "
          f"{fmt(cpu_pct(sb, 'other'), 0, '%')} | {fms(per_req(sb))} | {fmt(cpu_pct(bare, 'server'), 0, '%')} | "
          f"{fmt(cpu_pct(bare, 'wrk'), 0, '%')} | {fmt(cpu_pct(bare, 'other'), 0, '%')} | {fms(per_req(bare))} | "
          f"{fmt(cpu_pct(pr, 'server'), 0, '%')} | {fmt(cpu_pct(pr, 'wrk'), 0, '%')} | "
          f"{fmt(pr.get('vm_hwm_kb', 0) / 1024 if pr and pr.get('vm_hwm_kb') else None, 1)} |")
    w("")

    # -- a credential-cache miss under load -----------------------------------------------------
    cold = one(runs, "coldauth", "switchboard", "get", top)
    w(f"## A credential-cache miss under load ({top} connections)\n")
    if cold and cold.get("wrk"):
        cw = cold["wrk"]
        w("A verified Basic credential stays in the cache for `--credential-cache-seconds` (60) from its "
          "verification. When it is not there (first use, or every 60 s under steady load), every request "
          "in flight with it verifies the password again with Argon2, on the hashing pool. The main "
          "measurements exclude this on purpose (each uses a credential verified just before it, and "
          "lasts well under 60 s); this one measures it: `get` with a credential the cache does not hold, "
          f"for {cold['duration_s']} s.\n")
        w("| req/s | p50 | p99 | p99.9 | max | non-2xx | server CPU | peak RSS MB |")
        w("|---|---|---|---|---|---|---|---|")
        w(f"| {fmt(rps(cold))} | {fms(lat(cold, 'p50'))} | {fms(lat(cold, 'p99'))} | {fms(lat(cold, 'p99.9'))} | "
          f"{fms(lat(cold, 'max'))} | {fmt(cw['non2xx'])} | {fmt(cpu_pct(cold, 'server'), 0, '%')} | "
          f"{fmt(cold.get('vm_hwm_kb', 0) / 1024 if cold.get('vm_hwm_kb') else None, 1)} |")
        w("")
    else:
        w("Not measured in this run.\n")

    # -- startup --------------------------------------------------------------------------------
    w("## Start-up on the loaded database\n")
    if startup:
        w(f"`switchboard serve` on the loaded database, from exec to the `listening on` line on its "
          f"standard output, {startup['repeat']} times: {', '.join(f'{t:.1f}' for t in startup['runs_ms'])} ms; "
          f"median **{startup['median_ms']:.1f} ms**.\n")
    else:
        w("Not measured.\n")

    # -- query curves -------------------------------------------------------------------------
    w("## Table API query: latency as sysparm_offset and sysparm_limit grow\n")
    w(f"The query scenario's request (`{cfg.get('query', '')}`) at 1 connection, {cfg.get('curve_duration')} s per point.\n")
    curves = {}
    for kind, key in (("offset", "offset"), ("limit", "limit")):
        pts = sorted((r for r in runs if r.get("phase") == "curve" and r.get("curve") == kind),
                     key=lambda r: r.get(key, 0))
        if not pts:
            continue
        w(f"| sysparm_{kind} | {'sysparm_limit' if kind == 'offset' else 'sysparm_offset'} | req/s | p50 | p99 | p99.9 | body B | non-2xx |")
        w("|---|---|---|---|---|---|---|---|")
        for r in pts:
            other = r.get("limit") if kind == "offset" else r.get("offset")
            w(f"| {r.get(key)} | {other} | {fmt(rps(r))} | {fms(lat(r, 'p50'))} | {fms(lat(r, 'p99'))} | "
              f"{fms(lat(r, 'p99.9'))} | {fmt(r['wrk']['mean_body_bytes'] if r.get('wrk') else None)} | "
              f"{fmt(r['wrk']['non2xx'] if r.get('wrk') else None)} |")
        w("")
        cats = [r.get(key) for r in pts]
        series = [("p50", [(i, lat(r, "p50")) for i, r in enumerate(pts)]),
                  ("p99", [(i, lat(r, "p99")) for i, r in enumerate(pts)])]
        name = f"query-{kind}.svg"
        svg_chart(run / name, f"Table API query latency vs sysparm_{kind}", f"sysparm_{kind}", "latency (ms)",
                  series, x_mode="category", categories=cats)
        w(f"![latency vs sysparm_{kind}]({name})\n")
        curves[kind] = [{key: r.get(key), "rps": rps(r), "p50_ms": lat(r, "p50"), "p99_ms": lat(r, "p99")}
                        for r in pts]

    # -- scaling --------------------------------------------------------------------------------
    w("## Create interaction as the interaction table grows\n")
    scale = sorted((r for r in runs if r.get("phase") == "scale"), key=lambda r: r.get("table_before", 0))
    scaling = []
    if scale:
        w(f"A separate database (`bench-data`, {cfg.get('scale_users')} agents), grown with `bench-data` "
          f"between points; each point: the create scenario at {top} connections for "
          f"{cfg.get('scale_duration')} s after a warm-up. The run itself adds interactions, so the "
          "table's size at the start and end of each measurement is given; the charts place each "
          "point at its start size.\n")
        w("| point | interactions at start | at end | req/s | p50 | p99 | p99.9 | non-2xx | server CPU |")
        w("|---|---|---|---|---|---|---|---|---|")
        for r in scale:
            w(f"| {r.get('point')} | {r.get('table_before'):,} | {r.get('table_after'):,} | {fmt(rps(r))} | "
              f"{fms(lat(r, 'p50'))} | {fms(lat(r, 'p99'))} | {fms(lat(r, 'p99.9'))} | "
              f"{fmt(r['wrk']['non2xx'] if r.get('wrk') else None)} | {fmt(cpu_pct(r, 'server'), 0, '%')} |")
            scaling.append({"point": r.get("point"), "before": r.get("table_before"), "after": r.get("table_after"),
                            "rps": rps(r), "p99_ms": lat(r, "p99"), "p50_ms": lat(r, "p50")})
        w("")
        svg_chart(run / "scaling-throughput.svg", "create interaction: throughput vs table size",
                  "interactions in the table (log scale)", "requests/s",
                  [(f"create, {top} conns", [(r["table_before"], rps(r)) for r in scale if r.get("table_before")])],
                  x_mode="log")
        svg_chart(run / "scaling-p99.svg", "create interaction: latency vs table size",
                  "interactions in the table (log scale)", "latency (ms)",
                  [("p50", [(r["table_before"], lat(r, "p50")) for r in scale if r.get("table_before")]),
                   ("p99", [(r["table_before"], lat(r, "p99")) for r in scale if r.get("table_before")])],
                  x_mode="log")
        w("![create throughput vs table size](scaling-throughput.svg)\n")
        w("![create latency vs table size](scaling-p99.svg)\n")
    else:
        w("Not measured in this run.\n")

    # -- logs -----------------------------------------------------------------------------------
    log_info = run / "logs" / "switchboard-main.err.size"
    if log_info.exists():
        size = int(log_info.read_text().strip() or 0)
        total = sum(r["wrk"]["requests"] for r in runs if r.get("target") == "switchboard" and r.get("wrk")
                    and r.get("phase") in ("main", "warmup", "curve", "coldauth"))
        w("## Log volume\n")
        w(f"The main server wrote {size / 1e6:,.1f} MB of log for about {total:,} requests "
          f"({size / total if total else 0:.0f} bytes per request); only its tail is kept.\n")

    (run / "report.md").write_text("\n".join(md) + "\n")
    summary = {"config": cfg, "machine": machine, "data": data, "startup": startup, "prism": prism,
               "coldauth": ({"rps": rps(cold), "p50_ms": lat(cold, "p50"), "p99_ms": lat(cold, "p99"),
                             "p99_9_ms": lat(cold, "p99.9"), "max_ms": lat(cold, "max")} if cold and cold.get("wrk") else None),
               "targets": summary_targets, "scenarios": table_rows, "curves": curves, "scaling": scaling}
    (run / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"report: {run / 'report.md'}")


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "machine":
        cmd_machine(Path(args[0]))
    elif cmd == "prepare":
        cmd_prepare(Path(args[0]), Path(args[1]), args[2])
    elif cmd == "startup":
        cmd_startup(Path(args[0]), args[1], args[2], args[3], int(args[4]))
    elif cmd == "meta":
        cmd_meta(args[0], args[1:])
    elif cmd == "line":
        cmd_line(args[0])
    elif cmd == "get":
        cmd_get(args[0], args[1])
    elif cmd == "cursor":
        cmd_cursor(args[0], args[1])
    elif cmd == "report":
        cmd_report(Path(args[0]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
