"""Hardening (issue 18): every bad input refused in one line naming it, every size bounded.

Grouped by what is validated, so each section reads as the rules it checks:
model folders, network shapes, training resume, cadences, generation (inputs, sizes,
non-detections, decoding), and the command line (with its start-up time).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pelsvae_core import cadences, cli, generation, load_model
from pelsvae_core.data.dataset import TrainingSet
from pelsvae_core.model import decoder, storage, training
from pelsvae_core.model.config import ModelConfig, TrainConfig
from pelsvae_core.model.storage import CHECKSUMS, CONFIG, METADATA, REGRESSORS_FILE, WEIGHTS
from pelsvae_core.model.vae import PELSVAE
from pelsvae_core.paths import REPO_ROOT
from pelsvae_core.physics.regressors import Predictor, save_predictors

CLASSES, BANDS = ("CEP", "RRLYR"), ("I", "V")


def tiny(**overrides) -> ModelConfig:
    settings = {"hidden": 8, "blocks": 2, "decoder_channels": 8, "grid_size": 32,
                "decoder_seed_size": 8, **overrides}
    return ModelConfig(classes=CLASSES, bands=BANDS, **settings)


def linear_predictor(scale=1.0) -> Predictor:
    return Predictor("linear", {"x_mean": np.zeros(2), "x_scale": np.ones(2),
                                "coef": np.full((2, 4), scale), "intercept": np.zeros(4)})


@pytest.fixture
def folder(tmp_path) -> Path:
    """A small, valid model folder with a regressor."""
    torch.manual_seed(0)
    return storage.save_folder(tmp_path / "model", PELSVAE(tiny()), {"note": "test"}, extra_files={
        REGRESSORS_FILE: save_predictors({"CEP/linear": linear_predictor()})})


def rewrite(folder: Path, name: str, content: bytes) -> None:
    """Replace a file and recompute its checksum, as a deliberate tamperer would: what is
    tested is then the check after the checksums."""
    (folder / name).parent.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    sums = json.loads((folder / CHECKSUMS).read_text())
    sums[name] = storage.sha256(folder / name)
    (folder / CHECKSUMS).write_text(json.dumps(sums))


def state_bytes(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def config_with(**model) -> bytes:
    config = json.loads(storage.config_bytes(tiny()))
    config["model"].update(model)
    return json.dumps(config).encode()


# -- model folders -----------------------------------------------------------------------

def test_a_valid_folder_loads(folder):
    model = load_model(folder)
    assert model.config == tiny() and set(model.physics.predictors) == {"CEP/linear"}


@pytest.mark.parametrize("checksums, message", [
    ({}, "files not covered by its checksums"),
    ({"../../../../etc/shadow": "0" * 64}, "names '../../../../etc/shadow', which is not a plain "
                                           "relative path inside the model folder"),
    ({"/etc/passwd": "0" * 64}, "names '/etc/passwd', which is not a plain relative path"),
    ({"report/../config.json": "0" * 64}, "not a plain relative path"),
    ({CONFIG: 5}, "must map file names to SHA-256 digests"),
])
def test_checksums_decide_nothing_outside_the_format(folder, checksums, message, monkeypatch):
    hashed = []
    monkeypatch.setattr(storage, "sha256", lambda path: hashed.append(path) or "")
    (folder / CHECKSUMS).write_text(json.dumps(checksums))
    with pytest.raises(storage.ModelFormatError, match=re.escape(message)):
        load_model(folder)
    assert hashed == []  # refused before any file was read for hashing


def test_files_are_fixed_by_the_format(folder):
    rewrite(folder, "notes.txt", b"hello")
    with pytest.raises(storage.ModelFormatError, match="names 'notes.txt', which is not a file of a "
                       r"model folder \(allowed: config.json, weights.pt, metadata.json, "
                       r"regressors.npz, latents.parquet, inference_calibration.json, report/<file>\)"):
        load_model(folder)
    (folder / "notes.txt").unlink()
    (folder / "report").mkdir()
    (folder / "report" / "link.md").symlink_to("/etc/hostname")
    with pytest.raises(storage.ModelFormatError, match="link.md is a link or a special file"):
        load_model(folder)
    (folder / "report" / "link.md").unlink()
    (folder / METADATA).unlink()
    with pytest.raises(storage.ModelFormatError, match="not a complete model folder: missing "
                       "metadata.json"):
        load_model(folder)
    with pytest.raises(storage.ModelFormatError, match="names '../escape.md', which is not a plain"):
        storage.save_folder(folder, PELSVAE(tiny()), {}, extra_files={"../escape.md": b"x"})


@pytest.mark.parametrize("name, content, message", [
    (CHECKSUMS, b"{not json", "checksums.json is not valid JSON"),
    (CONFIG, b"[1, 2]", "config.json must hold a JSON object, not list"),
    (METADATA, b"[]", "metadata.json must hold a JSON object, not list"),
    (METADATA, b'{"physics": {"classes": {"CEP": 5}}}', r"metadata.json is malformed \("),
    (CONFIG, config_with(latent_dim=1e9), "config.json: model setting latent_dim must be an integer "
                                          r"from 1 to 64, not 1000000000.0; retrain"),
    (CONFIG, config_with(grid_size=2**20), "model setting grid_size must be an integer from 1 to 4096"),
    (CONFIG, config_with(decoder_channels=[8, 10**6, 8]),
     "decoder_channels must be an integer from 1 to 256"),
    (CONFIG, config_with(classes="CEP"), "model setting classes must list 1 to 64 distinct names"),
    (WEIGHTS, b"not a zip", r"weights.pt is not a readable zip archive"),
    (WEIGHTS, state_bytes({"x": Fraction(1, 3)}), r"weights.pt is not a state dict that loads without "
                                                  r"running code \(UnpicklingError\)"),
    (WEIGHTS, state_bytes({"x": torch.zeros(3)}),
     "does not fit the network of config.json: 1 unexpected"),
    (WEIGHTS, state_bytes(PELSVAE(tiny(hidden=16)).state_dict()),
     r"does not fit the network of config.json: \S+ has shape \(16,.*\) where the config gives \(8,"),
    (REGRESSORS_FILE, b"not a zip", "regressors.npz is not a readable zip archive"),
])
def test_malformed_content_is_a_model_format_error_naming_its_file(folder, name, content, message):
    if name == CHECKSUMS:
        (folder / name).write_bytes(content)
    else:
        rewrite(folder, name, content)
    with pytest.raises(storage.ModelFormatError, match=message) as caught:
        load_model(folder)
    assert "\n" not in str(caught.value)


def test_non_finite_weights_and_regressors_are_refused(folder):
    network = PELSVAE(tiny())
    state = network.state_dict()
    key = next(k for k in state if k.endswith("original1"))  # a weight-normalised direction
    rewrite(folder, WEIGHTS, state_bytes({**state, key: torch.zeros_like(state[key])}))
    with pytest.raises(storage.ModelFormatError, match=r"weights.pt gives non-finite weights \(in "):
        load_model(folder)  # a zero direction folds to NaN: refused like NaN itself
    rewrite(folder, WEIGHTS, state_bytes({k: torch.full_like(v, float("nan")) for k, v in state.items()}))
    with pytest.raises(storage.ModelFormatError, match="non-finite weights"):
        load_model(folder)
    rewrite(folder, WEIGHTS, state_bytes(state))
    rewrite(folder, REGRESSORS_FILE, save_predictors({"CEP/linear": linear_predictor(np.inf)}))
    with pytest.raises(storage.ModelFormatError, match="regressors.npz: regressor 'CEP/linear' is of "
                       "an unknown kind or holds non-finite values"):
        load_model(folder)
    buffer = io.BytesIO()
    np.savez(buffer, **{"CEP/linear/__kind__": np.array(["linear"], dtype=object)})
    rewrite(folder, REGRESSORS_FILE, buffer.getvalue())
    with pytest.raises(storage.ModelFormatError, match=r"regressors.npz is malformed \(ValueError: "
                       "Object arrays cannot be loaded"):
        load_model(folder)


def test_sizes_are_bounded_before_anything_is_read(folder, monkeypatch):
    monkeypatch.setattr(storage, "MAX_UNPACKED_BYTES", 2**20)
    with zipfile.ZipFile(folder / REGRESSORS_FILE, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("CEP/linear/coef.npy", bytes(4 * 2**20))  # 4 MiB of zeros in 4 kB
    assert (folder / REGRESSORS_FILE).stat().st_size < 2**15
    rewrite(folder, REGRESSORS_FILE, (folder / REGRESSORS_FILE).read_bytes())
    with pytest.raises(storage.ModelFormatError, match="regressors.npz unpacks to 4 MiB, above the "
                       "1 MiB a model folder may hold"):
        load_model(folder)
    monkeypatch.setattr(storage, "MAX_FILE_BYTES", 2**20)
    rewrite(folder, "report/big.md", bytes(2 * 2**20))
    with pytest.raises(storage.ModelFormatError, match="big.md is larger than 1 MiB, the most a "
                       "model folder's file may be"):
        load_model(folder)
    monkeypatch.setattr(storage, "MAX_JSON_BYTES", 2**20)
    (folder / CHECKSUMS).write_text(" " * 2**21 + "{}")
    with pytest.raises(storage.ModelFormatError, match="checksums.json is larger than 1 MiB"):
        load_model(folder)


def test_interrupted_saves_are_undone_by_the_next_and_modes_follow_the_umask(folder, caplog):
    parent = folder.parent
    os.rename(folder, parent / ".model.old")  # a save killed between its two renames
    for name in (".model.0a1b2c3d", ".other.0a1b2c3d", ".model.keep-me"):
        (parent / name).mkdir()
    with pytest.raises(storage.ModelFormatError, match=r"is not a model folder; an interrupted save "
                       r"left the previous model in \S+/\.model\.old: rename it back"):
        load_model(folder)
    previous = os.umask(0o027)
    try:
        storage.save_folder(folder, PELSVAE(tiny()), {})
        assert f"put back {folder}" in caplog.text
        assert "replacing" in caplog.text and "drops regressors.npz" in caplog.text  # the model it put back
        assert sorted(p.name for p in parent.iterdir()) == [".model.keep-me", ".other.0a1b2c3d", "model"]
        fresh = storage.save_folder(parent / "fresh", PELSVAE(tiny()), {})
        assert oct(fresh.stat().st_mode & 0o777) == oct(0o750)  # the umask's, not mkdtemp's 0700
        folder.chmod(0o705)
        storage.save_folder(folder, PELSVAE(tiny()), {})
        assert oct(folder.stat().st_mode & 0o777) == oct(0o705)  # a replaced folder keeps its mode
    finally:
        os.umask(previous)


def test_network_shape_bounds():
    with pytest.raises(ValueError, match="model setting hidden must be an integer from 1 to 512, "
                       "not 4096"):
        tiny(hidden=4096)
    with pytest.raises(ValueError, match="model setting blocks must be an integer from 1 to 16, "
                       "not True"):
        tiny(blocks=True)
    with pytest.raises(ValueError, match="model setting dropout must be a number from 0 to below 1, "
                       "not 1.5"):
        tiny(dropout=1.5)
    with pytest.raises(ValueError, match=r"model setting grid_size \(48\) must be decoder_seed_size "
                       r"\(8\) times a power of two"):
        tiny(grid_size=48)
    with pytest.raises(ValueError, match="model setting classes must list 1 to 64 distinct names"):
        ModelConfig(classes=("CEP", "CEP"), bands=BANDS)
    with pytest.raises(ValueError, match="model settings lack bands"):
        ModelConfig.from_dict({"classes": ["CEP"]})
    narrowing = tiny(decoder_channels=(8, 8, 4))
    assert ModelConfig.from_dict(json.loads(json.dumps(narrowing.to_dict()))) == narrowing


# -- training resume ----------------------------------------------------------------------

def tiny_training_set(n: int = 64, length: int = 24, seed: int = 0) -> TrainingSet:
    rng = np.random.default_rng(seed)
    phase = np.sort(rng.uniform(0, 1, (n, length)), axis=1).astype(np.float32)
    mag = (0.5 + 0.4 * np.sin(2 * np.pi * phase + rng.uniform(0, 6, (n, 1)))).astype(np.float32)
    column = lambda values: np.asarray(values, dtype=np.float32)
    return TrainingSet(phase=phase, mag=mag, err=np.full((n, length), 0.05, np.float32),
                       mask=np.ones((n, length), bool), cls=np.arange(n) % 2, band=np.arange(n) // 2 % 2,
                       teff=column(rng.uniform(5000, 7000, n)), abs_mag=column(np.full(n, np.nan)),
                       log_period=column(rng.uniform(-0.5, 1, n)), amplitude=column(np.ones(n)),
                       mean_mag=column(np.full(n, 15.0)),
                       split=np.where(np.arange(n) < 48, "train", "val"),
                       star_key=np.array([f"S:{i}" for i in range(n)]), augmented=np.zeros(n, bool),
                       classes=CLASSES, bands=BANDS)


class Interrupted(Exception):
    pass


def interrupt_after(epochs: int, monkeypatch):
    """Kill a run once ``epochs`` epochs are checkpointed (at the next epoch's validation)."""
    calls, evaluate = [], training.evaluate_loss

    def evaluate_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) > epochs:
            raise Interrupted
        return evaluate(*args, **kwargs)
    monkeypatch.setattr(training, "evaluate_loss", evaluate_then_stop)


