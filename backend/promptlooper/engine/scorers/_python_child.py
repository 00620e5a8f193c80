"""Child side of the `python` scorer, run as `python -I -S -B -c <this source>` in a fresh temp dir.

Reads {"code", "input", "output", "context", "limits"} as JSON on stdin, lowers its own resource limits,
installs an audit hook (it cannot be removed) that refuses files outside the temp dir (reads of the
standard library excepted, so imports work), processes, sockets and introspection of the hook, runs
`score(input, output, context)` and writes one JSON line on stdout: {"ok": true, "value": ...} or
{"ok": false, "error": ...}. Never imported by the app.
"""

from __future__ import annotations

import builtins
import io
import json
import linecache
import math
import os
import resource
import sys
import traceback
from collections.abc import Callable
from typing import Any

_DENIED_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "os.startfile", "socket.__new__", "socket.connect", "socket.bind", "socket.sendto",
    "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname", "ctypes.dlopen", "ctypes.dlsym",
    "ctypes.cdata", "ctypes.call_function", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "sys._current_frames", "sys.settrace", "sys.setprofile", "resource.setrlimit", "resource.prlimit",
    "os.setuid", "os.setgid", "os.chroot", "os.putenv", "os.unsetenv", "mmap.__new__", "sys.addaudithook",
    "os.setsid", "os.setpgid", "os.setns", "os.unshare", "sys._getframemodulename",
})
_DENIED_MODULES = frozenset({"ctypes", "_ctypes", "socket", "_socket", "subprocess", "_posixsubprocess",
                             "multiprocessing", "_multiprocessing", "mmap", "pty", "ssl", "_ssl", "resource",
                             "_xxsubinterpreters"})
_READ_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob"})
_WRITE_EVENTS = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
                           "os.truncate", "os.utime", "os.symlink", "os.link", "os.chdir", "os.chflags",
                           "os.lchflags", "os.setxattr", "os.removexattr", "shutil.copyfile", "shutil.copymode",
                           "shutil.copystat", "shutil.copytree", "shutil.rmtree", "shutil.move", "shutil.chown"})
