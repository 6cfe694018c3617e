"""musicneurons beside Google Magenta's own TensorFlow code, timed in one process, contenders alternating.

Three measurements, each printed with the CPU model, the load average, OMP_WAIT_POLICY, thread count and the
TF / torch versions:

- train: one optimiser step at the ``default-2bar`` sizes (z 512, encoder 128, decoder 128 x 2, 32 steps,
  90 classes, batch 128, the preset's beta / learning-rate hparams, no scheduled sampling), or those of
  another flat preset (``--train-preset cat-mel_2bar_big --batch 64 --sampling 0.5``: a constant
  scheduled-sampling probability for both). Magenta: its own
  ``MusicVAE.build`` / ``train`` graph fed by its ``_get_input_tensors`` from a repeating ``tf.data`` batch,
  gradients clipped by global norm as its ``music_vae_train.train`` does, its ``AdamOptimizer``. Ours:
  :func:`musicneurons.training.loop.train_step` (fp32, and bf16 autocast where bf16 is native) on the same
  random melodies, the batch's parts on worker threads as ``musicneurons train`` runs them (the pool is
  made per step, so its start-up is counted). Median examples/s over ``--steps`` alternating steps (the
  first step of each is a warm-up and not counted).
- load: a full-size ``cat-mel_2bar_big`` bundle (~538 MB) written once by Magenta's own graph and
  ``tf.train.Saver`` (seeded initialisers, cached in ``--cache``), loaded by Magenta's ``TrainedModel``
  (graph build + restore) and by ``musicneurons.load_model`` (conversion included). First, best and median
  of ``--load-repeat`` alternating loads.
- encode: ``cat-mel_2bar_big`` at batches 64 and 256: Magenta's ``TrainedModel.encode_tensors`` (one-hot
  windows) against our ``TrainedModel.encode`` (class indices) in fp32 and bf16. Best and median melodies/s
  over ``--rounds`` alternating rounds of about ``--min-time`` seconds each.

A sanity line compares mu of both implementations on the same bundle and windows (max |difference| beside
max |mu|). OpenMP reads OMP_WAIT_POLICY at start-up, so ``--policy both`` (the default) runs everything once
in a child process under ``PASSIVE`` and once under OpenMP's default (spin-wait).

Magenta needs its own environment (TensorFlow 2.15.1 on Python 3.11; shared/docs/MAGENTA_ENV.md and
docs/training.md "Measuring against Magenta"). Without TensorFlow and Magenta importable this script prints
how to build that environment and exits 0. The full run (both wait policies; 133 s per policy on a 2-core
machine at load 5-7, so about 4-5 minutes in all):

    /work/magenta_env/bin/python bench/bench_magenta.py --magenta-src /work/magenta_src \\
        --cache /work/magenta_cache

A quick check that everything runs: add ``--steps 3 --load-repeat 1 --rounds 1 --min-time 0 --policy
passive``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import importlib.util
import json
import os
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path

from machine import add_policy_option, cpu_model, load_average, rerun_per_wait_policy

BIG = "cat-mel_2bar_big"
TRAIN_PRESET = "default-2bar"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache" / "magenta"
SETUP_HINT = """\
TensorFlow and Magenta are not importable here: this benchmark needs a throwaway environment (never the
project's .venv; see shared/docs/MAGENTA_ENV.md). For example:

  python3.11 -m venv /work/magenta_env
  /work/magenta_env/bin/pip install torch==2.13.0            # the CPU build, as scripts/setup.sh does
  /work/magenta_env/bin/pip install tensorflow-cpu==2.15.1 tensorflow-probability==0.23.0 tf-slim==1.1.0 \\
      "numpy<2" "protobuf<5" pretty_midi mido absl-py attrs intervaltree scipy pandas pydub bokeh \\
      IPython librosa
  /work/magenta_env/bin/pip install -e .
  # the sources of magenta/magenta and magenta/note-seq, unpacked side by side (git archive HEAD | tar -x):
  #   /work/magenta_src/magenta/magenta/...   /work/magenta_src/note-seq/note_seq/...
  /work/magenta_env/bin/python bench/bench_magenta.py --magenta-src /work/magenta_src \\
      --cache /work/magenta_cache
(tensorflow_datasets is not needed: this script stands a stub in for it.)"""


# --------------------------------------------------------------------------- environment


def add_magenta_sources(src: str | None) -> None:
    """Put ``src/magenta`` and ``src/note-seq`` on sys.path and stub tensorflow_datasets if it is absent.

    This checkout's own ``src`` goes first, so the environment's musicneurons (installed from any checkout)
    never stands in for the code being measured.
    """
    own = str(Path(__file__).resolve().parents[1] / "src")
    if own not in sys.path:
        sys.path.insert(0, own)
    if src:
        for sub in ("note-seq", "magenta"):
            path = str(Path(src) / sub)
            if path not in sys.path:
                sys.path.insert(0, path)
    if importlib.util.find_spec("tensorflow_datasets") is None:  # Magenta's data.py imports it at top level
        sys.modules["tensorflow_datasets"] = types.ModuleType("tensorflow_datasets")


def missing_modules() -> list[str]:
    return [m for m in ("tensorflow", "magenta", "note_seq", "torch") if importlib.util.find_spec(m) is None]


def import_tf(threads: int):
    """TensorFlow's v1 API in graph mode, quiet, with ``threads`` intra- and inter-op threads."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")  # pydub's ffmpeg warning, TF deprecation chatter
    import tensorflow.compat.v1 as tf

    tf.get_logger().setLevel("ERROR")
    tf.disable_v2_behavior()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def session_config(tf, threads: int):
    return tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)


