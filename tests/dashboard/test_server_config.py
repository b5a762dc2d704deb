"""The dashboard's server settings that users and the workplace rely on."""
import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_server_listens_on_loopback_only():
    # `make run` passes only the port: the address must come from the config, or
    # streamlit binds every interface and the dashboard is reachable from the network.
    server = tomllib.loads(CONFIG.read_text())["server"]
    assert server["address"] == "127.0.0.1"


def test_uploads_are_capped():
    assert tomllib.loads(CONFIG.read_text())["server"]["maxUploadSize"] <= 20