def losses(history):
    return [{k: v for k, v in e.items() if k not in ("seconds", "curves_per_second")} for e in history.epochs]


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    data, cfg = tiny_training_set(), tiny(physics=True, dropout=0.3)
    settings = TrainConfig(epochs=4, batch_size=16, learning_rate=3e-3, patience=10, kl_warmup_epochs=2)
    whole, whole_history = training.fit(data, cfg, settings, tmp_path / "whole", progress=False)
    with monkeypatch.context() as patch:
        interrupt_after(2, patch)
        with pytest.raises(Interrupted):
            training.fit(data, cfg, settings, tmp_path / "resumed", progress=False)
    (tmp_path / "resumed" / ".checkpoint.pt.0a1b2c3d.tmp").write_bytes(b"left by a kill")
    resumed, history = training.fit(data, cfg, settings, tmp_path / "resumed", resume=True, progress=False)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4]
    assert losses(history) == losses(whole_history)
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert not list((tmp_path / "resumed").glob(".*.tmp"))


def test_resume_refuses_other_settings_naming_them(tmp_path, monkeypatch):
    data, cfg = tiny_training_set(), tiny()
    settings = TrainConfig(epochs=3, batch_size=16, patience=10)
    dataset = {"seed": 42, "n_points": 24}
    with monkeypatch.context() as patch:
        interrupt_after(1, patch)
        with pytest.raises(Interrupted):
            training.fit(data, cfg, settings, tmp_path, progress=False, data_config=dataset)

    def resume(data=data, cfg=cfg, settings=settings, dataset=dataset):
        return training.fit(data, cfg, settings, tmp_path, resume=True, progress=False,
                            data_config=dataset)

    with pytest.raises(ValueError, match=r"--resume: the settings differ from those of \S+checkpoint.pt: "
                       r"model.hidden \(8 -> 16\); resume with the checkpoint's settings or delete"):
        resume(cfg=tiny(hidden=16))  # a changed shape is named, not a size-mismatch traceback
    with pytest.raises(ValueError, match=r"data.seed \(42 -> 7\); "
                       r"data.training_set \('[0-9a-f]+' -> '[0-9a-f]+'\)"):
        resume(data=tiny_training_set(seed=7), dataset={**dataset, "seed": 7})
    with pytest.raises(ValueError, match=r"data.training_set \('[0-9a-f]+' -> '[0-9a-f]+'\); train.beta "
                       r"\(0.75 -> 0.5\)"):
        resume(data=tiny_training_set(seed=7), settings=TrainConfig(**{**settings.to_dict(),
                                                                        "beta": 0.5}))
    # the number of epochs may change: train longer (or stop sooner)
    _, history = resume(settings=TrainConfig(**{**settings.to_dict(), "epochs": 2}))
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    state = torch.load(tmp_path / training.CHECKPOINT, weights_only=True)
    del state["settings"]
    torch.save(state, tmp_path / training.CHECKPOINT)
    with pytest.raises(ValueError, match="records no settings .an older pelsvae wrote it."):
        resume()
    (tmp_path / training.CHECKPOINT).write_bytes(b"truncated")
    with pytest.raises(ValueError, match=r"checkpoint.pt cannot be read \(\w+\); delete"):
        resume()


