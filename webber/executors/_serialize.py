"""Pickling for the process executor: cloudpickle, with large buffers out of band.

``dumps`` pickles with protocol 5. Every buffer of at least ``THRESHOLD``
bytes that an object exposes out of band (numpy arrays, bytearrays, large
``bytes`` -- wrapped here, as pickle never offers them) is written to a
shared-memory file instead of the pipe::

    sender:    obj --cloudpickle--> small pickle (pipe) + segments (/dev/shm files)
    receiver:  map each segment, unlink it at once, unpickle against the maps

The receiver unlinks a segment as soon as it has mapped it, so the name is
gone from ``/dev/shm`` whatever happens next; the memory lives exactly as
long as the objects that use it (a numpy array keeps its map alive).

The caller passes results on to other tasks, so it keeps what it maps in a
:class:`Holder` instead: the segment is renamed as its own and stays linked
until the run ends, and a buffer that lies inside it is sent on by reference
``(name, offset, length)`` -- one copy from producer to any number of
consumers. Borrowed segments are mapped, never unlinked, by the receiver. Segment
names start with ``webber-<pid of the creator>-``, so whoever outlives a
crashed process can remove what it left (:func:`remove_segments_of`).
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import pickle
import reprlib
import secrets
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from webber._errors import TaskError, UnpicklableTaskError
from webber._graph import display_name
from webber._promise import Promise

if TYPE_CHECKING:
    from webber._compile import Plan

__all__ = [
    "THRESHOLD",
    "Holder",
    "Segment",
    "check_plan",
    "dumps",
    "dumps_fields",
    "dumps_value",
    "loads",
    "remove_segments",
    "remove_segments_of",
]

#: Buffers this large or larger travel through shared memory.
THRESHOLD = 1 << 20

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
_counter = itertools.count()


class _BigBytes:
    """Carries a large ``bytes`` out of band (pickle keeps plain bytes in band)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (bytes, (pickle.PickleBuffer(self.data),))


def _wrap_big_bytes(obj: Any) -> Any:
    if type(obj) is bytes and len(obj) >= THRESHOLD:
        return _BigBytes(obj)
    if type(obj) in (tuple, list) and any(type(x) is bytes and len(x) >= THRESHOLD for x in obj):
        return type(obj)(_wrap_big_bytes(x) for x in obj)
    if type(obj) is dict and any(type(v) is bytes and len(v) >= THRESHOLD for v in obj.values()):
        return {k: _wrap_big_bytes(v) for k, v in obj.items()}
    return obj


def _segment_path(name: str) -> str:
    return os.path.join(_DIR, name)


