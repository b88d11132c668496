import os
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tempest.api.server import resolve_server_options


@dataclass(frozen=True)
class ServerConfig:
    SERVER_HOST: str = "0.0.0.0"
    SERVER_PORT: int = 9000
    SERVER_RELOAD: bool = True


def test_defaults_without_settings() -> None:
    assert resolve_server_options() == ("127.0.0.1", 8000, False)


def test_settings_fill_what_is_not_given() -> None:
    assert resolve_server_options(ServerConfig()) == ("0.0.0.0", 9000, True)


def test_explicit_arguments_win_over_settings() -> None:
    options = resolve_server_options(ServerConfig(), host="::1", port=0, reload=False)

    assert options == ("::1", 0, False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_run_server_serves_the_app(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "service.py").write_text(
        textwrap.dedent(
            f"""
            from dataclasses import dataclass

            from fastapi import FastAPI, Request

            app = FastAPI()


            @app.get("/where")
            async def where(request: Request) -> dict[str, str]:
                return {{"root_path": request.scope["root_path"]}}


            @dataclass(frozen=True)
            class Config:
                SERVER_HOST: str = "127.0.0.1"
                SERVER_PORT: int = {port}
                SERVER_RELOAD: bool = False


            settings = Config()
            """
        )
    )
    code = (
        "import service\n"
        "from tempest.api import run_server\n"
        "run_server('service:app', settings=service.settings, root_path='/svc',"
        " log_level='warning')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/where", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the server exited before serving"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert response.status_code == 200
    assert response.json() == {"root_path": "/svc"}
