"""``musicneurons explore``: a local web page to encode melodies, move music neurons and hear the decodes."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="a local web page: pick a melody, move its music neurons, hear and download the decodes",
        description="Serve the latent explorer on http://HOST:PORT/ (127.0.0.1 unless told otherwise): "
        "pick a melody (corpus or uploaded MIDI), see its mu and sigma per ranked neuron with the music/noise"
        " cut, move sliders on the top music neurons and hear the decode, interpolate A->B and traverse one "
        "neuron from -3 to +3. Everything runs offline; stop it with Ctrl-C.",
    )
    p.add_argument(
        "--model",
        default="default-2bar",
        help="model folder, Magenta checkpoint or default-2bar / default-16bar (default: %(default)s)",
    )
    p.add_argument(
        "--study", help="a `musicneurons study` output folder: its neuron ranks, roles (φ_K) and windows"
    )
    p.add_argument("--windows", help="windows.parquet (or its folder) of melodies to pick from")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine)")
    p.add_argument("--port", type=int, default=8765, help="port (default: %(default)s; 0 = any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--melodies", type=int, default=200, help="corpus melodies listed (default: %(default)s)")
    p.add_argument(
        "--ranking-windows",
        type=int,
        default=256,
        help="windows encoded at start to rank the neurons when no --study is given (default: %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import webbrowser
    from pathlib import Path

    from musicneurons import load_model
    from musicneurons.cli.sample import check_model_path
    from musicneurons.errors import UserError
    from musicneurons.explore.server import start_server
    from musicneurons.explore.session import build_session, load_corpus

    for option, value in (("--melodies", args.melodies), ("--ranking-windows", args.ranking_windows)):
        if value < 1:
            msg = f"{option} must be at least 1, got {value}"
            raise UserError(msg)
    if not 0 <= args.port <= 65535:
        msg = f"--port must be in 0..65535, got {args.port}"
        raise UserError(msg)
    for option, value in (("--study", args.study), ("--windows", args.windows)):
        if value is not None and not Path(value).exists():
            msg = f"{option} {value}: no such file or folder"
            raise UserError(msg)
    check_model_path(args.model)
    model = load_model(args.model, device=args.device)
    steps = model.config.max_seq_len
    try:
        windows, titles, sources = load_corpus(
            steps, windows=args.windows, study=args.study, limit=args.melodies
        )
        session = build_session(
            model,
            windows=windows,
            titles=titles,
            sources=sources,
            ranking_windows=args.ranking_windows,
            study=args.study,
            model_name=args.model,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    try:
        server = start_server(session, args.host, args.port)
    except OSError as exc:
        msg = f"cannot listen on {args.host}:{args.port} ({exc.strerror}); try another --port"
        raise UserError(msg) from exc
    print(f"musicneurons explorer on {server.url} ({args.model}; Ctrl-C stops it)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger(__name__).warning("listening on %s: other machines can reach it", args.host)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        threading_event_wait()
    except KeyboardInterrupt:
        print("explorer stopped", flush=True)
    finally:
        server.shutdown()
        server.server_close()
    return 0


def threading_event_wait() -> None:
    """Block the main thread until Ctrl-C (the server runs in its own thread)."""
    import threading

    threading.Event().wait()