def _write_segment(raw: memoryview) -> str:
    name = f"webber-{os.getpid()}-{next(_counter)}-{secrets.token_hex(4)}"
    fd = os.open(_segment_path(name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        # write() beats filling an mmap here: no page fault per page.
        written = 0
        while written < raw.nbytes:
            written += os.write(fd, raw[written:])
    except BaseException:
        os.close(fd)
        remove_segments([name])
        raise
    os.close(fd)
    return name


#: a segment entry: an owned name (the receiver unlinks it) or a borrowed span
Segment = str | tuple[str, int, int]


def _address(view: memoryview) -> int | None:
    """Where a writable buffer starts in memory (None for read-only ones)."""
    import ctypes

    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError):
        return None


class Holder:
    """Segments this process keeps mapped and linked, to pass on without copying."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, str]] = []
        self.names: list[str] = []

    def keep(self, name: str, view: memoryview) -> str:
        """Take over segment ``name`` (mapped as ``view``); returns its new name."""
        mine = f"webber-{os.getpid()}-{next(_counter)}-{secrets.token_hex(4)}"
        os.rename(_segment_path(name), _segment_path(mine))  # no longer its creator's
        self.names.append(mine)
        start = _address(view)
        if start is not None:
            self.spans.append((start, start + view.nbytes, mine))
        return mine

    def find(self, raw: memoryview) -> tuple[str, int, int] | None:
        start = _address(raw) if self.spans else None
        if start is not None:
            for low, high, name in self.spans:
                if low <= start and start + raw.nbytes <= high:
                    return (name, start - low, raw.nbytes)
        return None

    def release(self) -> None:
        remove_segments(self.names)
        self.spans.clear()
        self.names.clear()


#: what the C pickler sends safely: nothing here can be a function or a
#: ``__main__`` object (Promise(id) reduces to its key)
_PLAIN = frozenset({type(None), bool, int, float, str, Promise})


def dumps_fields(
    fields: tuple[Any, ...], holder: Holder | None = None
) -> tuple[bytes, list[Segment]]:
    """``dumps`` for a tuple of fields; by the C pickler, several times faster,
    when every field, and every item of a tuple or dict field, is plain."""
    plain = _PLAIN
    for field in fields:  # plain loops, no generators: this runs once per job
        kind = type(field)
        if kind in plain:
            continue
        if kind is tuple:
            items: Any = field
        elif kind is dict:
            items = field.values()
        else:
            return dumps(fields, holder=holder)
        for item in items:
            if type(item) not in plain:
                return dumps(fields, holder=holder)
    return pickle.dumps(fields, pickle.HIGHEST_PROTOCOL), []


def dumps_value(obj: Any) -> tuple[bytes, list[Segment]]:
    """``dumps`` for a task's result: plain scalars by the C pickler."""
    if type(obj) in _PLAIN:
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL), []
    return dumps(obj)


def dumps(
    obj: Any, out_of_band: bool = True, holder: Holder | None = None
) -> tuple[bytes, list[Segment]]:
    """Pickle ``obj``; returns the pickle and the names of its segments.

    ``out_of_band=False`` keeps every buffer in the pickle: for what is sent
    to several processes (a segment is unlinked by its first reader).
    """
    import cloudpickle  # only the process executor pays for it

    segments: list[Segment] = []

    def callback(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < THRESHOLD or not out_of_band:
            return True  # small: keep it in the pickle
        held = holder.find(raw) if holder is not None else None
        segments.append(held if held is not None else _write_segment(raw))
        return False

    try:
        if out_of_band:
            obj = _wrap_big_bytes(obj)
        data = cloudpickle.dumps(obj, protocol=5, buffer_callback=callback)
    except BaseException:
        remove_segments(segments)
        raise
    return data, segments


def _map(name: str, unlink: bool) -> memoryview:
    path = _segment_path(name)
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        # ACCESS_COPY: the receiver may write to its arrays; nobody else sees it.
        # (MAP_POPULATE was tried, everywhere and then only in consumers: on a
        # writable private map it copies every page up front; 2.5x slower.)
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_COPY) if size else None
    finally:
        os.close(fd)
        if unlink:
            os.unlink(path)
    return memoryview(mm) if mm is not None else memoryview(b"")


def dumps_exception(error: BaseException) -> tuple[bytes, list[Segment]]:
    """Pickle a task's exception so that it can be rebuilt in the caller.

    An exception pickles as ``type(error)(*error.args)``, which fails for a
    class whose ``__init__`` wants other arguments (``E(a, b)`` whose message
    is its only arg). Such an exception travels as its class, args and
    attributes instead, rebuilt without calling ``__init__``: the caller gets
    the real type, so ``except E`` works there too.
    """
    import cloudpickle

    data, segments = dumps(error, out_of_band=False)
    try:
        cloudpickle.loads(data)  # the worker may run the class's code; the caller must not fail
    except Exception:
        data, segments = dumps(_RebuiltException(error), out_of_band=False)
    return data, segments


class _RebuiltException:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        error = self.error
        state = dict(vars(error)) if hasattr(error, "__dict__") else None
        return (rebuild_exception, (type(error), error.args, state))