# --------------------------------------------------------------------------- timing


def alternate(
    contenders: dict[str, Callable[[], object]], rounds: int, min_time: float
) -> dict[str, list[float]]:
    """Seconds per call of each contender in each round; rounds alternate the contenders.

    Every contender is called once untimed first (graph optimisation, oneDNN primitives, allocators); a
    round repeats a contender's calls for at least ``min_time`` seconds (at least one call).
    """
    for fn in contenders.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            calls, start = 0, time.perf_counter()
            while True:
                fn()
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_time:
                    break
            times[name].append(elapsed / calls)
    return times


def rate_line(label: str, times: dict[str, list[float]], items: int, unit: str, reference: str) -> str:
    """One printed line: median (best) items/s per contender and its ratio to ``reference``'s median."""
    med = {k: items / statistics.median(v) for k, v in times.items()}
    best = {k: items / min(v) for k, v in times.items()}
    parts = [
        f"{k} {med[k]:7.1f} (best {best[k]:7.1f})"
        + ("" if k == reference else f" {med[k] / med[reference]:.2f}x")
        for k in times
    ]
    return f"{label}: " + " | ".join(parts) + f" {unit}; load {load_average()}"


# --------------------------------------------------------------------------- training step


def train_configs(args: argparse.Namespace):
    """(architecture, train config) both contenders train with: ``--train-preset`` with ``--batch`` and, given
    ``--sampling``, a constant scheduled-sampling probability (else the preset's schedule)."""
    from musicneurons.training.config import TRAIN_PRESETS

    arch, cfg = TRAIN_PRESETS[args.train_preset]
    if arch.hierarchical:
        raise SystemExit(f"--train-preset {args.train_preset}: Magenta's side here is the flat 2-bar model")
    overrides: dict = {"batch_size": args.batch}
    if args.sampling is not None:
        overrides.update(sampling_schedule="constant", sampling_rate=args.sampling)
    return arch, dataclasses.replace(cfg, **overrides)


