"""A stand-in for ``python -m dacon_engine.jobs.service`` (standard library only) for client tests.

It speaks protocol 1 on stdin/stdout like the real service, without torch or a model: a
``colorize`` job copies each target to ``<out>/<stem>.png`` (with a small JSON record) and
reports it. How it behaves is set by environment variables, so tests can steer slow frames,
cancels and deaths without sleeping:

- ``FAKE_HOLD_AFTER=N``: after N frames of a colorize job, wait for a cancel (or stdin to
  close) instead of going on; a test can then cancel, or kill -9 the process.
- ``FAKE_LATE_FRAMES=K``: after a cancel, still finish K more frames (an engine that lags).
- ``FAKE_PAD=BYTES``: hello's result carries a string of that many bytes (one long line).
- ``FAKE_SPLIT=1``: from the second hello on, its ``job_done`` line is written in two
  pieces ("half written" goes to stderr between them); the second piece follows once an
  empty line arrives on stdin.
- ``FAKE_STDERR=TEXT`` is printed to stderr at start; ``FAKE_EXIT=CODE`` then exits at once.

Run as ``fake_engine.py -m dacon_engine.jobs.service`` (the arguments are ignored).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading

OUT = sys.stdout.buffer
LOCK = threading.Lock()
CANCEL = threading.Event()
NUDGE = threading.Event()
REQUESTS: queue.Queue[dict | None] = queue.Queue()


def send(msg: dict, split: bool = False) -> None:
    data = (json.dumps(msg) + "\n").encode("utf-8")
    with LOCK:
        if split:
            half = len(data) // 2
            OUT.write(data[:half])
            OUT.flush()
            print("half written", file=sys.stderr, flush=True)
            NUDGE.wait()
            data = data[half:]
        OUT.write(data)
        OUT.flush()


def read_stdin() -> None:
    for raw in sys.stdin.buffer:
        if not raw.strip():
            NUDGE.set()
            continue
        msg = json.loads(raw)
        if msg["type"] == "cancel":
            CANCEL.set()
        elif msg["type"] == "shutdown":
            break
        else:
            if msg["type"] == "hello":  # answered at once, beside a running job
                threading.Thread(target=hello, args=(msg,), daemon=True).start()
            else:
                send({"type": "accepted", "id": msg["id"], "request": msg["type"]})
                CANCEL.clear()  # a cancel read after this line is for this job
                REQUESTS.put(msg)
    CANCEL.set()
    REQUESTS.put(None)


HELLOS = [0]


def hello(msg: dict) -> None:
    HELLOS[0] += 1
    send({"type": "accepted", "id": msg["id"], "request": "hello"})
    result = {"protocol": 1, "engine_version": "fake", "pid": os.getpid(), "models": [],
              "devices": [], "cuda_available": False, "torch": None, "cuda": None}
    pad = int(os.environ.get("FAKE_PAD", "0"))
    if pad:
        result["pad"] = "x" * pad
    send({"type": "job_done", "id": msg["id"], "status": "done", "result": result},
         split=os.environ.get("FAKE_SPLIT") == "1" and HELLOS[0] > 1)


def colorize(msg: dict) -> None:
    rid, out = msg["id"], msg["out"]
    targets = msg["targets"]
    hold = int(os.environ.get("FAKE_HOLD_AFTER", "-1"))
    late = int(os.environ.get("FAKE_LATE_FRAMES", "0"))
    os.makedirs(out, exist_ok=True)
    total = len(targets)
    send({"type": "progress", "id": rid, "done": 0, "total": total, "fps": 0.0})
    done = 0
    for k, target in enumerate(targets, 1):
        if k - 1 == hold:
            CANCEL.wait()
        if CANCEL.is_set():
            if late <= 0:
                break
            late -= 1
        stem = os.path.splitext(os.path.basename(target))[0]
        png = os.path.join(out, f"{stem}.png")
        shutil.copyfile(target, png)
        record = os.path.join(out, f"{stem}.json")
        with open(record, "w", encoding="utf-8") as f:
            json.dump({"frame": {"transparent_paper": False}}, f)
        done = k
        send({"type": "frame_done", "id": rid, "frame": stem, "target": target, "index": k,
              "total": total, "files": [record, png]})
        send({"type": "progress", "id": rid, "done": k, "total": total, "fps": 10.0})
    cancelled = done < total
    send({"type": "job_done", "id": rid, "status": "cancelled" if cancelled else "done",
          "result": {"frames_total": total, "frames_selected": total, "frames_done": done,
                     "frames_skipped": 0, "cancelled": cancelled, "seconds": 0.1}})


def main() -> int:
    if os.environ.get("FAKE_STDERR"):
        print(os.environ["FAKE_STDERR"], file=sys.stderr, flush=True)
    if os.environ.get("FAKE_EXIT"):
        return int(os.environ["FAKE_EXIT"])
    threading.Thread(target=read_stdin, daemon=True).start()
    while True:
        msg = REQUESTS.get()
        if msg is None:
            return 0
        if msg["type"] == "colorize":
            colorize(msg)
        else:
            send({"type": "job_done", "id": msg["id"], "status": "done", "result": {}})


if __name__ == "__main__":
    sys.exit(main())
