"""Training loop: Adam, a learning-rate schedule, early stopping on the whole validation split,
an atomic checkpoint every epoch, resume, and a progress bar showing the losses.

A checkpoint holds everything the next epoch depends on (weights, optimiser and schedule,
the NumPy, Python and torch random states) and the settings it was trained with, so a
resumed run equals an uninterrupted one, and a resume with other settings is refused. A
killed run leaves ``<output>.training/`` with the last completed epoch's checkpoint (and at
most one ``.checkpoint.pt.<8 characters>.tmp``, removed by the next run); ``--resume``
continues from it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..atomic import atomic_path, remove_stale, write_text
from ..data.dataset import TrainingSet
from .config import ModelConfig, TrainConfig
from .losses import active_units, series_distance, vae_loss
from .vae import PELSVAE, batch_from

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"
#: Settings a resume may change: training longer, stopping later, running elsewhere.
#: (The learning-rate schedule is the checkpoint's: a cosine keeps its original length.)
RESUMABLE = ("train.epochs", "train.patience", "train.device")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_scheduler(optimizer, cfg: TrainConfig):
    if cfg.scheduler == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    return None


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int = -1


def check_reconstruction(model_cfg: ModelConfig, cfg: TrainConfig) -> None:
    """The "fourier" reconstruction compares the decoder's series with the one the encoder
    reads: it needs a Fourier decoder whose curve is its series itself (a sigmoid would bend
    it) and a Fourier encoder of the same order."""
    order = model_cfg.decoder_fourier_order
    if cfg.reconstruction == "fourier" and not (order and model_cfg.curve_output == "linear"
                                                and model_cfg.encoder_fourier_order == order):
        raise ValueError("train setting reconstruction = \"fourier\" needs a Fourier decoder with a "
                         "linear output and a Fourier encoder of the same order (model settings "
                         "decoder_fourier_order = encoder_fourier_order and curve_output = \"linear\")")


def batch_loss(model: PELSVAE, batch, cfg: TrainConfig, beta: float, sample: bool):
    """The loss terms of one batch (:func:`~.losses.vae_loss`), with the reconstruction term
    ``cfg.reconstruction`` names, and the posterior means."""
    out = model.reconstruct(batch, sample)
    reconstruction = (series_distance(out.series[:, 0], out.observed, cfg.error_floor)
                      if cfg.reconstruction == "fourier" else None)
    terms = vae_loss(batch.mag, out.mag, batch.err, out.err, batch.mask, out.mu, out.logvar, beta,
                     cfg.error_weight, cfg.error_floor, reconstruction)
    return terms, out.mu


def evaluate_loss(model: PELSVAE, data: TrainingSet, cfg: TrainConfig, device,
                  batch_size: int = 1024) -> dict[str, float]:
    """Mean loss terms over a whole split, decoding from the posterior mean (no sampling)."""
    model.eval()
    sums, mus = {}, []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = batch_from(data, slice(start, start + batch_size)).to(device)
            terms, mu = batch_loss(model, batch, cfg, cfg.beta, sample=False)
            terms = terms.as_floats()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value * len(batch.cls)
            mus.append(mu.cpu())
    result = {k: v / len(data) for k, v in sums.items()}
    result["active_units"] = active_units(torch.cat(mus))
    return result


def training_set_digest(data: TrainingSet) -> str:
    """A digest of every array of a training set the network trains on: another cache, split
    or augmentation gives another digest. The subtype labels are left out: the network never
    reads them (the physics fit does), so a checkpoint written before they were kept resumes."""
    digest = hashlib.sha256(json.dumps([data.classes, data.bands]).encode())
    for name, value in sorted(vars(data).items()):
        if isinstance(value, np.ndarray) and name != "subtype":
            value = value.astype(str) if value.dtype == object else value  # not the pointers
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()[:16]


def training_settings(data: TrainingSet, model_cfg: ModelConfig, cfg: TrainConfig,
                      data_config: dict | None = None) -> dict:
    """What a run depends on, by ``section.name`` as ``--set`` names it, and the training set's
    digest as ``data.training_set``; in JSON's form, as the checkpoint stores it."""
    settings = {**{f"data.{k}": v for k, v in (data_config or {}).items()},
                "data.training_set": training_set_digest(data),
                **{f"model.{k}": v for k, v in model_cfg.to_dict().items()},
                **{f"train.{k}": v for k, v in cfg.to_dict().items()}}
    return json.loads(json.dumps(settings))


def _check_resumable(path: Path, saved: dict | None, settings: dict) -> None:
    """Refuse to resume under settings other than the checkpoint's, naming each change."""
    if saved is None:
        raise ValueError(f"{path} records no settings (an older pelsvae wrote it), so a resume "
                         f"cannot be checked; delete {path.parent} to start afresh")
    changed = [f"{key} ({saved.get(key)!r} -> {settings.get(key)!r})"
               for key in sorted(set(saved) | set(settings))
               if key not in RESUMABLE and saved.get(key) != settings.get(key)]
    if changed:
        raise ValueError(f"--resume: the settings differ from those of {path}: "
                         f"{'; '.join(changed)}; resume with the checkpoint's settings or delete "
                         f"{path.parent} to start afresh")


