"""The store on disk from Python and through ``python -m webber cache``:
prune's arguments, and stores it cannot change."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from webber import Cache, CacheError, Flow, task
from webber._cli import main


def filled(path: Path, n: int = 2) -> Cache:
    store = Cache(path)
    for i in range(n):
        assert store.store(f"{i:02x}" * 20, list(range(100)), "t", f"t-{i}")
    return store


@pytest.mark.parametrize(("arguments", "message"), [
    ({}, r"^Cache\.prune\(\) needs max_size and/or older_than .*prune\(max_size=\"5GB\"\)"),
    ({"max_size": -5}, r"^Cache\.prune\(max_size=-5\): give a number of bytes >= 0, or a "
                       r"text such as 500MB or 5GB$"),
    ({"older_than": -1}, r"^Cache\.prune\(older_than=-1\): give a number of seconds >= 0"),
    ({"max_size": "5 gallons"}, r"^Cache\.prune\(max_size='5 gallons'\): '5 gallons' is not "
                                r"a size; write e.g\. 500MB"),
    ({"older_than": "a week"}, r"^Cache\.prune\(older_than='a week'\): 'a week' is not an age"),
    ({"older_than": [7]}, r"^Cache\.prune\(older_than=\[7\]\): give a number of seconds"),
    ({"max_size": True}, r"^Cache\.prune\(max_size=True\): give a number of bytes"),
])
def test_prune_refuses_arguments_it_cannot_use(
    tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    store = filled(tmp_path / "s")
    with pytest.raises(CacheError, match=message):
        store.prune(**arguments)  # type: ignore[arg-type]
    assert len(store.entries()) == 2  # nothing removed


@pytest.mark.parametrize(("path", "message"), [
    ("", r"^Cache\(''\): '' is an empty path; name the store's directory, e\.g\. "
         r"Cache\(\"\.webber-cache\"\) \(Cache\(\"\.\"\) for the current one\)$"),
    (3, r"^Cache\(3\): Cache\(\) takes a directory path \(a str or a pathlib\.Path\), not "
        r"int; e\.g\. Cache\(\"\.webber-cache\"\)$"),
])
def test_a_store_refuses_a_path_that_names_no_directory(
    path: object, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cache("") was the current directory, which it then filled with entries;
    # Cache(3) raised pathlib's TypeError, naming no store.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CacheError, match=message):
        Cache(path)  # type: ignore[arg-type]
    assert Cache(".").path == Path(".")  # the current directory, said so, is one


def test_prune_takes_the_texts_the_cli_takes(tmp_path: Path) -> None:
    store = filled(tmp_path / "s")
    assert store.prune(max_size="5GB", older_than="7d") == []
    assert len(store.prune(max_size="0B")) == 2 and store.entries() == []


def test_prune_older_than_0_removes_every_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Age 0, the one without a unit: everything a run just stored goes."""
    with Flow() as flow:
        for i in range(3):
            task(len)([0] * i)
    assert flow.run(executor="inline", cache=tmp_path / "s").cache_stats.stored == 3
    assert main(["cache", "prune", "--older-than", "0", str(tmp_path / "s")]) == 0
    assert capsys.readouterr().out.startswith("removed 3 entries (")
    assert Cache(tmp_path / "s").entries() == []
    rerun = flow.run(executor="inline", cache=tmp_path / "s")
    assert (rerun.cache_stats.hits, rerun.cache_stats.stored) == (0, 3)
    assert len(Cache(tmp_path / "s").prune(older_than="0")) == 3  # Python takes it too
    with pytest.raises(CacheError, match=r"'7' is not an age; write e\.g\. 30m"):
        Cache(tmp_path / "s").prune(older_than="7")  # seconds or days? a unit is needed


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store whose entries cannot be removed: its folders read-only, or (as
    root, whom permission bits do not stop) unlink failing as on a read-only
    file system."""
    filled(tmp_path / "s")
    folders = [tmp_path / "s", *(tmp_path / "s").iterdir()]
    if os.geteuid() == 0:
        def refuse(self: Path, missing_ok: bool = False) -> None:
            raise OSError(errno.EROFS, "Read-only file system", str(self))

        monkeypatch.setattr(Path, "unlink", refuse)
    else:
        for folder in folders:
            folder.chmod(0o555)
    yield tmp_path / "s"
    for folder in folders:
        folder.chmod(0o755)


@pytest.mark.parametrize("action", [["clear"], ["prune", "--max-size", "0"]])
def test_cli_on_a_store_it_cannot_change_fails_with_one_line(
    read_only: Path, action: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", *action, str(read_only)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"webber: cannot remove entries of the cache at {str(read_only)!r} (")
    assert err.endswith("; use a store you may write to\n") and err.count("\n") == 1
    assert len(Cache(read_only).entries()) == 2


def test_clear_on_a_store_it_cannot_change_raises_cache_error(read_only: Path) -> None:
    with pytest.raises(CacheError, match="cannot remove entries of the cache at"):
        Cache(read_only).clear()


def test_clear_and_prune_remove_the_folders_they_empty(tmp_path: Path) -> None:
    store = filled(tmp_path / "s", 3)  # keys 00..., 01..., 02...: a folder each
    oldest = store.entries()[0]
    os.utime(oldest.path, (1, 1))
    assert [e.key for e in store.prune(older_than="1d")] == [oldest.key]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["01", "02"]
    assert store.clear() == 2 and list((tmp_path / "s").iterdir()) == []
    # The same Cache writes again into a folder it had made before.
    assert store.store("00" * 20, [1], "t", "t-1") and store.load("00" * 20, "t") == (True, [1])


def test_ls_and_prune_tell_the_disk_that_unfinished_writes_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process killed while it wrote a result leaves its temporary file (as
    large as the result), which a write going on looks like: not an entry, but
    disk the store takes. ls and prune say so; prune removes it once an hour
    old (a write takes less), clear at once."""
    store = filled(tmp_path / "s", 1)
    left = tmp_path / "s" / "ab" / ".tmp-k1ll3d.wbc"
    left.parent.mkdir()
    left.write_bytes(b"\0" * 5000)
    assert store.unfinished() == (1, 5000) and len(store.entries()) == 1
    assert main(["cache", "ls", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("1 entry, ")
    assert out[-1].startswith("and 1 unfinished write (5.0 KB): going on, or left by a process")
    assert main(["cache", "prune", "--max-size", "0", str(tmp_path / "s")]) == 0
    assert capsys.readouterr().out.endswith(
        "; 0 B left, and 1 unfinished write (5.0 KB) (see cache ls)\n")
    os.utime(left, (1, 1))  # an hour old and more: no write takes that long
    assert main(["cache", "prune", "--max-size", "0", str(tmp_path / "s")]) == 0
    assert capsys.readouterr().out.endswith("; 0 B left\n") and not left.exists()
    assert store.unfinished() == (0, 0)


def test_cli_expands_a_tilde_as_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    filled(tmp_path / "store", 1)
    assert main(["cache", "ls", "~/store"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 entry, ")
    assert main(["cache", "clear", "~/store"]) == 0 and Cache("~/store").entries() == []
    assert main(["cache", "ls", "~/missing"]) == 2
    assert capsys.readouterr().err == "webber: no cache directory at '~/missing'\n"


def test_a_store_that_cannot_be_written_is_named_once_a_run_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:  # as root, bits do not stop writes
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("webber._cache.tempfile.mkstemp", refuse)
    with Flow() as flow:
        for i in range(5):
            task(len)([0] * i)
    store = Cache(tmp_path / "s")
    for _ in range(2):  # each run says it once
        caplog.clear()
        run = flow.run(executor="inline", cache=store)
        assert run.ok and run.cache_stats.stored == 0
        warned = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
        assert len(warned) == 1, warned
        assert warned[0].startswith("task 'len': cannot write to the cache at ")
        assert "nor those of this run's other tasks" in warned[0]
        assert warned[0].endswith("make the directory writable, or pass cache= one you may "
                                  "write to")


def test_a_store_that_cannot_be_reached_raises_cache_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder on the way this user may not enter (as root, stat is refused here)."""
    hidden = tmp_path / "private" / "store"
    real_stat = Path.stat

    def stat(self: Path, **kwargs: bool) -> os.stat_result:
        if self == hidden:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    with Flow() as flow:
        task(len)("x")
    with pytest.raises(CacheError, match=r"^cache='.*store' cannot be reached \(PermissionError: "
                                         r".*\); pass a directory you may read and write"):
        flow.run(executor="inline", cache=str(hidden))
    script = tmp_path / "pipeline.py"
    script.write_text("from webber import Flow, task\nwith Flow() as flow:\n    task(len)('x')\n")
    assert main(["run", str(script), "--cache", str(hidden), "-e", "inline"]) == 2
    assert "cannot be reached (PermissionError" in capsys.readouterr().err


def test_an_empty_path_is_refused_not_taken_for_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # run(cache=os.environ.get("CACHE", "")): before, "" was ".", and the
    # run filled the current directory with the store's two-letter folders.
    monkeypatch.chdir(tmp_path)
    with Flow() as flow:
        task(len)("x")
    with pytest.raises(CacheError, match=r"^cache='' is an empty path; name the store's"):
        flow.run(executor="inline", cache="")
    with pytest.raises(CacheError, match=r"^Cache\(''\): '' is an empty path; name the"):
        Cache("")
    assert main(["cache", "clear", ""]) == 2
    assert capsys.readouterr().err == "webber: no cache directory at ''\n"
    assert list(tmp_path.iterdir()) == []