# -- cadences -----------------------------------------------------------------------------

#: SHA-256 (first 16 hex) of each preset's times before the options were validated: unchanged.
PRESET_DIGESTS = {("ogle", 0): "b97cf903cf7857cb", ("ogle", 7): "d6f3077c72ede0c9",
                  ("gaia", 0): "efd586407ba16d43", ("gaia", 7): "976a4463f4be640c",
                  ("lsst", 0): "a878b8aa6905a259", ("lsst", 7): "22d03c53b32b46b2",
                  ("ztf", 0): "3a816901837ccd59", ("ztf", 7): "00e62485a47e8546"}


def digest(times: np.ndarray) -> str:
    return hashlib.sha256(times.tobytes()).hexdigest()[:16]


def test_presets_are_unchanged_by_validation():
    assert {key: digest(cadences.preset(*key)) for key in PRESET_DIGESTS} == PRESET_DIGESTS
    changed = cadences.preset("ztf", 3, nights=50, baseline_days=400.0, season_days=100.0,
                              visits_per_night=3, visit_gap_days=0.01, night_jitter_days=0.05)
    assert digest(changed) == "18b8cb75a15e32a3"
    assert digest(cadences.uniform(300, 100.0)) == "112c5e0113780bcd"


CADENCE_ERRORS = [
    ({"name": "ztf", "foo": 1}, "unknown cadence option(s) foo for 'ztf'; valid: baseline_days, "
                                "season_days, nights, visits_per_night, visit_gap_days, night_jitter_days"),
    ({"name": "ztf", "visits_per_night": 2.5}, "cadence option visits_per_night must be a whole "
                                               "number in [1, 100000], not 2.5"),
    ({"name": "ztf", "nights": True}, "cadence option nights must be a whole number in "
                                      "[1, 100000], not True"),
    ({"name": "ztf", "nights": 0}, "nights must be a whole number in [1, 100000], not 0"),
    ({"name": "ztf", "nights": "50"}, "nights must be a whole number in [1, 100000], not '50'"),
    ({"name": "ztf", "visits_per_night": 10**7}, "visits_per_night must be a whole number in "
                                                 "[1, 100000], not 10000000"),
    ({"name": "ogle", "nights": 1000, "visits_per_night": 200},
     "cadence options nights x visits_per_night = 200000 times; at most 100000"),
    ({"name": "ztf", "baseline_days": 1e10}, "cadence option baseline_days must be a number in "
                                             "[1, 36525], not 10000000000.0"),
    ({"name": "ztf", "baseline_days": float("nan")},
     "baseline_days must be a number in [1, 36525], not nan"),
    ({"name": "ztf", "season_days": 400}, "season_days must be a number in [1, 365.25], not 400"),
    ({"name": "lsst", "visit_gap_days": -0.1}, "visit_gap_days must be a number in [0, 1], not -0.1"),
    ({"name": "ztf", "night_jitter_days": 2}, "night_jitter_days must be a number in [0, 0.5], not 2"),
    ({"name": "ztf", "nights": 1000}, "cadence option nights must be at most 720: that many nights "
                                      "of a 1095.75-day baseline fall inside 240-day seasons, not 1000"),
    ({"name": "uniform"}, "a uniform cadence takes exactly n (the number of times) and baseline_days "
                          "(the days they span); given: nothing"),
    ({"name": "uniform", "n": 10, "nights": 5}, "given: n, nights"),
    ({"name": "uniform", "n": 10**6, "baseline_days": 10}, "cadence option n must be a whole number "
                                                           "in [1, 100000], not 1000000"),
    ({"name": "uniform", "n": 10, "baseline_days": 0},
     "baseline_days must be a number in (0, 36525], not 0"),
    ({"nights": 5}, "unknown cadence None; choose uniform or a preset: ogle, gaia, lsst, ztf, "
                    "gaia-dr3-bulge, ogle4-bulge-I, ogle4-bulge-V (or pass times)"),
    ("kepler", "unknown cadence 'kepler'; choose uniform or a preset"),
    (5, "cadence must be a preset name or a dict with 'name', not int"),
]


