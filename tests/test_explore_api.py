"""The explorer's JSON API over HTTP (server on 127.0.0.1, port 0), checked against the model itself."""

from __future__ import annotations

import http.client
import json
import threading
import time

import numpy as np
import pytest

from musicneurons import load_model
from musicneurons.constants import MUSIC_SIGMA_THRESHOLD
from musicneurons.data.defaults import default_windows
from musicneurons.data.encoding import notes_from_classes, windows_to_midi
from musicneurons.data.midi import read_midi
from musicneurons.explore.server import MAX_BODY, start_server
from musicneurons.explore.session import build_session
from musicneurons.model.inference import slerp

N_WINDOWS = 24
STEP = 0.125  # seconds per step at the model's 120 qpm


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def windows():
    return default_windows(2)[:N_WINDOWS]


@pytest.fixture(scope="module")
def server(model, windows):
    session = build_session(model, windows=windows, ranking_windows=N_WINDOWS)
    server = start_server(session, "127.0.0.1", 0)
    yield server
    server.shutdown()
    server.server_close()


def request(server, method, path, body=None, headers=None):
    """(status, parsed JSON or raw bytes, content type) of one request."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    data = json.dumps(body).encode() if isinstance(body, dict | list) else body
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    raw = response.read()
    kind = response.getheader("Content-Type", "")
    conn.close()
    return response.status, json.loads(raw) if kind == "application/json" else raw, kind


def post(server, path, body):
    return request(server, "POST", path, body)


def test_binds_localhost(server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_encode_returns_the_posterior_and_the_ranking(server, model, windows):
    status, answer, _ = post(server, "/api/encode", {"window": windows[3].tolist()})
    assert status == 200
    assert set(answer) == {"mu", "sigma", "order", "n_music"}
    _, mu, sigma = model.encode(windows)
    np.testing.assert_allclose(answer["mu"], mu[3], atol=1e-5)
    np.testing.assert_allclose(answer["sigma"], sigma[3], atol=1e-5)
    mean_sigma = sigma.astype(np.float64).mean(axis=0)
    assert sorted(answer["order"]) == list(range(512))
    assert np.all(np.diff(mean_sigma[answer["order"]]) >= 0)  # smallest mean sigma first
    assert answer["n_music"] == int((mean_sigma < MUSIC_SIGMA_THRESHOLD).sum())


def test_decode_is_the_greedy_decode_with_notes_in_seconds(server, model, windows):
    _, mu, _ = model.encode(windows[:1])
    status, answer, _ = post(server, "/api/decode", {"z": mu[0].tolist()})
    assert status == 200
    assert set(answer) == {"window", "notes"}
    expected = model.decode(mu, temperature=0.0)[0]
    assert answer["window"] == expected.tolist()
    assert answer["notes"] == [
        {"pitch": p, "start": s * STEP, "end": e * STEP} for p, s, e in notes_from_classes(expected)
    ]


def test_interpolate_ends_at_both_means(server, model, windows):
    a, b = windows[0].tolist(), windows[5].tolist()
    status, answer, _ = post(server, "/api/interpolate", {"a": a, "b": b, "steps": 3})
    assert status == 200
    _, mu, _ = model.encode(np.stack([a, b]))
    z = np.array(answer["z"])
    np.testing.assert_allclose(z, slerp(mu[0], mu[1], np.array([0.0, 0.5, 1.0])), atol=1e-5)
    assert answer["t"] == [0.0, 0.5, 1.0]
    assert answer["windows"] == model.decode(z, temperature=0.0).tolist()
    assert [len(n) for n in answer["notes"]] == [len(notes_from_classes(w)) for w in answer["windows"]]


def test_traverse_sweeps_one_dim(server, model):
    z = np.zeros(512)
    status, answer, _ = post(server, "/api/traverse", {"z": z.tolist(), "dim": 7, "steps": 7})
    assert status == 200
    assert answer["values"] == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    zs = np.zeros((7, 512), np.float32)
    zs[:, 7] = np.arange(-3, 4)
    assert answer["windows"] == model.decode(zs, temperature=0.0).tolist()


def test_melodies_and_info(server, windows):
    status, answer, _ = request(server, "GET", "/api/melodies")
    assert status == 200
    assert [m["window"] for m in answer["melodies"]] == windows.tolist()
    assert {"id", "title", "source", "window"} <= set(answer["melodies"][0])
    status, info, _ = request(server, "GET", "/api/info")
    assert (info["z_size"], info["steps"], info["qpm"]) == (512, 32, 120.0)


def test_upload_reads_the_melody_windows(server, tmp_path):
    window = np.zeros(32, dtype=np.int8)
    window[::4] = [41, 43, 45, 46, 48, 50, 52, 53]  # C4 D4 E4 F4 G4 A4 B4 C5 in quarter notes
    data = windows_to_midi(window, tmp_path / "scale.mid").read_bytes()
    status, answer, _ = request(server, "POST", "/api/upload", data, {"Content-Type": "audio/midi"})
    assert status == 200
    assert answer["windows"][0] == window.tolist()
    assert answer["qpm"][0] == pytest.approx(120.0)


def test_midi_download_holds_the_window(server, tmp_path):
    window = np.zeros(32, dtype=np.int8)
    window[[0, 8, 9]] = [50, 1, 53]  # A4 for 8 steps, note-off, then C5 to the end
    status, data, kind = post(server, "/api/midi", {"window": window.tolist()})
    assert status == 200
    assert kind == "audio/midi"
    (tmp_path / "d.mid").write_bytes(data)
    score = read_midi(tmp_path / "d.mid")
    assert score.pitch.tolist() == [69, 72]
    np.testing.assert_allclose(score.start, [0.0, 9 * STEP], atol=1e-3)
    np.testing.assert_allclose(score.end, [8 * STEP, 32 * STEP], atol=1e-3)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/decode", {"z": [0.0] * 511}, 400, "z must be a list of 512"),
        ("/api/decode", {"z": "zeros"}, 400, "z must be a list"),
        ("/api/decode", b'{"z": [NaN' + b", 0" * 511 + b"]}", 400, "finite"),
        ("/api/decode", {"z": [0.0] * 512, "temperature": -1}, 400, "temperature"),
        ("/api/encode", {"window": [0] * 31}, 400, "window must be a list of 32"),
        ("/api/encode", {"window": [90] * 32}, 400, "0..89"),
        ("/api/encode", {"window": [True] * 32}, 400, "0..89"),
        ("/api/encode", b"not json", 400, "not JSON"),
        ("/api/encode", b"[1, 2]", 400, "JSON object"),
        ("/api/interpolate", {"a": [0] * 32, "b": [0] * 32, "steps": 10_000}, 400, "steps"),
        ("/api/traverse", {"z": [0.0] * 512, "dim": 512}, 400, "dim"),
        ("/api/upload", b"MThd garbage", 400, "not a readable MIDI file"),
        ("/api/upload", b"", 400, "not a readable MIDI file"),
        ("/api/nothing", {}, 404, "no such API"),
    ],
)
def test_bad_input_gets_a_json_error_and_the_server_lives(server, path, body, status, message):
    got, answer, kind = post(server, path, body)
    assert got == status
    assert kind == "application/json"
    assert message in answer["error"]
    assert request(server, "GET", "/api/info")[0] == 200


def test_huge_body_is_refused_unread(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", "/api/decode")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()  # the body is never sent: the server must answer without waiting for it
    response = conn.getresponse()
    assert response.status == 413
    assert "over" in json.loads(response.read())["error"]
    conn.close()
    assert request(server, "GET", "/api/info")[0] == 200


def test_missing_length_is_refused(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", "/api/decode")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()


@pytest.mark.parametrize("path", ["/static/../session.py", "/static/%2e%2e/server.py", "/static/nope.js"])
def test_static_files_stay_inside_the_folder(server, path):
    assert request(server, "GET", path)[0] == 404


def test_page_and_vendored_scripts_are_served(server):
    status, page, kind = request(server, "GET", "/")
    assert status == 200
    assert kind.startswith("text/html")
    for script in ("vendor/Tone.js", "vendor/core.js", "vendor/midi-player.min.js", "app.js"):
        assert f"/static/{script}".encode() in page
        status, _, kind = request(server, "GET", f"/static/{script}")
        assert (status, kind) == (200, "text/javascript; charset=utf-8")


def test_latest_slider_request_wins(server, model):
    """Two requests of one channel wait for the model: the older one is answered stale, unrun."""
    session = server.session
    answers = {}

    def send(seq):
        answers[seq] = post(server, "/api/decode", {"z": [0.0] * 512, "channel": "test", "seq": seq})[1]

    with session.lock:  # the model is busy: both requests queue up
        threads = [threading.Thread(target=send, args=(seq,)) for seq in (1, 2)]
        threads[0].start()
        deadline = time.monotonic() + 30
        while session.latest.get("test") != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        threads[1].start()
        while session.latest.get("test") != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    for thread in threads:
        thread.join(60)
    assert answers[1] == {"stale": True}
    assert answers[2]["window"] == model.decode(np.zeros((1, 512)), temperature=0.0)[0].tolist()


def test_concurrent_requests_all_answer(server):
    results = []

    def send(i):
        results.append(post(server, "/api/decode", {"z": [0.1 * i] * 512})[0])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200] * 6


def test_study_gives_ranks_cut_and_roles(tmp_path, model, windows):
    import pandas as pd

    rng = np.random.default_rng(1)
    dims = rng.permutation(512)
    part = tmp_path / "2bar"
    part.mkdir()
    mean_sigma = np.linspace(0.05, 1.0, 512)
    pd.DataFrame(
        {"rank": np.arange(1, 513), "dim": dims, "mean_sigma": mean_sigma, "is_music": mean_sigma < 0.95}
    ).to_parquet(part / "neurons.parquet")
    pd.DataFrame(
        {
            "feature": ["P12", "R5", "M3", "P1", "R2", "X9"],
            "group": ["P", "R", "M", "P", "R", "X"],
            "rank": [1, 1, 2, 2, 3, 3],
            "dim": [dims[0], dims[0], dims[1], dims[1], dims[2], dims[2]],
            "phik": [0.94, 0.5, 0.61, np.nan, 0.3, 0.99],
        }
    ).to_parquet(part / "phik.parquet")
    session = build_session(model, windows=windows, study=tmp_path)
    assert session.order.tolist() == dims.tolist()
    assert session.n_music == int((mean_sigma < 0.95).sum())
    np.testing.assert_allclose(session.mean_sigma[dims], mean_sigma)
    assert session.labels == {
        int(dims[0]): "pitch neuron · φ_K 0.94 with P12",  # best group P; the largest P score
        int(dims[1]): "melody neuron · φ_K 0.61 with M3",
        int(dims[2]): "rhythm · φ_K 0.30 with R2",  # rhythm, but rank 1's R score (0.5) is larger
    }


def test_study_of_another_length_is_refused(tmp_path, model, windows):
    (tmp_path / "16bar").mkdir()
    with pytest.raises(FileNotFoundError, match="2bar"):
        build_session(model, windows=windows, study=tmp_path)


def test_16bar_session_decodes_256_steps():
    from musicneurons.explore import session as api

    model = load_model("default-16bar", device="cpu")
    windows, titles, _ = api.load_corpus(256, limit=3)
    session = build_session(model, windows=windows, titles=titles, ranking_windows=3)
    answer = api.api_decode(session, {"z": [0.0] * 512})
    assert answer["window"] == model.decode(np.zeros((1, 512)), temperature=0.0)[0].tolist()
    assert len(answer["window"]) == 256
    assert api.api_encode(session, {"window": windows[0].tolist()})["n_music"] == session.n_music


def test_vendored_scripts_match_their_notices():
    """Each vendored file is the npm release named in THIRD_PARTY_NOTICES (checksum), with its licence."""
    import hashlib
    import re

    from musicneurons.explore.server import STATIC_DIR

    notices = (STATIC_DIR / "THIRD_PARTY_NOTICES.txt").read_text(encoding="utf-8")
    listed = re.findall(r"- (vendor/\S+\.js): .*\n .*\n  sha256: ([0-9a-f]{64})", notices)
    assert {path for path, _ in listed} == {f"vendor/{p.name}" for p in (STATIC_DIR / "vendor").glob("*.js")}
    for path, digest in listed:
        assert hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest() == digest, path
    for licence in ("MIT License", "Apache License", "BSD 2-Clause License", "Redistribution and use"):
        assert licence in notices


def test_own_page_files_name_no_outside_host():
    import re

    from musicneurons.explore.server import STATIC_DIR

    for name in ("index.html", "app.js", "app.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        hosts = set(re.findall(r"https?://([^/\s\"'`]+)", text)) - {"www.w3.org"}  # the SVG namespace
        assert hosts == set(), name


@pytest.mark.slow
def test_explorer_reads_a_real_study(tmp_path, corpora_dir):
    """`musicneurons study` on a tiny random-weight model, then the explorer on its output folder."""
    import shutil

    import pandas as pd
    import torch

    from musicneurons import MusicVAE, MusicVAEConfig, save_model
    from musicneurons.cli import main
    from musicneurons.data.corpus import read_windows
    from musicneurons.explore import session as api

    midi = tmp_path / "midi"
    midi.mkdir()
    for path in sorted((corpora_dir / "nottingham" / "melody").glob("*.mid"))[:8]:
        shutil.copy(path, midi / path.name)
    torch.manual_seed(0)
    config = MusicVAEConfig(z_size=16, enc_rnn_size=(16,), dec_rnn_size=(16,), max_seq_len=32)
    save_model(MusicVAE(config), tmp_path / "m")
    out = tmp_path / "out"
    argv = ["study", "--model", str(tmp_path / "m"), "--midi", str(midi), "--n-random", "2000"]
    assert main([*argv, "--device", "cpu", "--out", str(out), "--no-progress"]) == 0

    model = load_model(tmp_path / "m", device="cpu")
    windows, titles, _ = api.load_corpus(32, study=out, limit=10)
    session = build_session(model, windows=windows, titles=titles, study=out)
    neurons = pd.read_parquet(out / "2bar" / "neurons.parquet").sort_values("rank")
    assert session.order.tolist() == neurons["dim"].tolist()
    assert session.n_music == int(neurons["is_music"].sum())
    assert set(session.labels) <= set(range(16))
    assert session.labels, "the study's phik table should name a role for some neuron"
    assert all(" · φ_K " in label for label in session.labels.values())
    study_windows, _ = read_windows(out / "2bar" / "windows.parquet")
    assert {bytes(w) for w in windows} <= {bytes(w) for w in study_windows}
    assert api.api_info(session)["labels"] == {str(k): v for k, v in session.labels.items()}


def test_explore_command_serves_until_interrupted():
    """`musicneurons explore --no-browser --port 0` prints its URL, answers, and stops cleanly on Ctrl-C."""
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    argv = ["explore", "--no-browser", "--port", "0", "--ranking-windows", "8", "--melodies", "5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "musicneurons", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(url.group(0) + "api/melodies", timeout=60) as response:
            assert len(json.loads(response.read())["melodies"]) == 5
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "explorer stopped" in out