def rebuild_exception(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any] | None
) -> BaseException:
    """``cls`` with these args and attributes, made without calling its ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    if state:
        error.__dict__.update(state)
    _restore_init_fields(error)
    return error


def _restore_init_fields(error: BaseException) -> None:
    # What a built-in __init__ derives from the args, unset when an exception
    # was made without it (here, or by the tblib pickling dask installs).
    if isinstance(error, SystemExit) and error.code is None and len(error.args) == 1:
        error.code = error.args[0]
    if isinstance(error, StopIteration) and error.value is None and error.args:
        error.value = error.args[0]


class RemoteTraceback(Exception):
    """The worker-side traceback, attached as ``__cause__`` (as concurrent.futures does)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def failure(node: str, loaded: object, info: Sequence[str]) -> BaseException:
    """A task's exception as it arrives from a worker: ``loaded`` (what its
    pickle gave, or None) with the worker's traceback as ``__cause__``; ``info``
    is (type name, message, traceback text), as the worker made it."""
    kind, message, text = info
    if isinstance(loaded, BaseException):
        error = loaded
        _restore_init_fields(error)
    else:
        # The exception could not travel at all; its type, message and
        # traceback can.
        error = TaskError(f"{kind}: {message}", node)
    error.__cause__ = RemoteTraceback(text)
    return error


def loads(data: bytes, segments: list[Segment], holder: Holder | None = None) -> Any:
    """Unpickle what ``dumps`` made. Owned segments are unlinked (or, with a
    ``holder``, kept by it); borrowed ones are only mapped."""
    buffers: list[memoryview] = []
    try:
        for segment in segments:
            if isinstance(segment, tuple):
                name, offset, length = segment
                buffers.append(_map(name, unlink=False)[offset:offset + length])
            elif holder is not None:
                view = _map(segment, unlink=False)
                holder.keep(segment, view)
                buffers.append(view)
            else:
                buffers.append(_map(segment, unlink=True))
    except BaseException:
        remove_segments(segments)
        raise
    return pickle.loads(data, buffers=buffers)


def remove_segments(segments: Sequence[Segment]) -> None:
    """Unlink owned segments that will never be loaded (missing ones are fine;
    borrowed spans belong to someone else and are left alone)."""
    for segment in segments:
        if isinstance(segment, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_segment_path(segment))


def _segments_of(pid: int) -> Iterator[str]:
    prefix = f"webber-{pid}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(_DIR):
            if entry.name.startswith(prefix):
                yield entry.name


def remove_segments_of(pid: int) -> None:
    """Unlink every segment that process ``pid`` created and nobody loaded."""
    remove_segments(list(_segments_of(pid)))


def check_plan(plan: Plan) -> None:
    """Refuse a plan whose functions or arguments cannot be pickled, naming the
    task and the object; each distinct function is tried once."""
    import cloudpickle

    tried: set[int] = set()
    for n, node in plan.nodes.items():
        if id(node.func) not in tried:
            try:
                cloudpickle.dumps(node.func)
            except Exception as e:
                raise _unpicklable(n, f"its function {display_name(node.func)!r} (or what it "
                                      f"refers to: closure, globals)", e) from e
            tried.add(id(node.func))
        if not node.args and not node.kwargs:
            continue
        try:
            cloudpickle.dumps((node.args, node.kwargs))
        except Exception as e:
            raise _unpicklable(n, _culprit(node.args, node.kwargs), e) from e


def _culprit(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """Which argument will not pickle, as a phrase."""
    import cloudpickle

    named = [(f"argument {i}", a) for i, a in enumerate(args)]
    named += [(f"argument {k}=", v) for k, v in kwargs.items()]
    for label, value in named:
        try:
            cloudpickle.dumps(value)
        except Exception:
            return f"its {label} ({type(value).__name__} {reprlib.repr(value)})"
    return "its arguments"


def _unpicklable(node: str, what: str, error: Exception) -> UnpicklableTaskError:
    return UnpicklableTaskError(
        f"task {node!r} cannot be sent to a worker process: {what} cannot be pickled "
        f"({type(error).__name__}: {error}); run it with executor='threads', or create "
        f"the object inside the task"
    )