@pytest.mark.parametrize("cadence, message", CADENCE_ERRORS)
def test_every_cadence_option_is_checked(cadence, message):
    with pytest.raises(ValueError) as caught:
        cadences.times_for(cadence)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_cadence_bounds_are_reachable_and_whole_floats_count():
    assert np.array_equal(cadences.times_for({"name": "ztf", "nights": 100.0}),
                          cadences.times_for({"name": "ztf", "nights": 100}))
    longest = cadences.times_for({"name": "ogle", "baseline_days": cadences.MAX_BASELINE_DAYS,
                                  "nights": 20_000, "visits_per_night": 5})
    assert len(longest) == cadences.MAX_TIMES and longest[-1] < cadences.MAX_BASELINE_DAYS


@pytest.mark.parametrize("content, message", [
    (b"0x10\n1\n2\n3\n", "the first column has 1 value(s) that are not numbers"),  # not a header
    (b"55000;1\n55001;2\n55002;3\n", "the first column has 3 value(s) that are not numbers"),
    (b"mjd\n1\n2\nx\n", "column 'mjd' has 1 value(s) that are not numbers"),
    (b"1e308\n-1e308\n0\n", "observation times must span at most 36525 days (100 years), not inf"),
    ("\n".join(map(str, range(100_001))).encode(), "at most 100000 observation times, got 100001"),
])
def test_user_times_are_checked(content, message):
    with pytest.raises(ValueError) as caught:
        cadences.parse_times(content)
    assert str(caught.value) == message


