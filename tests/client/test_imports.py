"""The client installs next to any program: importing it loads none of the server's stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.timeout(60)]

SERVER_STACK = (
    "{'fastapi', 'starlette', 'uvicorn', 'redis', 'prometheus_client', 'pydantic', 'talipp'}"
)


def test_importing_the_client_loads_nothing_of_the_server() -> None:
    probe = (
        "import marketcast.client, sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=50
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_the_package_docstring_example_is_valid_python() -> None:
    import marketcast.client

    doc = marketcast.client.__doc__ or ""
    example = doc.split("::\n", 1)[1].split("\nWhat a stream yields", 1)[0]
    lines = [line[4:] if line.startswith("    ") else line for line in example.splitlines()]
    compile("\n".join(lines), "marketcast.client example", "exec")
