"""What /proc tells about a running server: its workers, their memory, who holds which connection."""

import os
from collections.abc import Sequence
from pathlib import Path

KIB_PER_MIB = 1024


def worker_pids(master_pid: int) -> list[int]:
    """The master's children: gunicorn's workers."""
    pids = []
    for task in Path(f"/proc/{master_pid}/task").glob("*"):
        try:
            pids += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            pass  # the thread ended while we looked
    return sorted(set(pids))


def rollup_mib(pid: int) -> dict[str, float]:
    """RSS, PSS and anonymous PSS of one process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Pss_Anon", "Pss_Shmem"):
            fields[name.lower() + "_mib"] = int(rest.split()[0]) / KIB_PER_MIB
    return fields


def worker_memory(master_pid: int) -> dict[int, dict[str, float]]:
    """RSS and PSS (MiB) of each worker, by PID."""
    return _memory(worker_pids(master_pid))


def server_memory(master_pid: int) -> dict[int, dict[str, float]]:
    """RSS and PSS (MiB) of the master and each worker, by PID, the master first."""
    return _memory([master_pid, *worker_pids(master_pid)])


def _memory(pids: Sequence[int]) -> dict[int, dict[str, float]]:
    memory = {}
    for pid in pids:
        figures = rollup_mib(pid)
        memory[pid] = {"rss_mib": round(figures["rss_mib"], 1), "pss_mib": round(figures["pss_mib"], 1)}
    return memory


def load_average() -> tuple[float, float, float]:
    return tuple(round(value, 2) for value in os.getloadavg())


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass  # the process is gone
    return inodes


# /proc/net/tcp's states (include/net/tcp_states.h), those a server's end of a connection takes.
TCP_STATES = {"01": "ESTABLISHED", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE",
              "08": "CLOSE_WAIT", "09": "LAST_ACK", "0B": "CLOSING"}


def _server_ends(port: int, tables: Sequence[str] = ("tcp",)):
    """(client port, state, inode) of the server's end of each connection to ``port``."""
    for table in tables:
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6 here
        for line in lines:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port and state != "0A":  # 0A: LISTEN
                yield int(remote.rsplit(":", 1)[1], 16), state, int(fields[9])


def server_connections(port: int) -> dict[int, int]:
    """Client port -> inode of the server's end of each loopback connection to ``port``.

    An inode of 0 is a connection the kernel completed but no process has
    accepted yet: it waits in the listen backlog.
    """
    return {client: inode for client, _, inode in _server_ends(port)}


def server_states(port: int) -> dict[int, str]:
    """Client port -> TCP state of the server's end of each connection to ``port`` (IPv4 and IPv6
    tables: a server bound to ``[::]`` holds IPv4 clients in the second). Seen from this network
    namespace only: the server's loopback must be ours."""
    return {client: TCP_STATES.get(state, state) for client, state, _ in _server_ends(port, ("tcp", "tcp6"))}


def holders(port: int, pids: Sequence[int]) -> dict[int, int | None]:
    """Client port -> the PID (of ``pids``) that accepted it, or None while it waits in the backlog."""
    owner = {inode: pid for pid in pids for inode in socket_inodes(pid)}
    return {client: owner.get(inode) if inode else None
            for client, inode in server_connections(port).items()}


def accepted_connections(pid: int, listener_inodes: set[int]) -> int:
    """Client connections ``pid`` holds: its sockets other than the inherited listener(s)."""
    return len(socket_inodes(pid) - listener_inodes)


def listener_pids(port: int) -> list[int]:
    """The PIDs holding the socket that listens on ``port``: a gunicorn master and its workers,
    which inherit it. Reading another user's /proc/PID/fd takes that user or root."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                listening.add(int(fields[9]))
    return sorted(int(entry.name) for entry in Path("/proc").iterdir()
                  if entry.name.isdigit() and socket_inodes(int(entry.name)) & listening)


def parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status names no parent")
