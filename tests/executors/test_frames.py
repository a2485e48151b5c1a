"""The caller's frame reader: many frames per read, big frames, EOF."""

from __future__ import annotations

import os
import threading
from multiprocessing.connection import Connection

import pytest

from webber.executors._pool import _Frames


def test_many_small_and_one_big_frame_then_eof() -> None:
    r, w = os.pipe()
    frames = _Frames(r)
    writer = Connection(w, readable=False)
    messages = [b"a" * n for n in (0, 1, 100, 5_000)] + [os.urandom(3 << 20)]

    def write() -> None:
        for message in messages:
            writer.send_bytes(message)
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    got: list[bytes] = []
    while len(got) < len(messages):
        got += frames.read()
    with pytest.raises(EOFError):
        frames.read()
    thread.join()
    frames.close()
    assert got == messages


def test_eof_in_the_middle_of_a_frame() -> None:
    r, w = os.pipe()
    os.write(w, (10).to_bytes(4, "big") + b"abc")  # promises 10 bytes, sends 3
    os.close(w)
    frames = _Frames(r)
    with pytest.raises(EOFError):
        frames.read()
    frames.close()
