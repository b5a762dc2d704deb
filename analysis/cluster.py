"""Where Ray work runs: a local cluster on loopback, or a cluster the user names.

Why one module: the analysis (``analyze --engine ray``) and the import (``data import
--engine ray``) connect the same way, and on these machines every Ray process must stay on
127.0.0.1. ``address=None`` starts a private local cluster bound to loopback (no dashboard);
``"auto"`` joins the cluster ``ray start`` left on this machine; ``HOST:PORT`` joins that one
(a real cluster: the caller chose the address). An address nothing answers on is reported
in one line within seconds, instead of Ray's long retry loop.

Ray is imported only here and only when asked for: without ``--engine ray`` nothing needs it.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager, nullcontext
from collections.abc import Iterator

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 3.0
# Ray ≥ 2.x turns ``_node_ip_address="127.0.0.1"`` into the machine's routable address
# (services.resolve_ip_for_localhost) and its processes then listen on all interfaces;
# with this variable at 0 it takes loopback as the node's address (its setting for
# single-machine clusters), and every process of a local cluster stays on 127.0.0.1.
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class ClusterError(RuntimeError):
    """Ray is missing or no cluster answers; the message says what to do."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("--engine ray needs Ray: pip install 'ray[data]>=2.40' "
                           "(or `pip install -e .[ray]`)") from None
    return ray


def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast, in one line, when nothing listens at ``HOST:PORT``."""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://"):
        host, sep, port = address[len("ray://"):].rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ClusterError(f"--address {address!r} is not HOST:PORT (or 'auto')")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ClusterError(f"no Ray cluster answers at {address} ({e.strerror or e}): start one with "
                           f"`ray start --head --node-ip-address={LOOPBACK}` or check --address") from None


def init_kwargs(address: str | None, num_cpus: int | None = None) -> dict:
    """The arguments of ``ray.init`` for ``address`` (see the module's docstring)."""
    if address is None:  # "local": a new cluster, never one found in RAY_ADDRESS or /tmp/ray
        kw = {"address": "local", "_node_ip_address": LOOPBACK, "include_dashboard": False,
              "log_to_driver": False, "configure_logging": False}
        if num_cpus:
            kw["num_cpus"] = num_cpus
        return kw
    return {"address": address, "log_to_driver": False, "configure_logging": False}


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator:
    """Ray, connected; the local cluster it started (if any) is shut down on exit.
    Joining a session that is already up (a test's cluster, a notebook) leaves it running."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address not in (None, "auto"):
        check_address(address)
    if address == "auto" and not os.environ.get("RAY_ADDRESS"):
        _check_auto()
    try:
        with loopback_only(ray) if address is None else nullcontext():
            ray.init(**init_kwargs(address, num_cpus))
    except ConnectionError as e:
        raise ClusterError(f"could not join the Ray cluster at {address}: {str(e).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


@contextmanager
def loopback_only(ray) -> Iterator[None]:
    """While a local cluster starts: its node address is 127.0.0.1, in this process and in
    the processes it spawns (which inherit the environment); restored afterwards."""
    from ray._private import ray_constants

    saved_env, saved_flag = os.environ.get(SINGLE_MACHINE_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_MACHINE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(SINGLE_MACHINE_ENV, None)
        else:
            os.environ[SINGLE_MACHINE_ENV] = saved_env


def _check_auto() -> None:
    """``--address auto`` with no cluster started on this machine: say so at once."""
    from pathlib import Path
    import tempfile

    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if not current.is_file():
        raise ClusterError("--address auto: no Ray cluster was started on this machine; run "
                           f"`ray start --head --node-ip-address={LOOPBACK}` first, or leave out "
                           "--address for a local one")
    check_address(current.read_text().strip())
