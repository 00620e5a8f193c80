"""`python`: an admin's `score(input, output, context)` run out of process with time, memory and file limits.

Each call starts `sys.executable -I -S -B -c <_python_child.py>` in a fresh temp dir with an empty
environment and its own session; code and inputs go over stdin as JSON, the answer comes back as the
last JSON line of stdout. The wall-clock limit kills the process group. Inside, the child lowers its own
rlimits (address space, CPU seconds, 16 open files, no file writes, no processes), then, when the
server runs as root, becomes `nobody` with no supplementary groups (so it cannot read DATA_DIR's 0600
secrets, and RLIMIT_NPROC=0 stops fork: no grandchild can outlive the kill), then installs an audit hook
whose state lives in closure cells (user code cannot switch it off) refusing files outside its temp
dir (the standard library stays readable for imports), processes, sockets and ctypes. Setting limits
in the child rather than a `preexec_fn` keeps the app's threads safe.
This is defence in depth for admins' own code, not a sandbox for hostile code: it shares the kernel,
world-readable files and, without CAP_SYS_ADMIN, the network namespace (as root it gets an empty one).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import pwd
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from pydantic import BaseModel, Field, field_validator

from .base import ScoreContext, ScorerConfig, ScoreResult
from .services import services_of

_OUTPUT_CAP = 256 * 1024
_SIGNALS: dict[int, str] = {
    signal.SIGXCPU: "it used up its CPU time limit", signal.SIGKILL: "it was killed (out of memory?)",
    signal.SIGXFSZ: "it tried to write a file", signal.SIGSEGV: "it crashed (segmentation fault)",
}
_SLOTS: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


class PythonConfig(ScorerConfig):
    """Config of the python scorer."""

    code: str = Field(min_length=1, max_length=100_000,
                      description="Python source defining `score(input, output, context) -> float`; `context` has "
                                  "`reference`, `vars`, `sample_id` and `run_config`. Standard library only; no "
                                  "files outside a temp dir, no network, no processes.")
    timeout_s: float = Field(default=5.0, gt=0, le=30, description="Wall-clock limit per sample, in seconds.")
    memory_mb: int = Field(default=256, ge=64, le=2048, description="Address-space limit of the process, in MB.")

    @field_validator("code")
    @classmethod
    def _defines_score(cls, code: str) -> str:
        try:
            tree = ast.parse(code, "<scorer>")
        except SyntaxError as exc:
            raise ValueError(f"the code does not compile: {exc.msg} (line {exc.lineno})") from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise ValueError(f"the code does not compile: {type(exc).__name__}") from None
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
        defined |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
        if "score" not in defined:
            raise ValueError("the code must define score(input, output, context) at the top level")
        return code


@dataclass
class ChildOutcome:
    """What came back from a child process."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool


@cache
def child_source() -> str:
    """The child bootstrap's source, passed with -c."""
    return (Path(__file__).with_name("_python_child.py")).read_text(encoding="utf-8")


