"""`dacon train`: train DACoN segment features on synthetic or PaintBucket pairs.

Loss = w_ce * L_ce + w_dc * L_dc (paper: 0.5 and 0.2; L_dc only with a DINOv2 branch),
Adam at a constant learning rate (paper: 1e-4). The run folder holds:
    last.pt      model + optimizer + step, rewritten atomically every ``ckpt_every`` steps
    train.jsonl  one JSON line per logged step (loss terms, seconds per step, validation)
    config.json  the run's configuration
Training resumes from ``last.pt`` when it exists; the data stream is re-seeded from the
step, so a resumed run sees new pairs instead of replaying old ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DaconError
from ..fileio.files import atomic_path, atomic_write_text
from ..model.devices import bf16_is_fast
from ..model.network import DaconConfig, DaconNet
from ..model.pooling import plan_pooling, pool_segments
from .data import PaintBucketPairs, SynthPairs, TrainFrame, TrainPair, parallel_pairs, synth_pairs
from .losses import color_ce_loss, cosine, dino_consistency_loss


@dataclass
class TrainConfig:
    run_dir: str
    data: str = "synth"               # "synth" or a PaintBucket-Character v2 train root
    steps: int = 1000
    batch: int = 2                    # pairs per step
    lr: float = 1e-4
    seed: int = 0
    size: int | list[int] = 384       # synthetic frame size(s) (px); one picked per pair
    keyframe_fraction: float = 0.5
    warp_fraction: float = 0.0        # synthetic pairs whose target warps the source itself
    degrade_fraction: float = 0.0     # chance a target's lines are exported anti-aliased etc.
    new_shape_fraction: float = 0.0   # pairs where new closed shapes appear inside regions
    closeup_fraction: float = 0.0     # pairs with a close-up (zoomed, cropped) frame
    data_workers: int = 0             # processes making training pairs (0 = the loop's own)
    max_minutes: float = 0.0          # stop (and save) after this wall time; 0 = no limit
    w_ce: float = 0.5
    w_dc: float = 0.2
    ckpt_every: int = 25
    log_every: int = 5
    val_every: int = 100
    val_pairs: int = 16
    threads: int = 0                  # torch threads (0 = leave as is)
    device: str = "cpu"
    dinov2_weights: str | None = None
    init: str | None = None           # warm start: weights of a checkpoint (fresh optimizer)
    amp: bool | None = None           # bf16 autocast; None = where the device runs bf16 natively
    model: dict = field(default_factory=lambda: {"mode": "unet", "unet_base": 16,
                                                 "unet_input": 384})


def build_net(cfg: TrainConfig) -> DaconNet:
    """The network to train; a DINOv2 branch sets the head input width from its weights."""
    mcfg = DaconConfig.from_dict(dict(cfg.model))
    backbone = None
    if mcfg.uses_dino:
        from ..model.weights import load_dinov2

        backbone = load_dinov2(cfg.dinov2_weights, norm=mcfg.dino_norm)
        mcfg.dino_dim = backbone.embed_dim
    return DaconNet(mcfg, backbone)


def pair_stream(cfg: TrainConfig, start_step: int) -> Iterator[TrainPair]:
    seed = cfg.seed * 1_000_003 + start_step
    if cfg.data == "synth":
        sizes = (cfg.size,) if isinstance(cfg.size, int) else tuple(cfg.size)
        pairs = SynthPairs(seed, sizes, cfg.keyframe_fraction, cfg.warp_fraction,
                           cfg.degrade_fraction, cfg.new_shape_fraction,
                           cfg.closeup_fraction)
    else:
        pairs = PaintBucketPairs(cfg.data, seed)
    return parallel_pairs(pairs, cfg.data_workers)


def scatter_mean(feat: torch.Tensor, labels: np.ndarray, n: int) -> torch.Tensor:
    """Mean of a (C, H, W) map over each label 1..n of an HxW label map of the same size.

    The training fast path of segment pooling: when the map already has the frame's size
    the capped-grid pooling reduces to this exact per-pixel mean.
    """
    c = feat.shape[0]
    idx = torch.from_numpy(labels.astype(np.int64).ravel()).to(feat.device)
    sums = feat.new_zeros(n + 1, c).index_add_(0, idx, feat.reshape(c, -1).T)
    counts = torch.bincount(idx, minlength=n + 1).clamp_min(1).to(feat.dtype)
    return (sums / counts[:, None])[1:]


def frame_features(net: DaconNet, frames: Sequence[TrainFrame], device: torch.device,
                   amp: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    """Fused (n_i, D) features with gradients, plus raw pooled DINO features (or None).

    amp: run the network under bf16 autocast (pooling and losses stay float32).
    """
    from ..model.featurizer import net_inputs

    per = [net_inputs(net, f.line, device) for f in frames]
    inputs = {k: torch.cat([p[k] for p in per], 0) for k in per[0]}
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        maps = net.feature_maps(inputs)
    maps = {k: v.float() for k, v in maps.items()}
    fused, dino = [], []
    for j, f in enumerate(frames):
        pooled = {}
        plan = None
        for k, m in maps.items():
            if m.shape[-2:] == f.labels.shape:
                pooled[k] = scatter_mean(m[j].float(), f.labels, f.n_segments)
            else:
                plan = plan or plan_pooling(f.labels, f.n_segments, net.config.pool_cap)
                pooled[k] = pool_segments(m[j].float(), plan)
        fused.append(net.fuse(pooled.get("dino"), pooled.get("unet")).float())
        dino.append(pooled["dino"].detach() if "dino" in pooled else None)
    return fused, dino


def pair_losses(net: DaconNet, pairs: Sequence[TrainPair], device: torch.device,
                amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean L_ce and L_dc over pairs (target rows vs all source segments)."""
    frames = [f for p in pairs for f in (p.source, p.target)]
    fused, dino = frame_features(net, frames, device, amp)
    ce, dc = [], []
    for k, p in enumerate(pairs):
        fs, ft = fused[2 * k], fused[2 * k + 1]
        sim = cosine(ft, fs)
        src_c = torch.from_numpy(p.source.color_ids()).to(device)
        tgt_c = torch.from_numpy(p.target.color_ids()).to(device)
        ce.append(color_ce_loss(sim, src_c, tgt_c))
        if dino[2 * k] is not None:
            dc.append(dino_consistency_loss(sim, cosine(dino[2 * k + 1], dino[2 * k])))
    zero = torch.zeros((), device=device)
    return torch.stack(ce).mean(), (torch.stack(dc).mean() if dc else zero)


