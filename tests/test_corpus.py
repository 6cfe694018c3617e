"""Corpus extraction: Parquet outputs equal Magenta's windows, bad files are recorded, reruns resume."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

from musicneurons.cli import main
from musicneurons.data.corpus import extract_corpus, find_midi_files, read_windows

GOOD = [
    "nottingham/melody/ashover10.mid",  # 4/4: windows
    "nottingham/melody/hpps14.mid",
    "nottingham/melody/jigs139.mid",  # 6/8: nothing
    "nottingham/melody/reelsa-c30.mid",
    "pop909-sample/001.mid",  # multi-track, 2/4: nothing
    "pop909-sample/002.mid",
]


@pytest.fixture(scope="module")
def fixtures(magenta_fixtures):
    loaded = {}
    for corpus in ("nottingham", "pop909"):
        for config in ("cat-mel_2bar_big", "hierdec-mel_16bar"):
            path = magenta_fixtures / f"extraction_{corpus}_{config}.json"
            loaded[corpus, config] = json.loads(path.read_text())["files"]
    return loaded


def expected(fixtures, rel: str, config: str) -> dict:
    corpus = "pop909" if rel.startswith("pop909") else "nottingham"
    return fixtures[corpus, config][f"shared/corpora/{rel}"]["extraction"]["original"]


@pytest.fixture
def corpus(tmp_path, corpora_dir):
    root = tmp_path / "midi"
    for rel in GOOD:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpora_dir / rel, root / rel)
    bad = root / "bad"
    bad.mkdir()
    real = (corpora_dir / GOOD[0]).read_bytes()
    (bad / "empty.mid").write_bytes(b"")
    (bad / "truncated.mid").write_bytes(real[: len(real) // 3])
    (bad / "text.MIDI").write_bytes(b"not a midi file\n")
    head = b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01\x01\xe0"
    drums = b"\x00\x99\x24\x64\x83\x60\x89\x24\x00\x00\xff\x2f\x00"  # one kick on channel 10
    (bad / "drums.mid").write_bytes(head + b"MTrk" + len(drums).to_bytes(4, "big") + drums)
    huge = b"\x00\x90\x3c\x5a\x85\x80\x80\x00\x80\x3c\x00\x00\xff\x2f\x00"  # note-off at tick 10,485,760
    (bad / "huge.mid").write_bytes(head + b"MTrk" + len(huge).to_bytes(4, "big") + huge)
    (root / "notes.txt").write_text("ignored: not a MIDI suffix")
    return root


BAD = ["bad/drums.mid", "bad/empty.mid", "bad/huge.mid", "bad/text.MIDI", "bad/truncated.mid"]


def test_find_midi_files(corpus):
    assert find_midi_files(corpus) == sorted(BAD + GOOD)


@pytest.mark.parametrize("jobs", [1, 2])
def test_windows_equal_magentas_for_every_file(corpus, tmp_path, fixtures, jobs):
    out = tmp_path / f"out{jobs}"
    summary = extract_corpus(corpus, bars=2, out=out, jobs=jobs, chunk_size=3)
    assert summary.n_files == len(GOOD) + len(BAD)
    windows, meta = read_windows(out)
    raw = pd.read_parquet(out / "windows.parquet")
    assert {"source", "window", "qpm"} <= set(raw.columns)
    assert windows.shape == (len(raw), 32)
    assert meta["window_id"].tolist() == list(range(len(raw)))
    for rel in GOOD:
        mine = windows[(meta["source"] == rel).to_numpy()]
        assert sorted(mine.tolist()) == expected(fixtures, rel, "cat-mel_2bar_big")["windows"], rel


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_manifest_records_every_file_and_why_it_gave_nothing(corpus, tmp_path, fixtures, jobs):
    out = tmp_path / f"out{jobs}"
    extract_corpus(corpus, bars=2, out=out, jobs=jobs, chunk_size=3)
    manifest = pd.read_parquet(out / "manifest.parquet").set_index("source")
    assert list(manifest.columns[:3]) == ["status", "reason", "n_windows"]
    assert manifest.loc[GOOD, "n_windows"].tolist() == [
        expected(fixtures, rel, "cat-mel_2bar_big")["n_windows"] for rel in GOOD
    ]
    status = manifest["status"].to_dict()
    assert [status[rel] for rel in BAD] == [
        "no_windows",
        "unreadable",
        "unreadable",
        "unreadable",
        "unreadable",
    ]
    assert manifest.loc["bad/drums.mid", "reason"] == "drums only"
    assert "largest tick" in manifest.loc["bad/huge.mid", "reason"]
    assert "6/8" in manifest.loc["nottingham/melody/jigs139.mid", "reason"]
    skipped = manifest[manifest["status"] != "ok"]
    assert (skipped["reason"].str.len() > 0).all()
    assert (manifest[manifest["status"] == "ok"]["reason"] == "").all()


def test_rerun_reuses_finished_work(corpus, tmp_path):
    out = tmp_path / "out"
    first = extract_corpus(corpus, bars=2, out=out, jobs=1)
    before = pd.read_parquet(out / "windows.parquet")
    second = extract_corpus(corpus, bars=2, out=out, jobs=1)
    assert first.n_reused == 0
    assert second.n_reused == second.n_files
    pd.testing.assert_frame_equal(pd.read_parquet(out / "windows.parquet"), before)

    # a changed file is extracted again; the others come from the cache
    target = corpus / "nottingham/melody/hpps14.mid"
    shutil.copy(corpus / "nottingham/melody/ashover10.mid", target)
    os.utime(target, ns=(1, 1))
    third = extract_corpus(corpus, bars=2, out=out, jobs=1)
    assert third.n_reused == third.n_files - 1
    after = pd.read_parquet(out / "windows.parquet")
    copies = [after[after["source"] == rel]["window"].map(list).tolist() for rel in
              ("nottingham/melody/ashover10.mid", "nottingham/melody/hpps14.mid")]  # fmt: skip
    assert copies[0] == copies[1]
    assert json.loads((out / "extract.json").read_text())["n_reused"] == third.n_files - 1
    # assembled from shards of two runs (one file's newest result sits in the middle), streamed shard by
    # shard: the same tables as a fresh run
    fresh = tmp_path / "fresh"
    extract_corpus(corpus, bars=2, out=fresh, jobs=1)
    for name in ("windows.parquet", "manifest.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(fresh / name))


def test_magenta_mode_gives_the_default_windows(corpus, tmp_path, fixtures):
    out = tmp_path / "magenta"
    extract_corpus(corpus, bars=16, out=out, mode="magenta", jobs=1)
    windows, meta = read_windows(out)
    for rel in GOOD:
        want = expected(fixtures, rel, "hierdec-mel_16bar")
        mine = windows[(meta["source"] == rel).to_numpy()].tolist()
        assert mine == [want["windows"][i] for i in want["default_window_ids"]], rel


def test_cli_extract(corpus, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["extract", str(corpus), "--bars", "16", "--out", str(out), "--jobs", "1"]) == 0
    assert "windows" in capsys.readouterr().out
    windows, _ = read_windows(out / "windows.parquet")
    assert windows.shape[1] == 256
    assert len(pd.read_parquet(out / "manifest.parquet")) == len(GOOD) + len(BAD)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        extract_corpus(tmp_path / "nope", bars=2, out=tmp_path / "out")
    (tmp_path / "file.mid").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        extract_corpus(tmp_path / "file.mid", bars=2, out=tmp_path / "out")
    with pytest.raises(ValueError, match="bars"):
        extract_corpus(tmp_path, bars=4, out=tmp_path / "out")


def test_an_unexpected_failure_is_recorded_and_the_run_goes_on(corpus, tmp_path, monkeypatch):
    import musicneurons.data.corpus_files as corpus_module

    real = corpus_module.extract_windows

    def flaky(score, config, mode="all"):
        if score.n_notes > 1000:  # only the POP909 files are this long
            raise RuntimeError("boom")
        return real(score, config, mode=mode)

    monkeypatch.setattr(corpus_module, "extract_windows", flaky)
    summary = extract_corpus(corpus, bars=2, out=tmp_path / "out", jobs=1)
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet").set_index("source")
    assert manifest.loc["pop909-sample/001.mid", "status"] == "error"
    assert manifest.loc["pop909-sample/001.mid", "reason"] == "RuntimeError: boom"
    assert summary.status_counts["ok"] == 3  # the three 4/4 Nottingham tunes


def test_a_folder_without_midi_files_gives_empty_tables(tmp_path):
    (tmp_path / "in").mkdir()
    summary = extract_corpus(tmp_path / "in", bars=2, out=tmp_path / "out", jobs=1)
    assert summary.n_files == 0
    assert len(pd.read_parquet(tmp_path / "out" / "windows.parquet")) == 0
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert list(manifest.columns) == ["source", "status", "reason", "n_windows", "n_notes", "bytes"]
