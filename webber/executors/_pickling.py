"""Pickling for the process executor: cloudpickle, with large buffers out of band.

``dumps`` pickles with protocol 5. Every buffer of at least
:data:`~webber.executors._shm.THRESHOLD` bytes that an object exposes out of
band (numpy arrays, bytearrays, large ``bytes`` -- wrapped here, as pickle
never offers them) goes to a shared-memory segment (``_shm.py``) instead of
the pipe::

    sender:    obj --cloudpickle--> small pickle (pipe) + segments (/dev/shm files)
    receiver:  map each segment, unlink it, unpickle against the maps

(a buffer that finds no room in shared memory stays in the pickle). An array
of a file mapped read-only travels as its place in the file, which the
receiver maps too (``_mapped.py``).

Only what needs cloudpickle pays for it: job fields and results made of
plain scalars go through the C pickler.
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import io
import pickle
import sys
import threading
from collections.abc import Callable
from types import FunctionType
from typing import Any

from webber._bounded import remember
from webber._refs import Ref, made_of
from webber.executors._mapped import by_place, mapped
from webber.executors._shm import (
    THRESHOLD,
    Holder,
    Segment,
    map_segment,
    remove_segments,
    write_segment,
)

__all__ = ["MP_MAIN", "PLAIN", "Packed", "Packer", "apart", "by_value", "dumps", "dumps_value",
           "forget_told", "known", "loads", "mp_main_by_value", "plain", "plain_nested", "tell",
           "told", "unpack"]


class _BigBytes:
    """Carries a large ``bytes`` out of band (pickle keeps plain bytes in band)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (bytes, (pickle.PickleBuffer(self.data),))


#: how deep :func:`apart` looks for large bytes and mapped files (a
#: job's fields hold its arguments, which may hold a list of them), and into
#: containers of how many items at most (a longer one goes as it is: surely)
_DEPTH = 4
_ITEMS = 1024


def apart(obj: Any, depth: int = _DEPTH) -> Any:
    """``obj``, its large ``bytes`` and numpy arrays of files (``np.memmap``)
    made to travel out of band, as shared memory, and not in the pickle:
    pickle keeps bytes in band, and numpy a memmap (an ndarray subclass),
    through the pipe, once for each task. Containers (tuples, lists, dicts)
    are looked into ``depth`` levels deep (:data:`_ITEMS` items at most), and
    made anew only if they hold one. A contiguous memmap mapped read-only
    travels as its place in its file (:func:`~webber.executors._mapped.by_place`), another one as
    an ndarray of its data."""
    kind = type(obj)
    if kind is bytes:
        return _BigBytes(obj) if len(obj) >= THRESHOLD else obj
    if kind is tuple or kind is list or kind is dict:
        if _travels_apart(obj, depth):
            if kind is dict:
                return {k: apart(v, depth - 1) for k, v in obj.items()}
            return kind(apart(x, depth - 1) for x in obj)
    elif _memmap(obj):
        return by_place(obj) or sys.modules["numpy"].asarray(obj)  # (its data out of band)
    return obj


def _travels_apart(obj: Any, depth: int) -> bool:
    """Whether :func:`apart` changes ``obj``."""
    kind = type(obj)
    if kind is bytes:
        return len(obj) >= THRESHOLD
    if kind is tuple or kind is list or kind is dict:
        if not depth or len(obj) > _ITEMS:
            return False
        for item in obj.values() if kind is dict else obj:  # (a loop: once per job sent)
            if type(item) not in _ATOMS and _travels_apart(item, depth - 1):
                return True
        return False
    return _memmap(obj)


_ATOMS = frozenset((int, float, str, bool, type(None)))


def _memmap(obj: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.memmap) and obj.nbytes >= THRESHOLD


#: what the C pickler sends safely: nothing here can be a function or a
#: ``__main__`` object (a Ref reduces to its id); numpy's numbers and bools
#: join once numpy is imported (:func:`_learned`)
PLAIN: set[type] = {type(None), bool, int, float, str, Ref}
_numpy_learned = False


def _learned() -> bool:
    """Add numpy's numbers and bools to PLAIN (``np.float64``: what ``np.mean``
    returns, 11 us to cloudpickle, 3 in a message's C pickle), once numpy is
    imported; whether that happened now (then a value may be plain after all)."""
    global _numpy_learned
    np = sys.modules.get("numpy")
    if _numpy_learned or np is None:
        return False
    _numpy_learned = True
    kinds: list[type] = [np.number, np.bool_]
    while kinds:
        kind = kinds.pop()
        PLAIN.add(kind)
        kinds += kind.__subclasses__()
    return True