def _save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int, history: History,
                     best_state: dict, rng: np.random.Generator, settings: dict) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict() if scheduler else {},
             "epoch": epoch, "best_state": best_state, "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
             "rng": json.dumps({"numpy": rng.bit_generator.state, "python": random.getstate()}),
             "settings": json.dumps(settings), "history": json.dumps(vars(history))}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _restore_random_state(state: dict, rng: np.random.Generator) -> None:
    """Put every random generator where the checkpointed epoch left it."""
    saved = json.loads(state["rng"])
    rng.bit_generator.state = saved["numpy"]
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])


def fit(data: TrainingSet, model_cfg: ModelConfig, cfg: TrainConfig, work_dir: Path,
        resume: bool = False, progress: bool = True,
        data_config: dict | None = None) -> tuple[PELSVAE, History]:
    """Train on the ``train`` split, stop early on the ``val`` loss, return the best model.

    ``work_dir`` receives ``checkpoint.pt`` after every epoch and ``history.json``.
    ``data_config``: the settings the training set was built with (``DatasetConfig.to_dict()``),
    recorded so that a resume names a changed ``data.*`` setting; without it a changed
    training set is still refused, as ``data.training_set``.
    """
    check_reconstruction(model_cfg, cfg)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(work_dir, [CHECKPOINT, HISTORY])
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    train, val = data.split_part("train"), data.split_part("val")
    if not len(train) or not len(val):
        raise ValueError("training needs curves in both the train and val splits")
    model = PELSVAE(model_cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = make_scheduler(optimizer, cfg)
    history, start_epoch = History(), 0
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    checkpoint = work_dir / CHECKPOINT
    settings = training_settings(data, model_cfg, cfg, data_config)
    rng = np.random.default_rng(cfg.seed)
    if resume and checkpoint.is_file():
        try:
            state = torch.load(checkpoint, map_location=device, weights_only=True)
        except Exception as error:  # torch.load fails in many ways on a damaged file
            raise ValueError(f"{checkpoint} cannot be read ({type(error).__name__}); delete "
                             f"{work_dir} to start afresh") from None
        _check_resumable(checkpoint, json.loads(state["settings"]) if "settings" in state else None,
                         settings)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler:
            scheduler.load_state_dict(state["scheduler"])
        _restore_random_state(state, rng)
        history = History(**json.loads(state["history"]))
        best_state, start_epoch = state["best_state"], state["epoch"] + 1
        log.info("resuming from epoch %d of %s", start_epoch, checkpoint)

    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        started = time.perf_counter()
        order = rng.permutation(len(train))
        bar = tqdm(range(0, len(train), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   unit="batch", disable=not progress, leave=False)
        running = 0.0
        beta = cfg.beta * min(1.0, (epoch + 1) / max(cfg.kl_warmup_epochs, 1))
        for k, start in enumerate(bar):
            batch = batch_from(train, order[start:start + cfg.batch_size]).to(device)
            terms, _ = batch_loss(model, batch, cfg, beta, sample=True)
            optimizer.zero_grad()
            terms.total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            running += (float(terms.total.detach()) - running) / (k + 1)
            bar.set_postfix(loss=f"{running:.3f}", kl=f"{float(terms.kl.detach()):.2f}")
        seconds = time.perf_counter() - started
        val_terms = evaluate_loss(model, val, cfg, device)
        if scheduler is not None:
            scheduler.step(val_terms["total"]) if cfg.scheduler == "plateau" else scheduler.step()
        record = {"epoch": epoch + 1, "train_total": running, "beta": beta,
                  "seconds": round(seconds, 2),
                  "curves_per_second": round(len(train) / seconds, 1),
                  "learning_rate": optimizer.param_groups[0]["lr"],
                  **{f"val_{k}": v for k, v in val_terms.items()}}
        history.epochs.append(record)
        if val_terms["total"] < history.best_val:
            history.best_val, history.best_epoch = val_terms["total"], epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        _save_checkpoint(checkpoint, model, optimizer, scheduler, epoch, history, best_state, rng,
                         settings)
        write_text(work_dir / HISTORY, json.dumps(vars(history), indent=1))
        if progress:
            tqdm.write(f"epoch {epoch + 1}: train {running:.4f}  val {val_terms['total']:.4f} "
                       f"(mse {val_terms['reconstruction']:.3f}, kl {val_terms['kl']:.2f}, "
                       f"active {val_terms['active_units']}/{model_cfg.latent_dim})  "
                       f"{record['curves_per_second']:.0f} curves/s")
        if epoch + 1 - history.best_epoch >= cfg.patience:
            log.info("early stop: no validation improvement for %d epochs", cfg.patience)
            break
    model.load_state_dict(best_state)
    # Back on the CPU, where models are evaluated, saved and served, whatever trained them.
    return model.cpu().eval(), history