@torch.no_grad()
def pair_accuracy(net: DaconNet, pairs: Sequence[TrainPair], device: torch.device) -> float:
    """Segment accuracy (exact color of the best match) over target segments of ``pairs``."""
    net.eval()
    right = total = 0
    for p in pairs:
        fused, _ = frame_features(net, [p.source, p.target], device)
        sim = cosine(fused[1], fused[0])
        pred = p.source.colors[sim.argmax(1).cpu().numpy()]
        right += int(np.all(pred == p.target.colors, axis=1).sum())
        total += p.target.n_segments
    net.train()
    return right / max(total, 1)


def validation_pairs(cfg: TrainConfig) -> dict[str, list[TrainPair]]:
    """Fixed held-out pairs (seeds far from any training seed), made by the data workers
    when there are any (the same pairs either way)."""
    size = cfg.size if isinstance(cfg.size, int) else max(cfg.size)
    regimes = ("consecutive", "keyframe")
    jobs = [(10**9 + 7919 * i + (regime == "keyframe"), size, regime)
            for regime in regimes for i in range(cfg.val_pairs)]
    pairs = synth_pairs(jobs, cfg.data_workers)
    n = cfg.val_pairs
    return {regime: pairs[k * n:(k + 1) * n] for k, regime in enumerate(regimes)}


def check_config(cfg: TrainConfig) -> None:
    """Refuse values training cannot honour (DaconError naming the option) before any work."""
    def bad(option: str, value: object, allowed: str) -> DaconError:
        return DaconError(None, f"{option} {value}: {allowed}")

    if isinstance(cfg.steps, bool) or not isinstance(cfg.steps, int) or cfg.steps < 1:
        raise bad("--steps", cfg.steps, "must be a whole number >= 1")
    if isinstance(cfg.batch, bool) or not isinstance(cfg.batch, int) or cfg.batch < 1:
        raise bad("--batch", cfg.batch, "must be a whole number >= 1")
    if not (isinstance(cfg.lr, (int, float)) and 0 <= cfg.lr <= 1):  # 0 (API): frozen weights
        raise bad("--lr", cfg.lr, "must be a number from 0 to 1")
    for option, value in (("--keyframe-fraction", cfg.keyframe_fraction),
                          ("--warp-fraction", cfg.warp_fraction),
                          ("--degrade-fraction", cfg.degrade_fraction),
                          ("--new-shape-fraction", cfg.new_shape_fraction),
                          ("--closeup-fraction", cfg.closeup_fraction)):
        if not 0 <= value <= 1:
            raise bad(option, value, "must be a number from 0 to 1")
    sizes = cfg.size if isinstance(cfg.size, list) else [cfg.size]
    if not sizes or any(not isinstance(v, int) or v < 64 for v in sizes):
        raise bad("--size", cfg.size, "must be whole numbers of pixels >= 64")
    unet_input = int(cfg.model.get("unet_input", 384))
    if unet_input < 16 or unet_input % 16:
        raise bad("--unet-input", unet_input, "must be a whole number >= 16 and a multiple of 16")
    if int(cfg.model.get("unet_base", 16)) < 1:
        raise bad("--unet-base", cfg.model.get("unet_base"), "must be a whole number >= 1")
    if not (isinstance(cfg.max_minutes, (int, float)) and cfg.max_minutes >= 0):
        raise bad("--max-minutes", cfg.max_minutes, "must be a number >= 0 (0: no limit)")
    if cfg.threads < 0:
        raise bad("--threads", cfg.threads, "must be a whole number >= 0")
    if isinstance(cfg.data_workers, bool) or not isinstance(cfg.data_workers, int) \
            or cfg.data_workers < 0:
        raise bad("--data-workers", cfg.data_workers, "must be a whole number >= 0")
    if cfg.data != "synth" and not Path(cfg.data).is_dir():
        raise DaconError(cfg.data, "no such training data folder (--data: 'synth' or a "
                                   "PaintBucket-Character v2 training root)")
    if cfg.init and not Path(cfg.init).is_file():
        raise DaconError(cfg.init, "no such checkpoint (--init)")
    if cfg.dinov2_weights and not Path(cfg.dinov2_weights).exists():
        raise DaconError(cfg.dinov2_weights, "no such DINOv2 weight file (--dinov2-weights)")


