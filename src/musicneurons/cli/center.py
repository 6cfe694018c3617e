"""``musicneurons center``: fold the mean posterior mu over training windows into a model (exact)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "center",
        help="fold the mean posterior mu over training windows into a model (exact; lower KL)",
        description="Subtract the mean of mu over WINDOWS from the model's mu layer and add the matching "
        "shift to the decoder layers that read z, so every window is reconstructed exactly as before while "
        "the aggregate posterior moves to the origin. Removes the constant offsets that short, small-batch "
        "training leaves in unused dims (docs/training.md). Use the training windows, not the ones you "
        "study.",
    )
    p.add_argument(
        "model", help="model folder (weights.safetensors + config.json) or default-2bar/default-16bar"
    )
    p.add_argument("windows", help="windows.parquet (from `musicneurons extract`) to average mu over")
    p.add_argument("--out", required=True, help="output model folder")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from musicneurons.data.corpus import read_windows
    from musicneurons.errors import UserError
    from musicneurons.model.centering import center_latents
    from musicneurons.model.checkpoints import save_model
    from musicneurons.model.load import load_module

    module, meta = load_module(args.model)
    windows, _ = read_windows(args.windows)
    if windows.shape[1] != module.config.max_seq_len:
        msg = f"{args.windows} has windows of {windows.shape[1]} steps, the model {module.config.max_seq_len}"
        raise UserError(msg)
    offsets = center_latents(module, windows)
    meta = dict(meta)
    meta["centered"] = {"source": str(args.model), "windows": str(args.windows), "n_windows": len(windows),
                        "max_abs_offset": float(np.abs(offsets).max())}  # fmt: skip
    save_model(module, args.out, meta)
    largest = np.abs(offsets).max()
    print(f"folded mean mu of {len(windows)} windows (largest |offset| {largest:.3f}) -> {args.out}")
    return 0
