"""Frames over a pipe: many per read, big ones, EOF; the format of multiprocessing."""

from __future__ import annotations

import os
import threading

import pytest

from webber.executors._frames import Frames as _Frames
from webber.executors._frames import send_frame


def test_many_small_and_one_big_frame_then_eof() -> None:
    r, w = os.pipe()
    frames = _Frames(r)
    messages = [b"a" * n for n in (0, 1, 100, 5_000)] + [os.urandom(3 << 20)]

    def write() -> None:
        for message in messages:
            send_frame(w, message)
        os.close(w)

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


def test_same_format_as_multiprocessing_connection() -> None:
    from multiprocessing.connection import Connection

    r, w = os.pipe()
    send_frame(w, b"hello")
    assert Connection(r, writable=False).recv_bytes() == b"hello"
    os.close(w)
