"""Memory of a gunicorn master and its workers, from /proc.

RSS counts every page a process maps, so the model's pages, loaded once in
the master (``preload_app``) and shared by the forked workers, are counted
once per process. PSS divides each shared page among the processes that map
it: summed over master and workers it is what the server costs. But a
library's file pages are also shared with every other process that maps the
same file (on a developer's machine, every Python from the same virtualenv,
including the other servers of this benchmark), so PSS as read shrinks as
the machine gets busier. ``pss_alone_mib`` is what PSS would read on a
machine of its own: the anonymous PSS (anonymous pages are shared only by
fork, so only within this server) plus every resident file page the server
maps, counted once (from /proc/<pid>/pagemap, which shows page frames to
root only; ``None`` otherwise).
"""

import os
import struct
from tests.harness.proc import rollup_mib, worker_pids

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_FRAME_MASK = (1 << 55) - 1


def file_frames(pid: int) -> set[int]:
    """Page frames of the resident file-backed pages ``pid`` maps (all 0 unless root)."""
    frames = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) < 6 or fields[4] == "0" or fields[5].startswith("["):
                continue  # anonymous: counted by Pss_Anon
            start, end = (int(address, 16) for address in fields[0].split("-"))
            pagemap.seek(start // PAGE_BYTES * 8)
            entries = pagemap.read((end - start) // PAGE_BYTES * 8)
            frames.update(entry & _FRAME_MASK for (entry,) in struct.iter_unpack("<Q", entries)
                          if entry & _PRESENT)
    return frames


def server_memory(master_pid: int) -> dict:
    """RSS and PSS in MiB of master and workers together, PSS alone, and per process."""
    pids = {"master": master_pid, **{f"worker {pid}": pid for pid in worker_pids(master_pid)}}
    per_process = {name: rollup_mib(pid) for name, pid in pids.items()}
    frames = set().union(*(file_frames(pid) for pid in pids.values()))
    readable = bool(frames - {0})
    anonymous = sum(figures["pss_anon_mib"] + figures.get("pss_shmem_mib", 0) for figures in per_process.values())
    return {
        "workers": len(pids) - 1,
        "pss_mib": sum(figures["pss_mib"] for figures in per_process.values()),
        "rss_mib": sum(figures["rss_mib"] for figures in per_process.values()),
        "pss_alone_mib": anonymous + len(frames) * PAGE_BYTES / 2**20 if readable else None,
        "processes": per_process,
    }
