"""Hostile or unlucky inputs to the data layer, built on the fly: each gives a clear error or a manifest row,
never a crash, a hang, a mixed table or a file only its owner can read."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import stat
import time

import pandas as pd
import pytest

from musicneurons.atomic_files import atomic_write
from musicneurons.cli import main
from musicneurons.data import corpus_files, corpus_shards, midi
from musicneurons.data.corpus import extract_corpus, read_windows
from musicneurons.data.melody import extract_windows
from musicneurons.data.midi import MidiReadError, read_midi
from musicneurons.errors import UserError

TUNE = "nottingham/melody/ashover10.mid"  # 4/4: gives windows
JIG = "nottingham/melody/jigs139.mid"  # 6/8: gives none
END = b"\x00\xff\x2f\x00"
NOTE = b"\x00\x90\x3c\x5a" + b"\x83\x60\x80\x3c\x00"  # C4 on at tick 0, off at tick 480


def raw_file(*tracks: bytes, tpq: int = 480) -> bytes:
    """A type-1 MIDI file from raw track bodies (delta time + event bytes), with correct chunk lengths."""
    head = (
        b"MThd"
        + (6).to_bytes(4, "big")
        + b"\x00\x01"
        + len(tracks).to_bytes(2, "big")
        + tpq.to_bytes(2, "big")
    )
    return head + b"".join(b"MTrk" + len(body).to_bytes(4, "big") + body for body in tracks)


def long_varint_file(n_bytes: int) -> bytes:
    """A note-on, a delta time written with ``n_bytes`` bytes (all 0x81 but the last), a note-off."""
    varint = b"\x81" * (n_bytes - 1) + b"\x00"
    return raw_file(b"\x00\x90\x3c\x5a" + varint + b"\x80\x3c\x00" + END)


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def manifest_of(out) -> pd.DataFrame:
    return pd.read_parquet(out / "manifest.parquet").set_index("source")


# --------------------------------------------------------------------------- one bad file never stops a run
@pytest.mark.parametrize("compiled", [True, False])
def test_a_2100_byte_varint_is_refused_at_the_fifth_byte(compiled):
    data = long_varint_file(2100)
    assert len(data) < 2200
    with pytest.raises(MidiReadError, match="longer than 4 bytes"):
        midi._read(data, compiled)


@pytest.mark.parametrize("compiled", [True, False])
def test_four_byte_varints_are_read_and_five_byte_ones_refused(compiled):
    # 0x81 0x80 0x80 0x00 = 2**21 = 2,097,152 ticks: 4 bytes, under pretty_midi's 10**7 largest tick
    four = raw_file(b"\x00\x90\x3c\x5a" + b"\x81\x80\x80\x00\x80\x3c\x00" + END)
    score = midi._read(four, compiled)
    assert score.start.tolist() == [0.0]
    assert score.end.tolist() == [2**21 * 60 / 120 / 480]  # ticks at 120 qpm, 480 per quarter
    five = raw_file(b"\x00\x90\x3c\x5a" + b"\x80\x80\x80\x80\x00\x80\x3c\x00" + END)  # 0, written in 5 bytes
    with pytest.raises(MidiReadError, match="longer than 4 bytes"):
        midi._read(five, compiled)
    long_meta_length = raw_file(b"\x00\xff\x01\x80\x80\x80\x80\x01x" + NOTE + END)
    with pytest.raises(MidiReadError, match="longer than 4 bytes"):
        midi._read(long_meta_length, compiled)


def test_a_400_kb_varint_is_refused_at_once():
    data = long_varint_file(400_000)
    started = time.perf_counter()
    with pytest.raises(MidiReadError, match="longer than 4 bytes"):
        read_midi(data)
    assert time.perf_counter() - started < 0.5  # was 12 s: the number was built before the tick check


@pytest.fixture
def hostile_corpus(tmp_path, corpora_dir):
    """Two good tunes plus a long varint, a broken symlink, a non-UTF-8 name, a FIFO and /dev/zero."""
    root = tmp_path / "midi"
    root.mkdir()
    shutil.copy(corpora_dir / TUNE, root / "good.mid")
    shutil.copy(corpora_dir / TUNE, root / "other.mid")
    (root / "varint.mid").write_bytes(long_varint_file(2100))
    (root / "broken.mid").symlink_to(root / "does-not-exist.mid")
    latin1 = root / os.fsdecode(b"caf\xe9.mid")  # a Latin-1 name: not valid UTF-8
    shutil.copy(corpora_dir / TUNE, latin1)
    os.mkfifo(root / "fifo.mid")
    (root / "zero.mid").symlink_to("/dev/zero")
    return root


def test_bad_files_become_manifest_rows_and_the_run_finishes(hostile_corpus, tmp_path):
    out = tmp_path / "out"
    with deadline(120):
        summary = extract_corpus(hostile_corpus, bars=2, out=out, jobs=2, chunk_size=2)
    manifest = manifest_of(out)
    assert summary.n_files == len(manifest) == 7
    assert manifest.loc["good.mid", "status"] == "ok"
    assert manifest.loc["caf\\xe9.mid", "status"] == "ok"  # read, and named with an escape in the tables
    assert manifest.loc["caf\\xe9.mid", "n_windows"] == manifest.loc["good.mid", "n_windows"]
    rows = manifest.loc[["varint.mid", "broken.mid", "fifo.mid", "zero.mid"]]
    assert (rows["status"] == "unreadable").all()
    assert "longer than 4 bytes" in rows.loc["varint.mid", "reason"]
    assert rows.loc["broken.mid", "reason"] == "broken symbolic link"
    assert "a FIFO" in rows.loc["fifo.mid", "reason"]
    assert "a character device" in rows.loc["zero.mid", "reason"]
    _, meta = read_windows(out)
    assert set(meta["source"]) == {"good.mid", "other.mid", "caf\\xe9.mid"}
    assert summary.status_counts == {"ok": 3, "unreadable": 4}
    assert summary.skip_report().startswith("4 skipped: ")


def test_cli_extract_says_how_many_files_were_skipped_and_why(hostile_corpus, tmp_path, capsys):
    with deadline(120):
        code = main(["extract", str(hostile_corpus), "--out", str(tmp_path / "out"), "--jobs", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "7 files (3 ok, 4 unreadable" in printed
    assert "4 skipped: " in printed
    assert "broken symbolic link" in printed


def test_fifo_and_device_are_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo.mid")
    with deadline(10), pytest.raises(MidiReadError, match="not a regular file \\(a FIFO\\)"):
        read_midi(tmp_path / "fifo.mid")  # opening a FIFO for reading would block until a writer comes
    with deadline(10), pytest.raises(MidiReadError, match="a character device"):
        read_midi("/dev/zero")  # would read until memory runs out


def test_files_over_the_size_cap_are_not_read(tmp_path, corpora_dir):
    data = (corpora_dir / TUNE).read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "tune.mid").write_bytes(data)
    with pytest.raises(MidiReadError, match="exceeds the size cap"):
        read_midi(tmp_path / "in" / "tune.mid", max_bytes=len(data) - 1)
    assert read_midi(tmp_path / "in" / "tune.mid", max_bytes=len(data)).n_notes > 0
    extract_corpus(tmp_path / "in", bars=2, out=tmp_path / "out", jobs=1, max_bytes=100)
    row = manifest_of(tmp_path / "out").loc["tune.mid"]
    assert row["status"] == "unreadable"
    assert f"file of {len(data):,} bytes exceeds the size cap of 100 bytes" in row["reason"]


def test_memory_error_in_a_worker_is_a_manifest_row(hostile_corpus, tmp_path, monkeypatch):
    real = corpus_files.read_midi

    def hungry(path, **kwargs):
        if str(path).endswith("other.mid"):
            raise MemoryError("cannot allocate 4 GB")
        return real(path, **kwargs)

    monkeypatch.setattr(corpus_files, "read_midi", hungry)  # the fork-started workers inherit it
    with deadline(120):
        summary = extract_corpus(hostile_corpus, bars=2, out=tmp_path / "out", jobs=2, chunk_size=2)
    row = manifest_of(tmp_path / "out").loc["other.mid"]
    assert row["status"] == "error"
    assert row["reason"] == "MemoryError while reading: cannot allocate 4 GB"
    assert summary.status_counts["ok"] == 2


def test_a_killed_worker_is_detected_and_only_its_file_fails(hostile_corpus, tmp_path, monkeypatch):
    parent = os.getpid()
    real = corpus_shards.extract_file

    def killed_on_other(path, *args):
        if str(path).endswith("other.mid") and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does
        return real(path, *args)

    monkeypatch.setattr(corpus_shards, "extract_file", killed_on_other)
    with deadline(120):  # Pool.imap_unordered used to wait here forever
        summary = extract_corpus(hostile_corpus, bars=2, out=tmp_path / "out", jobs=2, chunk_size=2)
    manifest = manifest_of(tmp_path / "out")
    assert manifest.loc["other.mid", "status"] == "error"
    assert "killed by SIGKILL" in manifest.loc["other.mid", "reason"]
    assert manifest.loc["good.mid", "status"] == "ok"  # it may have shared the dead worker's shard
    assert summary.status_counts == {"ok": 2, "unreadable": 4, "error": 1}
    assert not list((tmp_path / "out").rglob("*.tmp"))  # nothing half-written is left behind
    # the failure is not cached: a rerun (without the killer) extracts the file
    monkeypatch.setattr(corpus_shards, "extract_file", real)
    again = extract_corpus(hostile_corpus, bars=2, out=tmp_path / "out", jobs=1)
    assert manifest_of(tmp_path / "out").loc["other.mid", "status"] == "ok"
    assert again.n_reused == 3  # good.mid, caf\xe9.mid and varint.mid (unreadable, cached as such)


# --------------------------------------------------------------------------- linear time
def _many_changes(n: int, event: bytes, other: bytes) -> bytes:
    """One note held across ``n`` meta events one tick apart, alternating ``event`` and ``other``."""
    body = bytearray(b"\x00\x90\x3c\x5a")
    for i in range(n):
        body += b"\x01" + (event if i % 2 else other)
    body += b"\x01\x80\x3c\x00" + END
    return raw_file(bytes(body), tpq=96)


@pytest.mark.parametrize(
    ("name", "event", "other"),
    [
        ("tempo", b"\xff\x51\x03\x07\xa1\x20", b"\xff\x51\x03\x06\x1a\x80"),  # 500,000 / 400,000 us
        ("time signature", b"\xff\x58\x04\x04\x02\x18\x08", b"\xff\x58\x04\x03\x02\x18\x08"),  # 4/4, 3/4
    ],
)
def test_20000_tempo_or_meter_changes_take_linear_time(name, event, other):
    def cpu_seconds(n: int) -> float:
        data = _many_changes(n, event, other)
        started = time.process_time()  # CPU time: other processes on the machine do not count
        score = read_midi(data)
        table = extract_windows(score, bars=2)
        seconds = time.process_time() - started
        assert score.n_notes == 1
        assert len(table) == 0  # a piece per change, each far shorter than 2 bars
        return seconds

    small, large = cpu_seconds(5_000), cpu_seconds(20_000)
    # 4x the events: ~4x the time when linear, ~16x when each piece re-sorts every event (was ~25 s)
    assert large < 8 * small + 0.5, f"{name}: 5,000 events {small:.2f} s, 20,000 events {large:.2f} s"
    assert large < 5.0, f"{name}: {large:.1f} CPU-s for 20,000 events"


# --------------------------------------------------------------------------- files everyone can read
def test_atomic_write_respects_the_umask(tmp_path):
    for mask, mode in ((0o022, 0o644), (0o002, 0o664), (0o077, 0o600)):
        with umask(mask):
            path = atomic_write(tmp_path / f"file-{mask:o}.txt", lambda tmp: tmp.write_text("x"))
        assert stat.S_IMODE(path.stat().st_mode) == mode, oct(mask)


def test_extract_outputs_respect_the_umask(tmp_path, corpora_dir):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    with umask(0o022):
        extract_corpus(tmp_path / "in", bars=2, out=tmp_path / "out", jobs=1)
    for name in ("windows.parquet", "manifest.parquet", "extract.json"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o644, name


# --------------------------------------------------------------------------- interrupted and mixed runs
def test_stray_temporaries_are_removed_on_the_next_run(tmp_path, corpora_dir):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    out = tmp_path / "out"
    extract_corpus(tmp_path / "in", bars=2, out=out, jobs=1)
    (shard_dir,) = (out / ".cache").glob("cat-mel_2bar_big-*")
    stale = [
        out / ".windows.parquet.0123456789ab.tmp",
        shard_dir / ".shard-1-00000.windows.parquet.abcdefgh.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a file")  # what a kill between write and rename leaves
    keep = out / "notes.tmp"  # not ours: never touched
    keep.write_text("mine")
    extract_corpus(tmp_path / "in", bars=2, out=out, jobs=1)
    assert not any(path.exists() for path in stale)
    assert keep.read_text() == "mine"


def test_runs_with_other_settings_into_one_out_are_refused(tmp_path, corpora_dir, capsys):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    out = tmp_path / "out"
    extract_corpus(tmp_path / "in", bars=2, out=out, jobs=1)
    before = (out / "windows.parquet").read_bytes()
    with pytest.raises(UserError, match="holds 2-bar windows .* asks for 16-bar windows"):
        extract_corpus(tmp_path / "in", bars=16, out=out, jobs=1)
    assert main(["extract", str(tmp_path / "in"), "--bars", "2", "--mode", "magenta", "--out", str(out)]) == 2
    assert "mode all" in capsys.readouterr().err
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "elsewhere" / "tune.mid")
    with pytest.raises(UserError, match="from .*in; this run asks for .* from .*elsewhere"):
        extract_corpus(tmp_path / "elsewhere", bars=2, out=out, jobs=1)
    assert (out / "windows.parquet").read_bytes() == before  # nothing was mixed in
    extract_corpus(tmp_path / "in", bars=2, out=out, jobs=1)  # the same settings still resume


def test_a_second_concurrent_run_into_one_out_is_refused(tmp_path, corpora_dir):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    out = tmp_path / "out"
    (out / ".cache").mkdir(parents=True)
    with (out / ".cache" / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running extract holds it
        with pytest.raises(UserError, match="another extract run is writing to"):
            extract_corpus(tmp_path / "in", bars=2, out=out, jobs=1)
    extract_corpus(tmp_path / "in", bars=2, out=out, jobs=1)


# --------------------------------------------------------------------------- command-line user errors
def _one_line_exit_2(argv: list[str], capsys, expected: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    # the error is one line (after the progress bar, if the run got that far), without a traceback
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("extract: ")]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"musicneurons {argv[0]}: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err


def test_extract_user_errors_are_one_line_and_exit_2(tmp_path, corpora_dir, capsys):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    (tmp_path / "file.txt").write_text("not a folder")
    _one_line_exit_2(
        ["extract", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], capsys, "no such folder"
    )
    _one_line_exit_2(
        ["extract", str(tmp_path / "file.txt"), "--out", str(tmp_path / "o")], capsys, "not a folder"
    )
    _one_line_exit_2(
        ["extract", str(tmp_path / "in"), "--out", str(tmp_path / "file.txt")], capsys, "is a file"
    )
    _one_line_exit_2(
        ["extract", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--jobs", "-3"], capsys, "--jobs"
    )


def test_an_out_path_that_is_not_utf8_is_refused(tmp_path, corpora_dir, capsys):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    out = str(tmp_path / os.fsdecode(b"out\xff"))  # Parquet (pyarrow) cannot name such a file
    _one_line_exit_2(["extract", str(tmp_path / "in"), "--out", out], capsys, "not valid UTF-8")
    _one_line_exit_2(["features", out, "--out", str(tmp_path / "f.parquet")], capsys, "not valid UTF-8")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_extract_into_a_read_only_out_is_one_line(tmp_path, corpora_dir, capsys):
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        _one_line_exit_2(
            ["extract", str(tmp_path / "in"), "--out", str(tmp_path / "ro" / "o")], capsys, "cannot write"
        )
    finally:
        (tmp_path / "ro").chmod(0o755)


def test_an_out_without_write_permission_is_one_line(tmp_path, corpora_dir, capsys, monkeypatch):
    """The same check as above where the suite runs as root: permission as ``os.access`` reports it."""
    (tmp_path / "in").mkdir()
    shutil.copy(corpora_dir / TUNE, tmp_path / "in" / "tune.mid")
    (tmp_path / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real(path, mode) and path != tmp_path / "ro")
    argv = ["extract", str(tmp_path / "in"), "--out", str(tmp_path / "ro" / "o")]
    _one_line_exit_2(argv, capsys, f"cannot write to {tmp_path / 'ro'} (permission denied)")
    assert not (tmp_path / "ro" / "o").exists()


def test_a_folder_without_usable_midi_is_diagnosed(tmp_path, corpora_dir, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no MIDI here")
    _one_line_exit_2(
        ["extract", str(tmp_path / "empty"), "--out", str(tmp_path / "o1")], capsys, "no MIDI file"
    )
    jigs = tmp_path / "jigs"
    jigs.mkdir()
    for i in range(3):
        shutil.copy(corpora_dir / JIG, jigs / f"jig{i}.mid")
    (jigs / "broken.mid").write_bytes(b"MThd")
    _one_line_exit_2(["extract", str(jigs), "--out", str(tmp_path / "o2")], capsys, "0 of 4 files in")
    extract_corpus(jigs, bars=2, out=tmp_path / "o3", jobs=1)  # the library writes the (empty) tables
    with pytest.raises(UserError, match="3 no_windows \\(time signature 6/8"):
        read_windows(tmp_path / "o3")  # what `features`, `center` and `study` read: the same diagnosis
    windows, meta = read_windows(tmp_path / "o3", allow_empty=True)
    assert windows.shape == (0, 32)  # the window length survives an empty table
    assert len(meta) == 0


def test_features_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    pd.DataFrame({"window_id": [0], "qpm": [120.0]}).to_parquet(tmp_path / "no_window.parquet")
    (tmp_path / "text.parquet").write_text("not parquet")
    (tmp_path / "folder").mkdir()
    good = tmp_path / "good.parquet"
    pd.DataFrame({"window": [[2] + [0] * 31], "qpm": [120.0]}).to_parquet(good)
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"window": [[95] + [0] * 31], "qpm": [120.0]}).to_parquet(bad)
    cases = [
        ([str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "f.parquet")], "no such file"),
        ([str(tmp_path / "no_window.parquet"), "--out", str(tmp_path / "f.parquet")], "no 'window' column"),
        (
            [str(tmp_path / "text.parquet"), "--out", str(tmp_path / "f.parquet")],
            "not a readable Parquet file",
        ),
        ([str(bad), "--out", str(tmp_path / "f.parquet")], "class index 95 at window 0, step 0"),
        ([str(good), "--out", str(tmp_path / "folder")], "is a folder"),
        ([str(good), "--out", str(tmp_path / "text.parquet")], "exists; pass --overwrite"),
        ([str(good), "--out", str(tmp_path / "f.parquet"), "--qpm", "-5"], "--qpm: -5.0 at window 0"),
    ]
    for argv, expected in cases:
        _one_line_exit_2(["features", *argv], capsys, expected)