# -- generation ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    """models/default: its RR Lyrae were trained with Teff and M, its eclipsing binaries without."""
    return load_model()


RRLYR = dict(cls="RRLYR", period=0.55)
#: models/default's latent dimensions, for vectors of the right and the wrong size
D = json.loads((REPO_ROOT / "models" / "default" / CONFIG).read_text())["model"]["latent_dim"]
GENERATION_ERRORS = [
    # sizes: a limit named, never memory exhaustion
    ({**RRLYR, "n_samples": 10**6}, "n_samples must be a whole number in [1, 10000], not 1000000"),
    ({**RRLYR, "phases": np.zeros(100_001)}, "at most 100000 phases, got 100001"),  # 10**7: 6.8 GB
    ({**RRLYR, "times": np.zeros(100_001)}, "at most 100000 observation times, got 100001"),
    ({**RRLYR, "n_samples": 30, "cadence": {"name": "uniform", "n": 100_000, "baseline_days": 10}},
     "n_samples x observations = 30 x 100000 = 3000000 rows; at most 2000000 per call"),
    ({**RRLYR, "cadence": {"name": "ztf", "baseline_days": 1e10}},
     "cadence option baseline_days must be a number in [1, 36525], not 10000000000.0"),
    ({**RRLYR, "cadence": {"name": "ztf", "visits_per_night": 10**7}},
     "cadence option visits_per_night must be a whole number in [1, 100000], not 10000000"),
    # impossible values: refused, not returned
    (dict(cls="ECL", period=0.4, abs_mag=1e300), "abs_mag=1e+300 is no star's: absolute magnitudes "
                                                 "run from about -10 (the most luminous stars) to 17"),
    (dict(cls="ECL", period=0.4, abs_mag=1e6, distance_pc=1000, noise=True),
     "abs_mag=1e+06 is no star's"),
    ({**RRLYR, "epoch": float("nan"), "cadence": "ztf"}, "epoch must be finite, not nan"),
    ({**RRLYR, "epoch": float("nan")}, "epoch must be finite, not nan"),  # checked without times too
    ({**RRLYR, "times": [0.0, 1.0], "epoch": 1e308}, "epoch=1e+308 is too far from the observation "
                                                     "times to fold them"),
    ({**RRLYR, "distance_pc": 1e30, "noise": True},
     "distance_pc=1e+30 puts the star at mean magnitude 145.2, fainter than 40, beyond anything "
     "observable; at most 9.19e+08 pc at mean absolute I magnitude 0.183"),
    ({**RRLYR, "distance_pc": 0.01}, "distance_pc must be at least 1 pc (no star is nearer than "
                                     "Proxima Centauri, 1.3 pc), not 0.01"),
    ({**RRLYR, "latent": [0.0] * (D + 1)},
     f"latent must have {D} values (the model's latent dimensions), not {D + 1}"),
    ({**RRLYR, "latent": [np.nan] * D}, "latent values must be finite"),
    # types: one line naming the argument, never a raw TypeError or a silent reading
    (dict(cls=["RRLYR"], period=0.55), "unknown class ['RRLYR']; this model generates ACEP, CEP"),
    ({**RRLYR, "n_samples": True}, "n_samples must be a whole number in [1, 10000], not True"),
    ({**RRLYR, "epoch": "x"}, "epoch must be a number, not 'x'"),
    ({**RRLYR, "seed": None, "distance_pc": 1000, "noise": True},
     "seed must be a whole number in [0, inf], not None"),
    ({**RRLYR, "seed": -1}, "seed must be a whole number in [0, inf], not -1"),
    (dict(cls="RRLYR", period=True), "period must be a number, not True"),  # not 1 day
    ({**RRLYR, "teff": "7000"}, "teff must be a number, not '7000'"),
    ({**RRLYR, "distance_pc": True}, "distance_pc must be a number of parsecs, not True"),
    ({**RRLYR, "phases": np.full((3, 4), 0.1)}, "phases must be one sequence of numbers, not an "
                                                "array of shape (3, 4)"),  # not flattened
    ({**RRLYR, "times": [[0.0, 1.0], [2.0, 3.0]]}, "observation times must be one sequence of "
                                                   "numbers, not an array of shape (2, 2)"),
]


