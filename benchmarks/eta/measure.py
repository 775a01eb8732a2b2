"""Measuring the job from outside: a child process of eta_scale.py, its wall time and its
peak resident set sampled from /proc and read from the kernel's high-water mark."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eta.history import keys_path

SCRIPT = Path(__file__).resolve().parents[1] / "eta_scale.py"


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@dataclass(frozen=True)
class Measured:
    wall_seconds: float
    peak_rss_sampled: int  # bytes, max of 20 ms VmRSS samples
    peak_rss_kernel: int  # bytes, max of VmHWM and wait4's ru_maxrss
    result: dict[str, Any]

    @property
    def peak(self) -> int:
        return max(self.peak_rss_sampled, self.peak_rss_kernel)


def run_child(
    mode: str, glob: str, args: argparse.Namespace, work: Path, checkout: Path | None = None
) -> Measured:
    """Run `mode` of eta_scale.py (or of `checkout`'s copy, on its code) in a child process.

    The child's resident set is sampled from here (peak memory from outside).
    """
    result_path = work / f"{mode}-result.json"
    result_path.unlink(missing_ok=True)
    script = SCRIPT
    env = None
    if checkout is not None:
        script = checkout / "benchmarks" / "eta_scale.py"
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    cmd = [
        sys.executable,
        str(script),
        mode,
        "--glob",
        glob,
        "--as-of",
        args.as_of,
        "--memory-limit",
        args.memory_limit,
        "--threads",
        str(args.threads),
        "--temp-dir",
        str(work / "duckdb-tmp"),
        "--result",
        str(result_path),
    ]
    if checkout is None:  # a commit from before key codes takes no codebook
        cmd += ["--keys", str(keys_path(Path(glob).parent))]
        if args.every_day_counts:
            cmd.append("--every-day-counts")
        if args.no_cutoff:
            cmd.append("--no-cutoff")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    sampled = hwm = 0
    while True:
        sampled = max(sampled, _status_kib(proc.pid, "VmRSS"))
        hwm = max(hwm, _status_kib(proc.pid, "VmHWM"))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"error: child {mode} exited with {proc.returncode}")
    kernel = max(hwm, int(usage.ru_maxrss))  # KiB on Linux
    return Measured(wall, sampled * 1024, kernel * 1024, json.loads(result_path.read_text()))