def magenta_train_step(tf, threads: int, arch, cfg, onehot) -> tuple[Callable[[], float], object]:
    """Magenta's training graph at the sizes of ``arch`` with the hparams of ``cfg``; returns (one step ->
    loss, session)."""
    from magenta.models.music_vae import configs, lstm_models, music_vae_train
    from magenta.models.music_vae.base_model import MusicVAE as MagentaVAE

    batch = cfg.batch_size
    config = configs.update_config(
        configs.CONFIG_MAP["cat-mel_2bar_small"],
        {"model": MagentaVAE(lstm_models.BidirectionalLstmEncoder(), lstm_models.CategoricalLstmDecoder())},
    )
    config = copy.deepcopy(config)
    hp = config.hparams
    for name, value in {
        "batch_size": batch,
        "max_seq_len": arch.max_seq_len,
        "z_size": arch.z_size,
        "enc_rnn_size": list(arch.enc_rnn_size),
        "dec_rnn_size": list(arch.dec_rnn_size),
        **{k: getattr(cfg, k) for k in ("free_bits", "max_beta", "beta_rate", "sampling_schedule")},
        **{k: getattr(cfg, k) for k in ("sampling_rate", "learning_rate", "decay_rate", "min_learning_rate")},
        **{k: getattr(cfg, k) for k in ("grad_clip", "grad_norm_clip_to_zero")},
    }.items():
        setattr(hp, name, value)
    assert config.data_converter.output_depth == arch.num_classes
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        lengths = [arch.max_seq_len] * batch
        controls = onehot[:, :, :0]
        dataset = tf.data.Dataset.from_tensors((onehot, onehot, controls, lengths)).repeat()
        model = config.model
        model.build(hp, config.data_converter.output_depth, is_training=True)
        optimizer = model.train(**music_vae_train._get_input_tensors(dataset, config))
        grads, variables = zip(*optimizer.compute_gradients(model.loss), strict=True)
        norm = tf.global_norm(grads)
        clipped = tf.cond(
            norm < hp.grad_norm_clip_to_zero,
            lambda: tf.clip_by_global_norm(grads, hp.grad_clip, use_norm=norm)[0],
            lambda: [tf.zeros(tf.shape(g)) for g in grads],
        )
        train_op = optimizer.apply_gradients(
            zip(clipped, variables, strict=True), global_step=model.global_step
        )
        sess = tf.Session(graph=graph, config=session_config(tf, threads))
        sess.run(tf.global_variables_initializer())

    def step() -> float:
        return float(sess.run([train_op, model.loss])[1])

    return step, sess


def run_train(tf, args: argparse.Namespace, bf16: bool) -> None:
    import numpy as np
    import torch

    from musicneurons.device import configure_cpu_numerics
    from musicneurons.model.musicvae import MusicVAE
    from musicneurons.training.loop import train_step
    from musicneurons.training.optim import TFAdam
    from musicneurons.training.parallel import part_runner

    configure_cpu_numerics()
    arch, cfg = train_configs(args)
    batch = cfg.batch_size
    x = np.random.default_rng(0).integers(0, arch.num_classes, size=(batch, arch.max_seq_len))
    onehot = np.eye(arch.num_classes, dtype=np.float32)[x]
    magenta_step, sess = magenta_train_step(tf, args.threads, arch, cfg, onehot)
    xt = torch.as_tensor(x, dtype=torch.long)
    contenders: dict[str, Callable[[], float]] = {"Magenta": magenta_step}
    losses: dict[str, list[float]] = {"Magenta": []}
    for name, use_bf16 in (("ours fp32", False), ("ours bf16", True)):
        if use_bf16 and not bf16:
            continue
        model = MusicVAE(arch, generator=torch.Generator().manual_seed(0))
        opt = TFAdam(model.parameters())
        step_cfg = dataclasses.replace(cfg, bf16=use_bf16)
        counter = iter(range(10**9))

        def ours(model=model, opt=opt, step_cfg=step_cfg, counter=counter) -> float:
            # the batch's parts on worker threads, as `musicneurons train` runs them
            with part_runner(step_cfg.batch_parts, torch.device("cpu")) as runner:
                return float(train_step(model, opt, xt, next(counter), step_cfg, runner)[0]["loss"])

        contenders[name] = ours
        losses[name] = []

    def logged(name: str, fn: Callable[[], float]) -> Callable[[], None]:
        return lambda: losses[name].append(fn())

    times = alternate({k: logged(k, f) for k, f in contenders.items()}, args.steps, 0.0)
    label = f"train {args.train_preset} batch {batch}"
    label += f", scheduled sampling p = {args.sampling:g}" if args.sampling is not None else ""
    label += f" ({args.steps} steps each)"
    print(rate_line(label, times, batch, "ex/s", "Magenta"), flush=True)
    print(
        "  loss first -> last step: "
        + ", ".join(f"{k} {v[0]:.2f} -> {v[-1]:.2f}" for k, v in losses.items()),
        flush=True,
    )
    sess.close()