_INSTALLED = frozenset({"site-packages", "dist-packages"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _limit(limits: dict[str, int]) -> None:
    """Lower soft and hard limits together, so the code cannot raise them back."""
    wanted = [(resource.RLIMIT_AS, limits["memory_bytes"]), (resource.RLIMIT_CPU, limits["cpu_s"]),
              (resource.RLIMIT_NOFILE, 16), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0),
              (resource.RLIMIT_NPROC, 0)]
    for which, value in wanted:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass


def _hook(sandbox: str, readable: tuple[str, ...]) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook. Everything it consults is bound here, in closure cells and default arguments.

    Nothing is read from module globals at call time: the scorer's code can reach this module
    (`sys.modules['__main__']`) and rebind its names, but not the cells of a function it cannot name
    (`gc` and frame access are refused below).
    """
    writable = (sandbox,)
    denied_events, denied_modules = frozenset(_DENIED_EVENTS), frozenset(_DENIED_MODULES)
    read_events, write_events, installed = frozenset(_READ_EVENTS), frozenset(_WRITE_EVENTS), frozenset(_INSTALLED)
    write_flags, realpath, fsdecode, sep, pathlike = _WRITE_FLAGS, os.path.realpath, os.fsdecode, os.sep, os.PathLike

    def inside(path: object, roots: tuple[str, ...]) -> bool:
        """Whether a path is under one of the roots; the last root is always the sandbox."""
        # Exact types only: a str subclass or a PathLike could answer differently here than to the real open.
        if type(path) is int:
            return True  # an already open descriptor: opening it needed an allowed path
        if type(path) is bytes:
            path = fsdecode(path)
        if type(path) is not str or ".." in path.split("/"):
            return False
        real = realpath(path)
        if installed.intersection(real.split(sep)) and not real.startswith(roots[-1] + sep):
            return False  # installed packages (the app itself among them) stay out of reach, even under stdlib
        return any(real == root or real.startswith(root + sep) for root in roots)

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event in denied_events:
            raise PermissionError(f"{event} is not allowed in a python scorer")
        if event == "import" and args and str(args[0]).partition(".")[0] in denied_modules:
            raise PermissionError(f"importing {args[0]} is not allowed in a python scorer")
        if event == "open":
            path, mode, flags = [*args, None, None, None][:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and mode is None and bool(flags & write_flags))
            if not inside(path, writable if writing else readable):
                raise PermissionError(f"opening {path!r} is not allowed: only str paths in the scorer's temp dir")
        elif event in read_events:
            if args and args[0] is not None and not inside(args[0], readable):
                raise PermissionError(f"{event} of {args[0]!r} is not allowed: only the scorer's temp dir")
        elif event in write_events:
            for arg in args:
                if isinstance(arg, str | bytes | pathlike) and not inside(arg, writable):
                    raise PermissionError(f"{event} of {arg!r} is not allowed: only the scorer's temp dir")

    return audit


_PRELOAD = ("re", "math", "cmath", "statistics", "collections", "itertools", "functools", "string", "difflib",
            "datetime", "random", "decimal", "fractions", "unicodedata", "textwrap", "typing", "dataclasses",
            "enum", "operator", "heapq", "bisect", "hashlib", "base64", "html", "csv", "copy", "time", "numbers",
            "struct", "zlib", "json", "string", "urllib.parse", "ast", "difflib", "pprint", "calendar")


def _preload() -> None:
    """Import the common standard library while still root: the interpreter may live where `nobody` cannot read."""
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a module missing from this build is simply not offered
            continue


def _isolate_network() -> None:
    """As root, move into a new, empty network namespace (no interface up: no socket reaches anything).

    Needs CAP_SYS_ADMIN (a default Docker container lacks it): without it the audit hook alone refuses
    sockets. ctypes is dropped from sys.modules afterwards, and its use is refused by the hook anyway.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(0x40000000)  # CLONE_NEWNET
    except Exception:  # no ctypes, no libc symbol: stay with the audit hook
        pass
    finally:
        for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
            del sys.modules[name]


def _drop_privileges(user: dict[str, int] | None) -> None:
    """As root, become the unprivileged user the server chose (no groups); refuse to go on as root."""
    if os.geteuid() != 0:
        return
    if not user:
        raise SystemExit("the python scorer refuses to run user code as root")
    os.setgroups([])
    os.setgid(user["gid"])
    os.setuid(user["uid"])
    if os.geteuid() == 0 or os.getuid() == 0:
        raise SystemExit("the python scorer could not leave root")


def _describe(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<scorer>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    message = str(exc)
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"[:2000]


def _value(result: object) -> dict[str, Any]:
    if not isinstance(result, int | float):
        return {"ok": False, "error": f"score() returned {type(result).__name__}, not a number"}
    value = float(result)
    if not math.isfinite(value):
        return {"ok": False, "error": f"score() returned {value}, not a finite number"}
    return {"ok": True, "value": value}


def _run(payload: dict[str, Any]) -> dict[str, Any]:
    code = str(payload["code"])
    linecache.cache["<scorer>"] = (len(code), None, code.splitlines(True), "<scorer>")
    namespace: dict[str, Any] = {"__name__": "scorer", "__builtins__": builtins}
    exec(compile(code, "<scorer>", "exec"), namespace)
    function = namespace.get("score")
    if not callable(function):
        return {"ok": False, "error": "the code does not define score(input, output, context)"}
    return _value(function(payload["input"], payload["output"], payload["context"]))


def main() -> None:
    """Read the payload, confine this process, run the code, answer one JSON line."""
    payload = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    _limit(payload["limits"])
    sandbox = os.path.realpath(os.getcwd())
    readable = (*(os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)), sandbox)
    if payload.get("user"):
        _preload()
        _isolate_network()
    _drop_privileges(payload.get("user"))  # after the limits: an unprivileged user cannot raise them back
    sys.addaudithook(_hook(sandbox, readable))
    captured = io.StringIO()
    sys.stdout = sys.stderr = captured
    try:
        answer = _run(payload)
    except BaseException as exc:  # everything the code does wrong is an answer, never a crash
        payload = {}
        try:
            answer = {"ok": False, "error": _describe(exc)}
        except BaseException:
            answer = {"ok": False, "error": type(exc).__name__}
    answer["stdout"] = captured.getvalue()[-2000:]
    os.write(1, b"\n" + json.dumps(answer).encode("utf-8") + b"\n")
    os._exit(0)  # no atexit handlers or finalizers of the code run after the answer


if __name__ == "__main__":
    main()