def _small_array(obj: Any) -> bool:
    """Whether ``obj`` is a numpy array that the C pickler sends in band: small,
    and holding no objects (which may be functions or ``__main__``'s)."""
    np = sys.modules.get("numpy")
    return (np is not None and type(obj) is np.ndarray and not obj.dtype.hasobject
            and obj.nbytes < THRESHOLD)


def plain(fields: tuple[Any, ...]) -> bool:
    """Whether every field, and every item of a tuple or dict field, is plain,
    or a small container of plain values (:func:`plain_nested`): then the C
    pickler sends ``fields``, several times faster, and surely."""
    if _plain(fields):
        return True
    return _learned() and _plain(fields)


def _plain(fields: tuple[Any, ...]) -> bool:
    kinds = PLAIN
    for field in fields:  # plain loops, no generators: this runs once per job
        kind = type(field)
        if kind in kinds:
            continue
        if kind is tuple:
            items: Any = field
        elif kind is dict:
            items = field.values()
        else:
            return False
        for item in items:
            if type(item) not in kinds and not plain_nested(item):
                return False
    return True


def plain_nested(obj: Any) -> bool:
    """Whether ``obj`` is a list, tuple, dict (keys too) or set of plain values
    or of such containers, with ``_refs.NESTED_ITEMS`` items at most in all
    (else cloudpickle sends it): a task's arguments as users most often
    write them (see ``_refs.made_of``)."""
    return made_of(obj, PLAIN)


#: what :func:`dumps_value` makes of a result: its pickle and segments, or -- for
#: what is plain -- the object itself and None, which the message that carries
#: it pickles (by the C pickler, in the same call; no wrapper to make and take
#: apart on each side); :func:`unpack` reads both. (A job's fields travel the
#: same way, as the tuple of fields itself: ``_worker.Fields``.)
Packed = tuple[Any, "list[Segment] | None"]


def dumps_value(obj: Any) -> Packed:
    """A task's result, packed (see :data:`Packed`): as it is when a plain
    scalar, a small container of them (:func:`plain_nested`) or a small
    array of numbers."""
    if (type(obj) in PLAIN or plain_nested(obj) or _small_array(obj)
            or (_learned() and plain_nested(obj))):
        return obj, None
    packer = getattr(_results, "packer", None)
    if packer is None:
        packer = _results.packer = Packer(None, _unnamed)
    return packer.dumps(obj)


#: each thread's Packer of results (a worker's tasks may end in threads of
#: their own: a timed or async one)
_results = threading.local()


def _unnamed(cls: type) -> None:
    """No id for ``cls`` (a worker's result): see :func:`_by_digest`."""
    return None


def unpack(data: Any, segments: list[Segment] | None, holder: Holder | None = None) -> Any:
    """What was packed (see :data:`Packed`)."""
    if segments is None:
        return data
    return loads(data, segments, holder)


#: the name of a script's main module in a child that multiprocessing spawned
#: (a ``Pool`` worker, on macOS and Windows by default; ``forkserver``): its
#: functions and classes say they are of it, and no other process can import it
MP_MAIN = "__mp_main__"


def mp_main_by_value() -> None:
    """In a child that multiprocessing spawned, have cloudpickle send what the
    script defined by value, as it sends a ``__main__``'s: it would name it
    ``__mp_main__.<name>``, which a worker process cannot import (every task
    failed with JobLoadError). Cheap when there is no such module."""
    module = sys.modules.get(MP_MAIN)
    if module is not None:
        import cloudpickle

        with contextlib.suppress(ValueError):  # (a module of that name made by hand)
            cloudpickle.register_pickle_by_value(module)