# --------------------------------------------------------------------------- the cat-mel_2bar_big bundle


def big_config(batch: int):
    from magenta.models.music_vae import configs

    config = copy.deepcopy(configs.CONFIG_MAP[BIG])
    config.data_converter.set_mode("infer")
    config.hparams.batch_size = batch
    return config


def build_bundle(tf, prefix: Path, seed: int = 0) -> None:
    """Write a seeded, randomly initialised cat-mel_2bar_big bundle with Magenta's own graph and Saver."""
    config = big_config(1)
    hp, converter = config.hparams, config.data_converter
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        model = config.model
        model.build(hp, converter.output_depth, is_training=False)
        # the same variables TrainedModel's graph holds: the sampling decoder and the posterior
        model.sample(
            1,
            max_length=tf.placeholder(tf.int32, shape=()),
            z=tf.placeholder(tf.float32, shape=[1, hp.z_size]),
            c_input=None,
            temperature=tf.placeholder(tf.float32, shape=()),
        )
        model.encode(
            tf.placeholder(tf.float32, shape=[1, None, converter.input_depth]),
            tf.placeholder(tf.int32, shape=[1]),
            tf.placeholder(tf.float32, shape=[1, None, converter.control_depth]),
        )
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            prefix.parent.mkdir(parents=True, exist_ok=True)
            tf.train.Saver().save(sess, str(prefix), write_meta_graph=False)
    info = {"config": BIG, "seed": seed, "tensorflow": tf.__version__}
    (prefix.parent / "bundle.json").write_text(json.dumps(info, indent=1))


def bundle_prefix(tf, cache: Path) -> Path:
    prefix = cache / f"{BIG}.ckpt"
    if not Path(f"{prefix}.index").exists():
        start = time.perf_counter()
        build_bundle(tf, prefix)
        print(f"built {prefix}.* with Magenta's graph in {time.perf_counter() - start:.1f} s", flush=True)
    size = Path(f"{prefix}.data-00000-of-00001").stat().st_size
    print(f"bundle {prefix} ({size / 1e6:.0f} MB)", flush=True)
    return prefix


def magenta_model(prefix: Path, batch: int):
    from magenta.models.music_vae.trained_model import TrainedModel as MagentaTrained

    return MagentaTrained(big_config(batch), batch, checkpoint_dir_or_path=str(prefix))


def run_load(prefix: Path, args: argparse.Namespace) -> None:
    from musicneurons import load_model

    def magenta() -> None:
        magenta_model(prefix, args.encode_batches[-1])._sess.close()

    def ours() -> None:
        load_model(prefix, device="cpu")

    contenders = {"Magenta": magenta, "ours": ours}
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(args.load_repeat):
        for name, fn in contenders.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    parts = [
        f"{k} first {v[0]:.2f} s, best {min(v):.2f} s, median {statistics.median(v):.2f} s"
        for k, v in times.items()
    ]
    ratio = statistics.median(times["ours"]) / statistics.median(times["Magenta"])
    print(
        f"load {BIG} bundle ({args.load_repeat} each): "
        + " | ".join(parts)
        + f" (ours/Magenta {ratio:.2f}x); "
        f"load {load_average()}",
        flush=True,
    )


# --------------------------------------------------------------------------- encoding


def run_encode(prefix: Path, args: argparse.Namespace, bf16: bool) -> None:
    import numpy as np

    from musicneurons import load_model
    from musicneurons.model.inference import TrainedModel

    ours32 = load_model(prefix, device="cpu")
    ours = {"ours fp32": ours32}
    if bf16:
        ours["ours bf16"] = TrainedModel(ours32.module, device="cpu", precision="bf16")
    steps, classes = ours32.config.max_seq_len, ours32.config.num_classes
    rng = np.random.default_rng(1)
    for batch in args.encode_batches:
        tm = magenta_model(prefix, batch)
        windows = rng.integers(0, classes, size=(batch, steps))
        onehot = list(np.eye(classes, dtype=np.float32)[windows])
        lengths = [steps] * batch
        contenders: dict[str, Callable[[], object]] = {
            "Magenta": lambda tm=tm, onehot=onehot, lengths=lengths: tm.encode_tensors(list(onehot), lengths)
        }
        for name, model in ours.items():
            contenders[name] = lambda model=model, windows=windows, batch=batch: model.encode(
                windows, batch_size=batch
            )
        times = alternate(contenders, args.rounds, args.min_time)
        print(rate_line(f"encode {BIG} batch {batch}", times, batch, "melodies/s", "Magenta"), flush=True)
        if batch == args.encode_batches[0]:
            agreement(tm, ours, windows, onehot, lengths)
        tm._sess.close()
        del tm
        gc.collect()