def train(cfg: TrainConfig, *, quiet: bool = False) -> Path:
    """Run (or resume) training; returns the path of ``last.pt``."""
    from ..model.devices import check_device

    deadline = time.monotonic() + 60 * cfg.max_minutes if cfg.max_minutes else float("inf")
    device = check_device(cfg.device)  # everything is checked before the run folder exists
    check_config(cfg)
    run = Path(cfg.run_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = build_net(cfg).to(device).train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    last = run / "last.pt"
    step = 0
    if last.is_file():
        state = torch.load(last, map_location=device, weights_only=True)
        net.load_heads(state["state_dict"], last)
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
    elif cfg.init:
        from ..model.weights import read_state_dict

        sd, _ = read_state_dict(cfg.init)
        net.load_heads(sd, cfg.init)
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DaconError(run, f"cannot create the run folder ({e.strerror or e})") from None
    atomic_write_text(run / "config.json", json.dumps(asdict(cfg), indent=2))
    stream = pair_stream(cfg, step)
    amp = bf16_is_fast(device) if cfg.amp is None else cfg.amp
    val = validation_pairs(cfg) if cfg.val_every and cfg.data == "synth" else {}
    log = (run / "train.jsonl").open("a")
    t0, logged = time.perf_counter(), step
    saved = step
    try:
        while step < cfg.steps:
            pairs = [next(stream) for _ in range(cfg.batch)]
            ce, dc = pair_losses(net, pairs, device, amp)
            loss = cfg.w_ce * ce + (cfg.w_dc * dc if net.dino is not None else 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            # the last step of the run: --steps reached or --max-minutes spent
            final = step == cfg.steps or time.monotonic() >= deadline
            row: dict = {}
            if step % cfg.log_every == 0 or final:
                dt = (time.perf_counter() - t0) / (step - logged)
                row = {"step": step, "loss": loss.item(), "ce": ce.item(), "dc": dc.item(),
                       "sec_per_step": round(dt, 3), "time": time.time()}
                t0, logged = time.perf_counter(), step
            if val and (step % cfg.val_every == 0 or final):
                row.update({"step": step, **{f"val_acc_{k}": round(pair_accuracy(net, v, device), 4)
                                              for k, v in val.items()}})
            if row:
                log.write(json.dumps(row) + "\n")
                log.flush()
                if not quiet:
                    print(json.dumps(row), flush=True)
            if step % cfg.ckpt_every == 0 or final:
                save_training_state(net, opt, step, cfg, last)
                saved = step
            if final:
                break
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM from `dacon train`: keep the steps done
        if step > saved:
            save_training_state(net, opt, step, cfg, last)
        raise
    finally:
        log.close()
    return last


def save_training_state(net: DaconNet, opt: torch.optim.Optimizer, step: int,
                        cfg: TrainConfig, path: Path) -> None:
    state = {"format": "dacon-engine-train", "step": step, "config": net.config.to_dict(),
             "train_config": asdict(cfg), "state_dict": net.head_state_dict(),
             "optimizer": opt.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def export_model(train_state: str | Path, dest: str | Path, card: dict | None = None,
                 config: dict | None = None) -> None:
    """Write a shipping checkpoint: trainable weights stored as float16 (half the size;
    loaded back into float32 parameters), config and card; no optimizer, no backbone.
    ``config``: inference settings that override the trained ones (e.g. unet_input)."""
    from ..model.registry import FORMAT

    state = torch.load(train_state, map_location="cpu", weights_only=True)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    cfg = DaconConfig.from_dict({**state["config"], **(config or {})}).to_dict()
    obj = {"format": FORMAT, "config": cfg, "state_dict": weights,
           "extra": {"step": state["step"], **(card or {})}}
    with atomic_path(dest) as tmp:
        torch.save(obj, tmp)
