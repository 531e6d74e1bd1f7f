"""How many processes and built-in CSMS ports a fleet run needs on this machine.

Two limits of the machine shape a run of many stations:

* Open files. A station worker holds one socket per station and a CSMS process one per
  connection, and a process holds at most ``RLIMIT_NOFILE`` files. Every worker raises its
  soft limit to the hard one (:func:`raise_open_files_limit`), so a process may hold the
  hard limit less a reserve for its other files (:func:`connections_per_process`).
* Source ports. Every station connects from 127.0.0.1 to the built-in CSMS on 127.0.0.1:
  the connections to one port of it differ only by their source port, which the kernel
  takes from its ephemeral port range. One port of the CSMS therefore takes at most that
  range, less a margin (:func:`connections_per_port`); more stations need more ports.

:func:`plan_processes` turns a run's stations, the counts the user gave (0: choose) and
these limits into station workers, CSMS processes and CSMS ports, or refuses with one line
that says what the fleet needs (:class:`CapacityError`). The CSMS processes are spread
evenly over the ports (process ``k`` listens on port ``k % ports``, sharing it with
SO_REUSEPORT) and the stations are spread evenly over the ports' URLs.
"""

from __future__ import annotations

import math
import os
import resource

import msgspec

__all__ = [
    "CapacityError",
    "MachineLimits",
    "ProcessPlan",
    "connections_per_port",
    "connections_per_process",
    "machine_limits",
    "plan_processes",
    "raise_open_files_limit",
]

#: Where Linux says which source ports it hands to client sockets ("low high").
PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
#: The ephemeral port range where that file does not exist (Linux's default range).
DEFAULT_PORT_RANGE = (32768, 60999)
#: Share of the ephemeral ports one CSMS port is given: under half, because Linux hands
#: connect() the even half of its range first and, once that half is taken for one
#: destination, searches the range on every connect. Measured on the 2-core machine
#: (Linux 6.18, range 32768-60999, 19,000 sockets connecting to one listening port, CPU
#: time of each connect()): 17-28 µs up to 14,000 connections, 780-950 µs past it; 17-19
#: µs throughout over two ports. The rest is room for connections waiting in TIME_WAIT
#: after reconnects and for the machine's other clients.
PORT_SHARE = 0.45
#: Files a process keeps for other things than connections (its wire to the supervisor,
#: the event loop, standard streams, what it reads): at most this many, a tenth of a small limit.
FILES_RESERVE = 1_000
#: Open files taken for a limit that says "unlimited" (Linux's default ``fs.nr_open``).
UNLIMITED_OPEN_FILES = 1_048_576
#: From this many stations the built-in CSMS gets :data:`CSMS_SPREAD` processes (at most one
#: per core): a single CSMS process was the bottleneck of the ramp there.
CSMS_SPREAD_FROM = 10_000
CSMS_SPREAD = 2


class CapacityError(ValueError):
    """The counts given cannot hold the fleet within the machine's limits (one line: what is needed)."""


class MachineLimits(msgspec.Struct, frozen=True):
    """What a run may use of the machine.

    Attributes:
        cores: CPU cores.
        open_files: files one process may hold (the hard ``RLIMIT_NOFILE`` every worker raises
            its soft limit to).
        ephemeral_ports: source ports the kernel hands to client sockets.
    """

    cores: int
    open_files: int
    ephemeral_ports: int


class ProcessPlan(msgspec.Struct, frozen=True):
    """The processes and ports of a run: ``workers`` station workers, ``csms_workers``
    built-in CSMS processes on ``csms_ports`` ports (both 0 against an external CSMS)."""

    workers: int
    csms_workers: int
    csms_ports: int

    def port_index(self, csms_index: int) -> int:
        """The port (index into the run's CSMS URLs) CSMS process ``csms_index`` listens on."""
        return csms_index % self.csms_ports


def open_files_limit() -> int:
    """The files a worker process may hold once it raised its soft limit: the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return UNLIMITED_OPEN_FILES if hard == resource.RLIM_INFINITY else int(hard)


def raise_open_files_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit if it is lower; return
    the soft limit now (unchanged where the system refuses, e.g. above macOS's per-process cap)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = open_files_limit()
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return int(soft)
        return target
    return int(soft) if soft != resource.RLIM_INFINITY else target


def ephemeral_ports(path: str = PORT_RANGE_FILE) -> int:
    """How many source ports the kernel hands to client sockets (from ``path`` where it
    exists and reads ``low high``; :data:`DEFAULT_PORT_RANGE` elsewhere)."""
    low, high = DEFAULT_PORT_RANGE
    try:
        with open(path) as file:
            fields = file.read().split()
        if len(fields) == 2:
            low, high = int(fields[0]), int(fields[1])
    except (OSError, ValueError):
        pass
    return max(1, high - low + 1)


def machine_limits() -> MachineLimits:
    """This machine's limits."""
    return MachineLimits(cores=os.cpu_count() or 1, open_files=open_files_limit(), ephemeral_ports=ephemeral_ports())


