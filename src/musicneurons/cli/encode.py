"""``musicneurons encode``: window tables -> a folder of latents (mu, sigma), sharded and resumable."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode",
        help="window tables -> latents (mu, sigma) in Parquet parts; sharded, resumable, multi-GPU, Ray",
        description="Encode every window of WINDOWS (a windows.parquet from `extract`, or a folder of them) "
        "with a MusicVAE and write OUT/part-*.parquet (window_id, mu, sigma) and OUT/encode.json. Memory "
        "stays at a few batches; finished parts are kept, so the same command again resumes an interrupted "
        "run. --shard K/N splits the job over N machines or array tasks with no coordinator.",
    )
    p.add_argument("windows", help="windows.parquet or a folder of them (window_id and window columns)")
    p.add_argument(
        "--model",
        required=True,
        help="default-2bar | default-16bar | a model folder (config.json) | a Magenta checkpoint",
    )
    p.add_argument("--out", required=True, help="latents folder (created; finished parts there are kept)")
    p.add_argument(
        "--shard", default="0/1", help="K/N: encode the K-th of N slices (K from 0; default 0/1 = all)"
    )
    p.add_argument(
        "--device",
        default="auto",
        help="auto | cpu | cuda | cuda:0,cuda:1,... (one worker per listed GPU; default auto)",
    )
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="matmul precision")
    p.add_argument("--batch-size", type=int, default=512, help="windows per forward pass (default 512)")
    p.add_argument(
        "--dtype", choices=("float32", "float16"), default="float32", help="storage type of mu and sigma"
    )
    p.add_argument(
        "--part-rows", type=int, default=None, help="windows per part file (default 50000; resume unit)"
    )
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local (default, no extra dependency) or ray (pip install 'musicneurons[ray]')",
    )
    p.add_argument(
        "--ray-address", default=None, help="Ray cluster to join (default: RAY_ADDRESS or a local Ray)"
    )
    p.add_argument(
        "--actors", type=int, default=None, help="Ray: encoder actors (default: one per GPU, else 2)"
    )
    p.add_argument("--overwrite", action="store_true", help="delete the latents of an earlier job in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see docs/study.md
    from musicneurons.encode import encode_corpus, encode_corpus_ray, parse_devices, parse_shard
    from musicneurons.encode.plan import DEFAULT_PART_ROWS

    common = {
        "shard": parse_shard(args.shard),
        "precision": args.precision,
        "batch_size": args.batch_size,
        "dtype": args.dtype,
        "part_rows": args.part_rows or DEFAULT_PART_ROWS,
        "overwrite": args.overwrite,
    }
    devices = parse_devices(args.device)
    if args.backend == "ray":
        summary = encode_corpus_ray(
            args.windows,
            args.model,
            args.out,
            address=args.ray_address,
            actors=args.actors,
            use_gpus=any(d != "cpu" for d in devices),
            **common,
        )
    else:
        summary = encode_corpus(
            args.windows, args.model, args.out, devices=devices, progress=not args.no_progress, **common
        )
    print(
        f"{summary.n_windows:,} windows in {summary.n_parts} parts: {summary.n_encoded:,} encoded, "
        f"{summary.n_reused:,} kept from an earlier run, in {summary.seconds:.1f} s "
        f"({summary.windows_per_second:,.0f} windows/s)\n  {summary.record_path}"
    )
    return 0