@pytest.mark.parametrize("kwargs, message", GENERATION_ERRORS)
def test_every_generation_input_is_checked(shipped, kwargs, message):
    with pytest.raises(ValueError) as caught:
        shipped.generate(**kwargs)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_whole_numbers_count_and_limits_are_reachable(shipped):
    assert shipped.generate(**RRLYR, n_samples=2.0, phases=[0.1])["sample"].nunique() == 2
    table = shipped.generate(**RRLYR, n_samples=generation.MAX_SAMPLES, phases=[0.1], regressor="linear")
    assert len(table) == generation.MAX_SAMPLES and np.isfinite(table["mag"]).all()
    mean_abs_mag = table["abs_mag"].iloc[0] + table["colour"].iloc[0]    # M_G + (band - G)_0
    farthest = 10 ** ((generation.FAINT_LIMIT_MAG - mean_abs_mag) / 5 + 1)
    at_limit = shipped.generate(**RRLYR, n_samples=1, distance_pc=0.999 * farthest)
    assert at_limit["mag"].mean() == pytest.approx(generation.FAINT_LIMIT_MAG, abs=0.1)


def test_faint_stars_are_non_detections_at_the_survey_depth(shipped):
    """No detection limit made 1e7 pc give +-580 mag: fainter than the survey's 5-sigma depth m5
    a row is flagged and reported at m5 (an upper limit); brighter rows keep their noise."""
    survey = shipped.error_models["SDSS Stripe 82/g"]
    rr_lyrae = {**RRLYR, "band": "g"}
    lost = shipped.generate(**rr_lyrae, distance_pc=1e7, noise=True, n_samples=3)
    assert not lost["detected"].any()
    assert (lost["mag"] == survey.m5).all() and np.allclose(lost["mag_err"], survey.sigma(survey.m5))
    assert survey.sigma(survey.m5) == pytest.approx(0.2, abs=0.01)  # S/N 5 by the relation's form
    mean_abs_g = lost["abs_mag"].iloc[0] + lost["colour"].iloc[0]      # M_G + (g - G)_0
    at_depth = 10 ** ((survey.m5 - mean_abs_g) / 5 + 1)  # the mean magnitude at m5
    kwargs = dict(**rr_lyrae, distance_pc=at_depth, n_samples=20, seed=4)
    clean, noisy = shipped.generate(**kwargs), shipped.generate(**kwargs, noise=True)
    seen = noisy["detected"].to_numpy()
    assert 0.1 < seen.mean() < 0.9 and np.isfinite(noisy[["mag", "mag_err"]]).all().all()
    np.testing.assert_array_equal(seen, clean["mag"] <= survey.m5)
    scatter = survey.real_sigma(clean["mag"].to_numpy(), "RRLYR")   # the real scatter, not the quoted error
    pulls = (noisy["mag"] - clean["mag"])[seen] / scatter[seen]
    assert abs(pulls.std() - 1) < 0.15 and noisy["mag_err"][seen].max() <= survey.sigma(survey.m5)
    assert (noisy["mag"][~seen] == survey.m5).all()
    assert shipped.generate(**rr_lyrae)["detected"].all()  # no survey, no limit