def by_value(cls: type) -> bool:
    """Whether cloudpickle sends class ``cls`` by value (its methods' code and
    all), as it decides: one of ``__main__`` (a script's, a notebook's, or a
    spawned child's ``__mp_main__``: see :func:`mp_main_by_value`), or that
    its module does not hold by its name (one of a function, or one that
    arrived by value: it keeps its module, not its ``<locals>`` name)."""
    module_name = getattr(cls, "__module__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    if module is None or module_name == "__main__" or module_name == MP_MAIN:
        return True
    found: Any = module
    for part in getattr(cls, "__qualname__", "<locals>").split("."):
        found = getattr(found, part, None)
    return found is not cls


#: how this process looks up what the caller sent it by id (see :func:`known`):
#: a worker's table of functions, set as it starts
lookup: Callable[[str], Any] | None = None


def known(name: str) -> Any:
    """The class the caller sent this process once as ``name`` (an "fn" message,
    as functions go), for a pickle that names it instead of holding it."""
    if lookup is None:
        raise pickle.UnpicklingError(f"class {name!r} was sent to a worker process only")
    return lookup(name)


@functools.cache
def _naming_pickler() -> type[Any]:
    import cloudpickle

    class Naming(cloudpickle.Pickler):  # type: ignore[misc]
        """Names each class sent by value with the id its receiver knows it by:
        a dataclass of ``__main__`` costs 0.3-0.7 ms to pickle by value, and
        its instances as the arguments of 10,000 tasks would pay that each."""

        def __init__(self, file: io.BytesIO, name_of: Callable[[type], str | None],
                     buffer_callback: Callable[[pickle.PickleBuffer], bool]) -> None:
            super().__init__(file, protocol=5, buffer_callback=buffer_callback)
            self.name_of = name_of
            #: class -> how it is pickled here (the jobs of a batch, the results
            #: of a worker, hold the same few classes again and again)
            self.classes: dict[type, Any] = {}

        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, type):
                classes = self.classes
                reduced = classes.get(obj)
                if reduced is None:
                    reduced = remember(classes, obj, self._class_reduce(obj), 256)
                return reduced
            if obj.__class__ is FunctionType and obj in _BY_NAME:
                return NotImplemented  # (as cloudpickle decides, in 1/10 the time)
            return super().reducer_override(obj)

        def _class_reduce(self, cls: type) -> Any:
            if by_value(cls):
                name = self.name_of(cls)
                return (known, (name,)) if name is not None else _by_digest(cls)
            return super().reducer_override(cls)

    return Naming


#: class -> (digest, pickle by value): what this process sent of each class
#: that has no id at its receiver (see :func:`_by_digest`)
_SENT: dict[type, tuple[bytes, bytes]] = {}
#: digest -> class: each class received by value, loaded once
_RECEIVED: dict[bytes, type] = {}

#: how a worker tells its caller a class's pickle once, ahead of the results
#: that name it by its digest alone (see :func:`_by_digest`): a message of its
#: own, which the caller takes in as it comes (:func:`told`), whatever becomes
#: of the result; None where nobody listens (the caller, a dask worker)
tell: Callable[[bytes, bytes], None] | None = None
#: the digests this worker told its caller (at most :data:`_TELLS`)
_TOLD: set[bytes] = set()
#: digest -> the class's pickle, as workers told it, and those workers (see
#: :func:`told`): a worker may name it in any later result, so it is kept
#: while one of them may still answer, and no bound can drop it sooner
#: (:func:`forget_told`): at most :data:`_TELLS` a worker
_HEARD: dict[bytes, tuple[bytes, set[object]]] = {}
#: worker -> the digests it told (see :func:`forget_told`)
_TOLD_BY: dict[object, list[bytes]] = {}
#: (each pool's receiver thread hears and forgets; shutdown forgets in its caller's)
_HEARING = threading.Lock()
#: classes a worker tells at most; later ones go in each result, as they are
#: made on the fly (a class a task makes for each result)
_TELLS = 1024


def _by_digest(cls: type) -> tuple[Any, ...]:
    """The reduce of a class sent by value with no id at the receiver (a class
    of the caller's ``__main__`` in a worker's results): pickled once here,
    loaded once there (see :func:`_class_of`), its pickle's digest naming it.
    A class pickled by value twice loads as one class anyway (cloudpickle
    tracks it), so it is the same class, for 1/100 the time. A worker tells
    its caller the pickle once (:data:`tell`); its results then hold the
    digest alone (a dataclass's pickle is 3 KB, its instance's 40 bytes)."""
    sent = _SENT.get(cls)
    if sent is None:
        import hashlib  # (here: OpenSSL's 3-4 MB in every worker otherwise)

        import cloudpickle

        data = cloudpickle.dumps(cls, protocol=5)
        sent = remember(_SENT, cls, (hashlib.blake2b(data, digest_size=16).digest(), data), 256)
    digest = sent[0]
    if tell is not None and digest not in _TOLD and len(_TOLD) < _TELLS:
        tell(*sent)  # (sent before any result naming it: in order, on the same pipe)
        _TOLD.add(digest)
    return (_class_of, (digest, None) if digest in _TOLD else sent)


def told(digest: bytes, data: bytes, by: object) -> None:
    """Take in a class's pickle that worker ``by`` told (see :data:`tell`)."""
    with _HEARING:
        heard = _HEARD.get(digest)
        if heard is None:
            heard = _HEARD[digest] = (data, set())
        if by not in heard[1]:
            heard[1].add(by)
            _TOLD_BY.setdefault(by, []).append(digest)


def forget_told(by: object) -> None:
    """Worker ``by`` is gone and its results are read: the classes no other
    worker told go (it told at most :data:`_TELLS`, and was the last to name
    them)."""
    with _HEARING:
        for digest in _TOLD_BY.pop(by, ()):
            tellers = _HEARD[digest][1]
            tellers.discard(by)
            if not tellers:
                del _HEARD[digest]