def agreement(tm, ours: dict, windows, onehot, lengths) -> None:
    """Sanity: mu of Magenta's graph and ours on the same bundle and windows."""
    import numpy as np

    _, mu_tf, sigma_tf = tm.encode_tensors(list(onehot), lengths)
    line = [
        f"Magenta max |mu| {np.abs(mu_tf).max():.2e}, sigma in [{sigma_tf.min():.3f}, {sigma_tf.max():.3f}]"
    ]
    for name, model in ours.items():
        _, mu, sigma = model.encode(windows)
        d_mu, d_sigma = np.abs(mu - mu_tf).max(), np.abs(sigma - sigma_tf).max()
        line.append(f"{name} max |d mu| {d_mu:.2e}, max |d sigma| {d_sigma:.2e}")
    print("  agreement on the same bundle: " + ", ".join(line), flush=True)


# --------------------------------------------------------------------------- driver


def measure(args: argparse.Namespace) -> None:
    tf = import_tf(args.threads)
    import torch

    import musicneurons
    from musicneurons.model.inference import bf16_is_native

    torch.set_num_threads(args.threads)
    bf16 = bf16_is_native(torch.device("cpu")) and not args.no_bf16
    policy = os.environ.get("OMP_WAIT_POLICY", "unset (OpenMP's default: spin-wait)")
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")
    print(
        f"CPU {cpu_model()}, {os.cpu_count()} cores; threads {args.threads} (TF intra/inter-op and torch); "
        f"OMP_WAIT_POLICY {policy}; TensorFlow {tf.__version__} (TF_ENABLE_ONEDNN_OPTS {onednn}), "
        f"torch {torch.__version__}; "
        f"bf16 {'native' if bf16 else 'skipped (not native here or --no-bf16)'}; load {load_average()}\n"
        f"musicneurons from {Path(musicneurons.__file__).parent}",
        flush=True,
    )
    if "train" in args.parts:
        run_train(tf, args, bf16)
    if "load" in args.parts or "encode" in args.parts:
        prefix = bundle_prefix(tf, Path(args.cache))
        if "load" in args.parts:
            run_load(prefix, args)
        if "encode" in args.parts:
            run_encode(prefix, args, bf16)
    print(f"load average at the end {load_average()}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--magenta-src", default=os.environ.get("MAGENTA_SRC"), help="holds magenta/, note-seq/"
    )
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the bundle is built once")
    parser.add_argument("--parts", default="train,load,encode", help="comma-separated: train, load, encode")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=128, help="training batch")
    parser.add_argument("--train-preset", default=TRAIN_PRESET, help="the preset both contenders train")
    parser.add_argument(
        "--sampling", type=float, default=None, help="constant scheduled-sampling probability (both)"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per contender")
    parser.add_argument("--load-repeat", type=int, default=3)
    parser.add_argument("--encode-batches", default="64,256")
    parser.add_argument("--rounds", type=int, default=3, help="alternating encode rounds")
    parser.add_argument("--min-time", type=float, default=3.0, help="seconds per contender per encode round")
    parser.add_argument("--no-bf16", action="store_true", help="skip our bf16 contenders")
    add_policy_option(parser, "both")
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    args.encode_batches = [int(b) for b in args.encode_batches.split(",")]
    return args


def main() -> int:
    args = parse_args()
    add_magenta_sources(args.magenta_src)
    missing = missing_modules()
    if missing:
        print(f"not importable: {', '.join(missing)}\n{SETUP_HINT}")
        return 0
    if args.policy == "current":
        measure(args)
        return 0
    rerun_per_wait_policy(args.policy, __file__, sys.argv[1:], "--policy", "current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