def _slots() -> asyncio.Semaphore:
    """At most one child per CPU at once, per event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _SLOTS:
        _SLOTS[loop] = asyncio.Semaphore(max(1, os.cpu_count() or 1))
    return _SLOTS[loop]


async def _read_tail(stream: asyncio.StreamReader | None, cap: int) -> bytes:
    """Everything a pipe carries, keeping only the last `cap` bytes."""
    kept = bytearray()
    while stream is not None and (chunk := await stream.read(65536)):
        kept += chunk
        if len(kept) > cap:
            del kept[: len(kept) - cap]
    return bytes(kept)


UNPRIVILEGED_USER = "nobody"


@cache
def unprivileged_ids() -> tuple[int, int]:
    """(uid, gid) the child runs as when the server runs as root: `nobody`, else 65534."""
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def child_user() -> dict[str, int] | None:
    """The user the child must become: None unless the server runs as root."""
    if os.geteuid() != 0:
        return None
    uid, gid = unprivileged_ids()
    return {"uid": uid, "gid": gid}


def _kill(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the group is the child and nothing else
    except (ProcessLookupError, PermissionError):
        pass


async def run_child(payload: dict[str, Any], timeout_s: float, cwd: str) -> ChildOutcome:
    """Run the child bootstrap with the payload on stdin; kill it at the wall-clock limit.

    As root, the child drops to an unprivileged user (`payload["user"]`, set here) before any user
    code runs, and owns only its temp dir.
    """
    payload = payload | {"user": child_user()}
    if payload["user"] is not None:
        os.chown(cwd, payload["user"]["uid"], payload["user"]["gid"])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-B", "-X", "utf8", "-c", child_source(), cwd=cwd, env={},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True)

    async def exchange() -> tuple[bytes, bytes]:
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(payload, default=str).encode("utf-8"))
            await process.stdin.drain()
            process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child died early; its exit status says why
        out, err = await asyncio.gather(_read_tail(process.stdout, _OUTPUT_CAP), _read_tail(process.stderr, 8192))
        await process.wait()
        return out, err

    try:
        stdout, stderr = await asyncio.wait_for(exchange(), timeout_s)
        return ChildOutcome(process.returncode, stdout, stderr, timed_out=False)
    except TimeoutError:
        return ChildOutcome(None, b"", b"", timed_out=True)
    finally:
        if process.returncode is None:
            _kill(process)
            await asyncio.shield(process.wait())


def _answer(outcome: ChildOutcome) -> dict[str, Any] | None:
    for line in reversed(outcome.stdout.decode("utf-8", "replace").splitlines()):
        if line.strip():
            try:
                answer = json.loads(line)
            except ValueError:
                return None
            return answer if isinstance(answer, dict) else None
    return None


def interpret(outcome: ChildOutcome, config: PythonConfig) -> ScoreResult:
    """The score, or 0 with the reason, from a child's outcome."""
    if outcome.timed_out:
        return ScoreResult(0.0, {"reason": f"timed out after {config.timeout_s:g}s (the process was killed)"})
    answer = _answer(outcome)
    if answer is not None and answer.get("ok") is True and isinstance(answer.get("value"), int | float):
        return ScoreResult(float(answer["value"]), {"raw": answer["value"], "stdout": answer.get("stdout", "")})
    if answer is not None and answer.get("ok") is False:
        error = str(answer.get("error"))
        if error.startswith("MemoryError"):
            error += f" (memory limit {config.memory_mb} MB)"
        return ScoreResult(0.0, {"reason": f"the code failed: {error}", "stdout": answer.get("stdout", "")})
    code = outcome.returncode or 0
    why = _SIGNALS.get(-code, f"signal {-code}") if code < 0 else f"exit status {code}"
    stderr = outcome.stderr.decode("utf-8", "replace")[-1000:]
    return ScoreResult(0.0, {"reason": f"the scorer process ended without a score: {why}", "stderr": stderr})


def _context_payload(context: ScoreContext) -> dict[str, Any]:
    return {"reference": context.reference, "vars": context.vars, "sample_id": context.sample.id,
            "run_config": context.run_config}


class PythonScorer:
    """Runs an admin's Python snippet in a limited child process."""

    id = "python"
    description = ("An admin's Python function score(input, output, context) -> float, run in a separate "
                   "process with time and memory limits; errors and time-outs score 0.")
    config_model: type[BaseModel] = PythonConfig
    admin_only = True

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, PythonConfig)
        services = services_of(context)
        if services is None or not services.is_admin:
            return ScoreResult(0.0, {"reason": "the python scorer runs only in experiments created by an admin"})
        payload = {"code": config.code, "input": input, "output": output, "context": _context_payload(context),
                   "limits": {"memory_bytes": config.memory_mb * 1024 * 1024, "cpu_s": int(config.timeout_s) + 1}}
        async with _slots():
            workdir = tempfile.mkdtemp(prefix="pl-python-scorer-")
            try:
                outcome = await run_child(payload, config.timeout_s, workdir)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        return interpret(outcome, config)