def test_a_class_trained_without_m_takes_a_star_s_abs_mag_and_warns_far_from_its_stars(shipped):
    lo, hi = shipped.references["ECL"].ranges["abs_mag"]
    table = shipped.generate("ECL", period=0.4, abs_mag=hi + 0.9 * (hi - lo), distance_pc=1000,
                             noise=True, n_samples=2)
    assert not table["detected"].any() and np.isfinite(table["mag"]).all()
    assert (table["abs_mag_source"] == "given").all()
    # anomalous Cepheids are near M = -1, far brighter than their uncorrected cross-match M_G
    with pytest.warns(UserWarning, match=r"abs_mag=-1 is far outside the ACEP stars of the OGLE x "
                                         r"Gaia DR2 cross-match .*; used as given"):
        acep = shipped.generate("ACEP", period=1.0, abs_mag=-1.0, n_samples=1)
    assert (acep["abs_mag"] == -1.0).all()


def test_a_parameter_the_class_ignores_is_a_warning_naming_it(shipped):
    with pytest.warns(UserWarning, match=r"^ECL does not respond to teff \(its curves depend on "
                      r"period only\); teff=6500 is ignored$"):
        ignored = shipped.generate("ECL", period=0.4, teff=6500, n_samples=2)
    pd.testing.assert_frame_equal(ignored, shipped.generate("ECL", period=0.4, n_samples=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shipped.generate(**RRLYR, teff=7000, n_samples=1)  # used: no warning


@pytest.mark.parametrize("z, cls, message", [
    (np.full((2, D), np.nan), "RRLYR",
     "z must be finite: NaN or infinite latent values decode to nothing"),
    (np.full((2, D), 1e300), "RRLYR", "z must be finite"),  # infinite as float32
    (np.zeros((2, D)), 99, "unknown class 99; this model knows ACEP, CEP, DSCT, ECL, ELL, LPV, RRLYR, "
                           "T2CEP (or their indices 0 to 7)"),
    (np.zeros((2, D)), -1, "unknown class -1"),
    (np.zeros((2, D)), True, "unknown class True"),
    (np.zeros((0, D)), "RRLYR", f"z holds no latent vector (shape (0, {D})); give at least one"),
    (np.zeros((2, 1, D)), "RRLYR", f"z must be shaped (n, {D}): the model's latent space has {D} "
                                   f"dimensions; got shape (2, 1, {D})"),
])
def test_decode_refuses_what_it_cannot_decode(shipped, z, cls, message):
    for call in (lambda: shipped.decode(z, cls, [0.1, 0.2]), lambda: shipped.decode_grid(z, cls)):
        with pytest.raises(ValueError) as caught:
            call()
        assert message in str(caught.value) and "\n" not in str(caught.value)


def test_decoding_many_vectors_runs_in_bounded_batches(shipped, monkeypatch):
    z = np.random.default_rng(0).normal(size=(40, D))
    whole = shipped.decode_grid(z, "RRLYR")
    monkeypatch.setattr(decoder, "DECODE_CHUNK", 16)
    calls = []
    network_decode = shipped.network.decode_grid
    monkeypatch.setattr(shipped.network, "decode_grid", lambda z, *a: calls.append(len(z)) or
                        network_decode(z, *a))
    # float32 products depend on the batch's shape at the 1e-6 level (CPU kernels block them
    # differently); a batching error would be of order one
    np.testing.assert_allclose(shipped.decode_grid(z, "RRLYR"), whole, atol=1e-5)
    assert calls == [16, 16, 8]


# -- command line -------------------------------------------------------------------------

def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, message", [
    (["--set", "nights=100"], "--set changes a cadence's numbers; give the cadence with --cadence"),
    (["--cadence", "ztf", "--set", "foo=1"],
     "unknown cadence option(s) foo for 'ztf'; valid: baseline_days"),
    (["--cadence", "ztf", "--set", "nights=many"], "--set nights: 'many' is not a number"),
    (["--cadence", "ztf", "--set", "visits_per_night=0"],
     "visits_per_night must be a whole number in [1, 100000], not 0"),
    (["--cadence", "uniform"], "a uniform cadence takes exactly n"),
])
def test_cli_cadence_errors_are_one_line(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, "generate", "--class", "RRLYR", "--period", "0.55",
                           "--out", str(tmp_path / "x.csv"), *args)
    assert code == 2 and err.count("\n") == 1 and message in err and not (tmp_path / "x.csv").exists()


