"""Joining a cluster: the token is sent exactly when the cluster asks for one."""

import pytest

from analysis import cluster


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    return tmp_path


def with_token(home):
    (home / ".ray").mkdir()
    (home / ".ray" / "auth_token").write_text("x" * 32)


@pytest.mark.parametrize("has_token,asks,expected", [
    (True, True, "token"),  # a `ray start` cluster with a token on this machine
    (True, False, None),  # a cluster without authentication (a test's, an old one)
    (False, True, None),  # no token to send: Ray's own error says what is missing
])
def test_token_mode_follows_the_cluster(home, monkeypatch, has_token, asks, expected):
    import os

    if has_token:
        with_token(home)
    calls = []
    monkeypatch.setattr(cluster, "asks_for_token", lambda address: calls.append(address) or asks)
    cluster.use_cluster_token("127.0.0.1:6379")
    assert os.environ.get("RAY_AUTH_MODE") == expected
    assert calls == (["127.0.0.1:6379"] if has_token else [])


def test_a_mode_the_user_set_is_left_alone(home, monkeypatch):
    import os

    with_token(home)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setattr(cluster, "asks_for_token", lambda address: pytest.fail("must not probe"))
    cluster.use_cluster_token("127.0.0.1:6379")
    assert os.environ["RAY_AUTH_MODE"] == "disabled"


def test_nobody_listening_does_not_count_as_asking_for_a_token():
    pytest.importorskip("ray")
    cluster.asks_for_token.cache_clear()
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert cluster.asks_for_token(f"127.0.0.1:{port}") is False  # no probe: the address check fails first
