"""App cold start: seconds from `python app.py` to the first answer through gradio_client.

    python -m bench.cold_start [--photo tests/photos/astronaut.png]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", default=str(REPO / "tests" / "photos" / "astronaut.png"))
    args = ap.parse_args(argv)
    from gradio_client import Client, handle_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise SystemExit("the app did not start")
                time.sleep(0.2)
        t_up = time.perf_counter() - t0
        status = client.predict(handle_file(args.photo), api_name="/segment")[1]
        t_answer = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"{'server up (s)':22}{t_up:8.2f}")
    print(f"{'first answer (s)':22}{t_answer:8.2f}")
    print(f"status: {status}")


if __name__ == "__main__":
    main()