def connections_per_process(open_files: int) -> int:
    """Connections one process may hold: its open files less a reserve for its other files."""
    return max(1, open_files - min(FILES_RESERVE, open_files // 10))


def connections_per_port(ephemeral: int) -> int:
    """Connections from one address one port of the built-in CSMS is given (see :data:`PORT_SHARE`)."""
    return max(1, int(ephemeral * PORT_SHARE))


def plan_processes(stations: int, limits: MachineLimits, *, workers: int = 0, csms_workers: int = 0,
                   csms_ports: int = 0, builtin: bool = True) -> ProcessPlan:
    """The processes and ports for ``stations`` stations (those of this shard).

    ``workers``, ``csms_workers``, ``csms_ports``: what the user gave (0: choose). Chosen,
    there are as many station workers as cores (no more than stations), more when one would
    hold more connections than :func:`connections_per_process`; as many CSMS ports as
    :func:`connections_per_port` asks for (one up to its capacity: the single port of a
    small fleet); and CSMS processes enough for the open files, one per port at least,
    :data:`CSMS_SPREAD` from :data:`CSMS_SPREAD_FROM` stations, a multiple of the ports so
    every process serves as many stations.

    Raises:
        CapacityError: a count given cannot hold the fleet (the line names the option and
            how many are needed).
    """
    per_process = connections_per_process(limits.open_files)
    limit = f"a process holds at most {per_process:,} connections (open-files limit {limits.open_files:,})"
    if workers:
        if math.ceil(stations / workers) > per_process:
            raise CapacityError(f"{stations:,} stations need at least {math.ceil(stations / per_process)} station "
                                f"worker processes (--workers): {limit}")
        station_workers = max(1, min(workers, stations))
    else:
        station_workers = max(1, min(limits.cores, stations), math.ceil(stations / per_process))
    if not builtin:
        if csms_ports:
            raise CapacityError("--csms-ports goes with the built-in CSMS (without --csms)")
        return ProcessPlan(station_workers, 0, 0)

    per_port = connections_per_port(limits.ephemeral_ports)
    ports_needed = max(1, math.ceil(stations / per_port))
    if csms_ports and csms_ports < ports_needed:
        raise CapacityError(f"{stations:,} stations need at least {ports_needed} CSMS ports (--csms-ports): one port "
                            f"takes at most {per_port:,} connections from one address ({limits.ephemeral_ports:,} "
                            f"ephemeral ports)")
    if csms_ports and csms_workers and csms_workers < csms_ports:
        raise CapacityError(f"--csms-ports {csms_ports} needs at least {csms_ports} CSMS processes (--csms-workers): "
                            f"a process listens on one port")
    if csms_workers and not csms_ports and csms_workers < ports_needed:
        raise CapacityError(f"{stations:,} stations need at least {ports_needed} CSMS processes (--csms-workers): "
                            f"the CSMS needs {ports_needed} ports (one takes at most {per_port:,} connections from "
                            f"one address) and a process listens on one")

    def most_per_process(processes: int, ports: int) -> int:
        """Stations on the busiest process: a port's share over its fewest processes."""
        return math.ceil(math.ceil(stations / ports) / (processes // ports))

    if csms_ports:
        ports = csms_ports
        if csms_workers:
            processes = csms_workers
        else:
            wanted = max(_spread(stations, limits), math.ceil(stations / per_process), ports)
            processes = ports * math.ceil(wanted / ports)  # (a multiple of the ports: the same share each)
    else:
        processes = csms_workers or max(_spread(stations, limits), math.ceil(stations / per_process), ports_needed)
        ports = min(d for d in range(ports_needed, processes + 1) if processes % d == 0)
    if most_per_process(processes, ports) > per_process:
        needed = ports * math.ceil(math.ceil(stations / ports) / per_process) if csms_ports else \
            max(math.ceil(stations / per_process), ports_needed)
        on_ports = f" on {ports} ports" if csms_ports else ""
        raise CapacityError(f"{stations:,} stations need at least {needed} CSMS processes (--csms-workers){on_ports}: "
                            f"{limit}")
    return ProcessPlan(station_workers, processes, ports)


def _spread(stations: int, limits: MachineLimits) -> int:
    """CSMS processes the fleet's size asks for regardless of the limits."""
    return min(CSMS_SPREAD, limits.cores) if stations >= CSMS_SPREAD_FROM else 1
