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

import functools
import os
import socket
import sys
from contextlib import contextmanager
from collections.abc import Iterator

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 3.0
# Ray rewrites a loopback cluster address to this machine's outward address before it
# connects ("remotely reachable"), which would leave loopback. Its switch for single-machine
# clusters (meant for macOS and Windows) keeps every address on loopback instead.
SINGLE_MACHINE_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# The private local cluster's shared object store. Ray's default (30 % of the memory) lets
# every shard's pixels land on fresh pages, so each worker's resident size grew with the
# dataset (1.40x from 5,000 to 20,000 images) although its own memory did not; a store a
# few shards large is reused instead, and Ray Data's streaming needs no more.
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20


def stay_on_loopback() -> None:
    """Make Ray resolve "this machine" to 127.0.0.1, here and in the processes it starts."""
    os.environ[SINGLE_MACHINE_SWITCH] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # Ray was imported before the switch was set: flip it there too
        constants.ENABLE_RAY_CLUSTER = False


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


def driver_ip(address: str | None) -> str | None:
    """The address this driver announces to the cluster: loopback for a local cluster or one
    reached on loopback (so nothing listens on another interface); ``$STREETLENS_RAY_NODE_IP``
    if set (a real cluster that must reach this machine); else Ray's own choice."""
    if os.environ.get("STREETLENS_RAY_NODE_IP"):
        return os.environ["STREETLENS_RAY_NODE_IP"]
    if address is None:
        return LOOPBACK
    host = address.removeprefix("ray://").rpartition(":")[0]
    return LOOPBACK if host in (LOOPBACK, "localhost") else None


def init_kwargs(address: str | None, num_cpus: int | None = None) -> dict:
    """The arguments of ``ray.init`` for ``address`` (see the module's docstring)."""
    kw = {"log_to_driver": False, "configure_logging": False}
    ip = driver_ip(address)
    if ip:
        kw["_node_ip_address"] = ip
    if address is None:  # "local": a new cluster, never one found in RAY_ADDRESS or /tmp/ray
        kw["address"] = "local"
        kw["include_dashboard"] = False
        kw["object_store_memory"] = LOCAL_OBJECT_STORE_BYTES
        if num_cpus:
            kw["num_cpus"] = num_cpus
    else:
        kw["address"] = address
    return kw


def prepare(address: str | None) -> str | None:
    """Settings Ray reads when it is imported, so set before: the loopback switch for a
    cluster on this machine, the token of a cluster ``ray start`` began. Returns the
    address, with ``auto`` resolved to the cluster's HOST:PORT (one line when there is none)."""
    if address == "auto" and not os.environ.get("RAY_ADDRESS"):
        address = _check_auto()
    if driver_ip(address) == LOOPBACK and not os.environ.get("STREETLENS_RAY_NODE_IP"):
        stay_on_loopback()
    if address is not None and address != "auto":
        use_cluster_token(address)
    return address


def preflight(address: str | None) -> None:
    """Before any work: Ray is installed and, for a named cluster, something answers there."""
    address = prepare(address)
    import_ray()
    if address not in (None, "auto"):
        check_address(address)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator:
    """Ray, connected; the local cluster it started (if any) is shut down on exit.
    Joining a session that is already up (a test's cluster, a notebook) leaves it running."""
    address = prepare(address)
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address not in (None, "auto"):
        check_address(address)
    try:
        ray.init(**init_kwargs(address, num_cpus))
    except ConnectionError as e:
        raise ClusterError(f"could not join the Ray cluster at {address}: {str(e).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def use_cluster_token(address: str) -> None:
    """Send the token when the cluster at ``address`` asks for one. ``ray start`` turns
    token authentication on whenever ``~/.ray/auth_token`` exists, but ``ray.init`` with an
    explicit address never does; a cluster started another way (a test's, KubeRay's) may
    have it off. So ask the cluster, once, in a separate process (Ray fixes its mode when it
    is imported): a refusal without a token means it needs one. ``RAY_AUTH_MODE`` set by the
    user is left alone."""
    from pathlib import Path

    if "RAY_AUTH_MODE" in os.environ or address.startswith("ray://"):
        return
    if not (os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file()):
        return
    if asks_for_token(address):
        os.environ["RAY_AUTH_MODE"] = "token"


@functools.cache
def asks_for_token(address: str, timeout: float = 60.0) -> bool:
    """Whether the cluster's control service refuses a client without a token (False when
    nothing listens there: the caller's address check says so in one line)."""
    import subprocess

    try:
        check_address(address)
    except ClusterError:
        return False

    probe = ("import sys\nfrom ray._raylet import GcsClient\n"
             "try:\n    GcsClient(address=sys.argv[1])\n"
             "except Exception as e:\n    sys.exit(3 if 'AuthToken' in str(e) or 'Authentication' in type(e).__name__ else 4)\n")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    try:
        done = subprocess.run([sys.executable, "-c", probe, address], env=env, capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 3


def _check_auto() -> str:
    """``--address auto``: the cluster ``ray start`` left on this machine (its HOST:PORT), or
    one line at once when there is none."""
    from pathlib import Path
    import tempfile

    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if not current.is_file():
        raise ClusterError("--address auto: no Ray cluster was started on this machine; run "
                           f"`ray start --head --node-ip-address={LOOPBACK}` first, or leave out "
                           "--address for a local one")
    address = current.read_text().strip()
    check_address(address)
    return address


QUIET_DATA = {
    # no progress bars or execution banners of Ray Data's own (streetlens shows one bar)
    "enable_progress_bars": False, "print_on_execution_start": False,
    # reserving a share of the CPUs per operator (the default) only idles them on a small
    # machine — on 2 CPUs the import ran one task at a time
    "op_resource_reservation_enabled": False,
}


@contextmanager
def data_context(ray, **settings) -> Iterator:
    """Ray Data with :data:`QUIET_DATA` and ``settings`` (``preserve_order`` is an execution
    option); everything restored afterwards."""
    import logging

    wanted = {**QUIET_DATA, **settings}
    ctx = ray.data.DataContext.get_current()
    holders = {k: ctx.execution_options if k == "preserve_order" else ctx for k in wanted}
    saved = {k: getattr(holders[k], k) for k in wanted}
    log = logging.getLogger("ray.data")
    level = log.level
    for k, v in wanted.items():
        setattr(holders[k], k, v)
    log.setLevel(logging.ERROR)  # its warnings are about bars and banners; failures raise
    try:
        yield ctx
    finally:
        for k, v in saved.items():
            setattr(holders[k], k, v)
        log.setLevel(level)
