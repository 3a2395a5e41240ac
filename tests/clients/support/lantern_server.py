"""A real `lantern serve` for the client tests: a free port, a temporary data directory and a
system token from Lantern's development issuer; stopped and removed on exit.

Kept out of `tests/clients/*.py`, which `.ci/run` runs one by one as tests.
"""
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(root, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lantern serve exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{root}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("lantern serve did not become healthy")


@contextlib.contextmanager
def serving(binary, name):
    """Yields (FHIR base URL, bearer token) of a server running until the block ends."""
    port = free_port()
    data = tempfile.mkdtemp(prefix=f"lantern-{name.replace(' ', '-')}-")
    root = f"http://127.0.0.1:{port}"
    # The token first: it creates the development issuer's key the server then opens.
    token = subprocess.check_output([binary, "token", "--data", data, "--system"], text=True).strip()
    proc = subprocess.Popen(
        [binary, "serve", "--data", data, "--http", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_healthy(root, proc)
        yield f"{root}/fhir", token
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def run(binary_args, name, exercise, doc):
    """The scripts' `main`: checks the arguments, runs `exercise(base, token)` against a server,
    reports; returns the exit status."""
    if len(binary_args) != 2:
        print(doc, file=__import__("sys").stderr)
        return 2
    try:
        with serving(binary_args[1], name) as (base, token):
            exercise(base, token)
        print(f"{name}: ok")
        return 0
    except Exception as e:  # report and fail
        import traceback

        traceback.print_exc()
        print(f"{name}: FAILED: {e}", file=__import__("sys").stderr)
        return 1