def _class_of(digest: bytes, data: bytes | None) -> type:
    """The class whose pickle is ``data`` (None: the one a worker told, see
    :func:`_by_digest`)."""
    cls = _RECEIVED.get(digest)
    if cls is None:
        if data is None:
            heard = _HEARD.get(digest)
            if heard is None:
                raise pickle.UnpicklingError(
                    f"a result names a class (digest {digest.hex()}) that its worker "
                    f"process did not send")
            data = heard[0]
        cls = remember(_RECEIVED, digest, pickle.loads(data), 256)
    return cls


#: functions that pickles name by module and name: what pickle saves each
#: object by (its class's reduce gives them), and the loaders here
_BY_NAME = frozenset((*(getattr(copyreg, name) for name in
                        ("__newobj__", "__newobj_ex__", "_reconstructor")),
                      known, _class_of, mapped))


class _Buffers:
    """Where a pickle's large buffers go (its ``buffer_callback``): see :func:`dumps`."""

    def __init__(self, holder: Holder | None, lend: bool) -> None:
        self.holder, self.lend = holder, lend
        self.segments: list[Segment] = []

    def __call__(self, buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < THRESHOLD:
            return True  # small: keep it in the pickle
        holder, segments = self.holder, self.segments
        held = holder.find(raw) if holder is not None else None
        if held is not None:
            segments.append(held)
            return False
        lent = holder is not None and (self.lend or holder.again(raw))
        segment = write_segment(raw)
        if segment is None:
            return True  # shared memory has no room: in the pickle, through the pipe
        segments.append(holder.lend(segment, raw) if lent and holder is not None else segment)
        return False


def dumps(
    obj: Any, holder: Holder | None = None, lend: bool = False,
) -> tuple[bytes, list[Segment]]:
    """Pickle ``obj``; returns the pickle and the names of its segments.

    A buffer that lies in a segment ``holder`` keeps is sent by reference;
    one that ``holder`` saw written before is lent (see
    :class:`~webber.executors._shm.Holder`). ``lend``: for what is sent to
    several processes (an owned segment is unlinked by its first reader),
    each new segment is lent at once: a span
    that its readers map without unlinking it, one copy for them all until
    the holder is released.
    """
    import cloudpickle  # only the process executor pays for it

    buffers = _Buffers(holder, lend)
    try:
        data = cloudpickle.dumps(apart(obj), protocol=5, buffer_callback=buffers)
    except BaseException:
        remove_segments(buffers.segments)
        raise
    return data, buffers.segments


class Packer:
    """:func:`dumps` for the objects of a batch in turn (each job's fields), by
    one pickler (making one costs more than a small job's pickle) that names
    each class sent by value with ``name_of(cls)``, the id its receiver knows
    it by (see :func:`known`; None: by :func:`_by_digest`). Each pickle loads
    on its own. ``holder``: see :func:`dumps`."""

    def __init__(self, holder: Holder | None, name_of: Callable[[type], str | None]) -> None:
        self._holder, self._name_of = holder, name_of
        self._file = io.BytesIO()
        self._pickler: Any = None
        # (the pickler's callback: a closure over this Packer was held back by the
        # pickler, a cycle that kept name_of's session and engine too)
        self._buffers = _Buffers(holder, False)

    def dumps(self, obj: Any) -> tuple[bytes, list[Segment]]:
        buffers = self._buffers
        buffers.segments = []
        pickler, file = self._pickler, self._file
        if pickler is None:
            pickler = self._pickler = _naming_pickler()(file, self._name_of, buffers)
        file.seek(0)
        file.truncate()
        try:
            pickler.dump(apart(obj))
        except BaseException:
            self._pickler = None  # (a new one for the next: this one may have stopped midway)
            remove_segments(buffers.segments)
            raise
        finally:
            pickler.clear_memo()
        return file.getvalue(), buffers.segments


def loads(data: bytes, segments: list[Segment], holder: Holder | None = None) -> Any:
    """Unpickle what ``dumps`` made. Owned segments are unlinked (or, with a
    ``holder``, kept by it); borrowed ones are only mapped."""
    buffers: list[memoryview] = []
    try:
        for segment in segments:
            if isinstance(segment, tuple):
                name, offset, length = segment
                buffers.append(map_segment(name, unlink=False)[offset:offset + length])
            elif holder is not None:
                view = map_segment(segment, unlink=False)
                holder.keep(segment, view)
                buffers.append(view)
            else:
                buffers.append(map_segment(segment, unlink=True))
    except BaseException:
        remove_segments(segments)
        raise
    return pickle.loads(data, buffers=buffers)
