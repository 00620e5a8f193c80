"""The isolated estimate worker does not outlive a server killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.support.environment import subprocess_env

SERVER = """
import asyncio, os, sys, time
from promptlooper.offload import run_isolated

async def main():
    child = await run_isolated(os.getpid)
    print(child, flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_isolated_worker_ends_when_its_server_is_killed() -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert child != server.pid and _alive(child)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), f"the estimate worker {child} outlived its killed server"
    finally:
        server.kill()