def test_cli_corrupted_model_folder_is_one_line(capsys, folder, tmp_path):
    (folder / CHECKSUMS).write_text("not json")
    code, _, err = run_cli(capsys, "generate", "--model", str(folder), "--class", "CEP", "--period",
                           "5", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"pelsvae: error: {folder / CHECKSUMS} is not valid JSON")


def test_cli_out_keeps_the_mode_of_a_replaced_file_or_takes_the_umask(capsys, tmp_path):
    args = ["generate", "--class", "RRLYR", "--period", "0.55", "--cadence", "ztf",
            "--set", "nights=100.0", "--n-samples", "1", "--out"]
    previous = os.umask(0o022)
    try:
        code, out, _ = run_cli(capsys, *args, str(tmp_path / "new.csv"))
        assert code == 0 and out.startswith("100 rows (1 curves)")  # 100.0 nights are 100
        assert oct((tmp_path / "new.csv").stat().st_mode & 0o777) == oct(0o644)
        (tmp_path / "new.csv").chmod(0o640)
        assert run_cli(capsys, *args, str(tmp_path / "new.csv"))[0] == 0
        assert oct((tmp_path / "new.csv").stat().st_mode & 0o777) == oct(0o640)
    finally:
        os.umask(previous)


def test_cli_size_limit_and_ignored_teff_are_one_line(capsys, tmp_path):
    out = str(tmp_path / "x.csv")
    code, _, err = run_cli(capsys, "generate", "--class", "RRLYR", "--period", "0.55",
                           "--n-samples", "1000000", "--out", out)
    assert code == 2 and err == ("pelsvae: error: n_samples must be a whole number in [1, 10000], "
                                 "not 1000000\n")
    code, _, err = run_cli(capsys, "generate", "--class", "ECL", "--period", "0.4", "--teff", "6500",
                           "--n-samples", "1", "--out", out)
    assert code == 0 and err.splitlines() == [
        "pelsvae: warning: ECL does not respond to teff (its curves depend on period only); "
        "teff=6500 is ignored",
        "pelsvae: warning: no intrinsic V_CSS - G colour for this ECL: no period relation for ECL: "
        "none of its stars has V and I in the OGLE-III LMC catalogue; its mean V_CSS magnitude is "
        "M_G"]
    code, _, err = run_cli(capsys, "generate", "--class", "ECL", "--period", "0.4", "--abs-mag", "1e6",
                           "--distance-pc", "1000", "--noise", "--out", str(tmp_path / "inf.csv"))
    assert code == 2 and "abs_mag=1e+06 is no star's" in err and not (tmp_path / "inf.csv").exists()


def test_cli_start_imports_nothing_heavy():
    """``pelsvae --help`` must start in well under 0.5 s: no numerical library on the way."""
    heavy = ("torch", "numpy", "pandas", "sklearn", "scipy", "pyarrow")
    probe = (f"import sys, pelsvae_core, pelsvae_core.cli; "
             f"print([m for m in {heavy!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_generating_loads_neither_scikit_learn_nor_scipy():
    """The generate path's cold start (issue 18: <= 3 s): torch runs the network and pandas makes
    the table; the regressors are plain arrays and the noise a formula, so scikit-learn and SciPy
    (about 1 s of imports) are left to the fits that need them."""
    probe = ("import sys; from pelsvae_core import load_model; "
             "load_model().generate('RRLYR', period=0.55, distance_pc=1000, noise=True, n_samples=2); "
             "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
