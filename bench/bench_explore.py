"""Benchmark: the explorer's encode + decode round trip (what a slider move costs), p50 and p95 per model.

Models: the embedded default-2bar and default-16bar, and a full-size ``cat-mel_2bar_big`` (2048-unit encoder,
3 x 2048 decoder) built from its preset with random weights (latency does not depend on the weights).
Each round trip is ``POST /api/encode`` of a corpus window then ``POST /api/decode`` of its mu, through the
real HTTP server on 127.0.0.1 (JSON and sockets included); the model calls alone are timed too. The target
is p95 < 100 ms for the default models so the sliders feel live.

Run:  .venv/bin/python bench/bench_explore.py [--reps 30] [--models default-2bar default-16bar big]
      .venv/bin/python bench/bench_explore.py --screenshot docs/images/explorer.png   (headless chromium)
Timings are wall-clock on a shared machine: the CPU model and the load average are printed with them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import time

import numpy as np

from machine import cpu_model, load_average


def post(conn: http.client.HTTPConnection, path: str, body: dict) -> dict:
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {answer}")
    return answer


def percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1e3
    return f"p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms"


def bench_model(name: str, model, windows: np.ndarray, reps: int) -> dict[str, list[float]]:
    from musicneurons.explore.server import start_server
    from musicneurons.explore.session import build_session

    session = build_session(model, windows=windows[:16], ranking_windows=16, model_name=name)
    server = start_server(session, "127.0.0.1", 0)
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=600)
    times: dict[str, list[float]] = {
        "http round trip": [],
        "http decode": [],
        "model encode": [],
        "model decode": [],
    }
    try:
        for i in range(reps + 2):  # the first two warm up
            window = windows[i % len(windows)]
            t0 = time.perf_counter()
            mu = post(conn, "/api/encode", {"window": window.tolist()})["mu"]
            t1 = time.perf_counter()
            post(conn, "/api/decode", {"z": mu})
            t2 = time.perf_counter()
            _, m, _ = model.encode(window[None], rng=np.random.default_rng(0))
            t3 = time.perf_counter()
            model.decode(m, temperature=0.0)
            t4 = time.perf_counter()
            if i >= 2:
                times["http round trip"].append(t2 - t0)
                times["http decode"].append(t2 - t1)
                times["model encode"].append(t3 - t2)
                times["model decode"].append(t4 - t3)
    finally:
        conn.close()
        server.shutdown()
        server.server_close()
    return times


def screenshot(path: str) -> None:
    """Save a full-page screenshot of the explorer (default-2bar, a slider moved, an interpolation shown)."""
    import shutil

    from playwright.sync_api import sync_playwright

    from musicneurons import load_model
    from musicneurons.explore.server import start_server
    from musicneurons.explore.session import build_session, load_corpus

    model = load_model(device="cpu")
    windows, titles, sources = load_corpus(32, limit=200)
    session = build_session(model, windows=windows, titles=titles, sources=sources, ranking_windows=256)
    server = start_server(session, "127.0.0.1", 0)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--mute-audio"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            page.select_option("#melody-select", "3")
            page.wait_for_timeout(1500)
            page.select_option("#melody-b", "40")
            page.fill("#interp-steps", "5")
            page.click("#interp-go")
            page.wait_for_function("() => document.querySelectorAll('#interp-strip figure').length === 5")
            page.wait_for_timeout(1000)
            page.screenshot(path=path, full_page=True)
            print(f"chromium {browser.version}: wrote {path}")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30, help="timed round trips per model")
    parser.add_argument("--models", nargs="+", default=["default-2bar", "default-16bar", "big"])
    parser.add_argument("--screenshot", metavar="PNG", help="only save a screenshot of the explorer")
    args = parser.parse_args()
    if args.screenshot:
        screenshot(args.screenshot)
        return

    import torch

    from musicneurons import PRESETS, MusicVAE, TrainedModel, load_model
    from musicneurons.data.defaults import default_windows

    print(
        f"CPU: {cpu_model()} ({os.cpu_count()} CPUs); "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"load average at start: {load_average()}")
    for name in args.models:
        if name == "big":
            torch.manual_seed(0)
            model = TrainedModel(MusicVAE(PRESETS["cat-mel_2bar_big"]), device="cpu")
            label = "cat-mel_2bar_big (random weights)"
        else:
            model = load_model(name, device="cpu")
            label = name
        steps = model.config.max_seq_len
        windows = default_windows(2 if steps == 32 else 16)[::37][: max(args.reps, 8)]
        params = sum(p.numel() for p in model.module.parameters()) / 1e6
        times = bench_model(label, model, windows, args.reps)
        print(
            f"\n{label}: {params:.1f} M parameters, {steps} steps, {args.reps} reps (load {load_average()})"
        )
        for key, values in times.items():
            print(f"  {key:16s} {percentiles(values)}")
        p95 = np.percentile(np.asarray(times["http round trip"]) * 1e3, 95)
        if name != "big":
            print(f"  target p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'} ({p95:.1f} ms)")
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
