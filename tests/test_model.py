"""The network, its loss terms, cadence invariance, saving/loading and training."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pelsvae_core import load_model
from pelsvae_core.api import Model
from pelsvae_core.data.dataset import DatasetConfig, build_training_set
from pelsvae_core.model import losses, storage
from pelsvae_core.model.config import ModelConfig, TrainConfig
from pelsvae_core.model.decoder import periodic_values
from pelsvae_core import fourier
from pelsvae_core.model.networks import fourier_coefficients, fourier_design, periodic_interpolate
from pelsvae_core.model.training import batch_loss, check_reconstruction, fit
from pelsvae_core.model.vae import PELSVAE, batch_from

CLASSES = ("ACEP", "CEP", "DSCT", "ECL", "ELL", "LPV", "RRLYR", "T2CEP")


def tiny(architecture="tcn", **overrides) -> ModelConfig:
    settings = {"hidden": 8, "blocks": 3, "rnn_layers": 1, "decoder_channels": (16, 8, 8),
                "grid_size": 64, **overrides}
    return ModelConfig(classes=CLASSES, bands=("I", "V"), architecture=architecture, **settings)


def random_batch(n=6, length=50, seed=0):
    from pelsvae_core.model.vae import Batch
    g = torch.Generator().manual_seed(seed)
    phase = torch.sort(torch.rand(n, length, generator=g), dim=1).values
    physics = torch.tensor([[6500.0, 0.5, -0.3]] * n)
    physics[::2, :2] = float("nan")  # unknown Teff and M for half the curves
    return Batch(phase=phase, mag=torch.rand(n, length, generator=g),
                 err=torch.full((n, length), 0.05), mask=torch.ones(n, length, dtype=torch.bool),
                 cls=torch.arange(n) % 8, band=torch.arange(n) % 2, physics=physics)


@pytest.mark.parametrize("architecture", ["tcn", "gru", "lstm", "fourier-encoder"])
@pytest.mark.parametrize("physics", [False, True])
def test_shapes_and_gradients(architecture, physics):
    fourier = {"architecture": "tcn", "encoder_fourier_order": 6} if architecture == "fourier-encoder" else {}
    model = PELSVAE(tiny(**{"architecture": architecture, **fourier}, physics=physics))
    batch = random_batch()
    mu, logvar, mag, err = model(batch)
    assert mu.shape == logvar.shape == (6, 4)
    assert mag.shape == err.shape == (6, 50)
    assert ((mag >= 0) & (mag <= 1)).all() and (err > 0).all()
    terms = losses.vae_loss(batch.mag, mag, batch.err, err, batch.mask, mu, logvar, 0.75, 1.0, 0.02)
    terms.total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_fourier_encoder_reads_the_weighted_least_squares_series():
    """The encoder's summary equals the NumPy weighted fit on the real observations alone, for
    any number and spacing of phases (padded rows carry no weight)."""
    rng = np.random.default_rng(1)
    phase = np.sort(rng.uniform(0, 1, (2, 120)), axis=1)
    mag = 0.5 + 0.3 * np.sin(2 * np.pi * phase) + 0.1 * np.cos(6 * np.pi * phase) + rng.normal(0, 0.01, phase.shape)
    err = rng.uniform(0.01, 0.05, phase.shape)
    mask = np.ones_like(phase, dtype=bool)
    mask[1, ::3] = False
    mag[1, ::3] = 99.0  # padding must not leak in
    got = fourier_coefficients(*(torch.tensor(a) for a in (phase, mag, err, mask)), order=5).numpy()
    for row in range(2):
        m = mask[row]
        want = fourier.fit(phase[row][m], mag[row][m], np.maximum(err[row][m], 0.02), 5)
        np.testing.assert_allclose(got[row], want, atol=1e-3)
    assert abs(got[0][0] - 0.5) < 0.01 and abs(got[0][1 + 5 + 0] - 0.3) < 0.01  # a0 and b1


def test_series_distance_is_the_mean_square_difference_over_the_cycle():
    """Parseval: the coefficient form equals the mean over a fine phase grid of the squared
    difference of the two curves, in units of the floor squared."""
    g = torch.Generator().manual_seed(1)
    series, target = torch.randn(4, 2 * 5 + 1, generator=g), torch.randn(4, 2 * 5 + 1, generator=g)
    grid = torch.arange(1000) / 1000
    design = fourier_design(grid, 5)
    on_grid = (((series - target) @ design.T) ** 2).mean(1).mean() / 0.02**2
    assert float(losses.series_distance(series, target, 0.02)) == pytest.approx(float(on_grid), rel=1e-5)


def test_fourier_reconstruction_and_early_conditions():
    """A Fourier encoder may read the conditions with the series (other weights than the
    late reading); a linear output is the decoded series itself, not held in [0, 1]; the
    series loss is refused for a decoder whose curve is not its series."""
    fourier_net = {"encoder_fourier_order": 4, "decoder_fourier_order": 4, "physics": True}
    early = PELSVAE(tiny(**fourier_net, early_conditions=True, curve_output="linear"))
    late = PELSVAE(tiny(**fourier_net))
    assert early.encoder.dense is None and late.encoder.dense is not None
    assert early.encoder.sequence[0].in_features == 9 + 8 + 2 + 6
    batch = random_batch()
    out = early.reconstruct(batch, sample=False)
    assert out.series.shape == (6, 2, 9)
    decoded = torch.einsum("bk,bnk->bn", out.series[:, 0], fourier_design(batch.phase, 4))
    assert torch.allclose(out.mag, decoded, atol=5e-2)  # through the grid's linear interpolation
    with torch.no_grad():
        early.decoder.seed[-1].bias[0] = 5.0  # a constant far outside [0, 1] passes a linear output
    with torch.no_grad():
        assert float(early.reconstruct(batch, sample=False).mag.min()) > 1
    terms, _ = batch_loss(early, batch, TrainConfig(reconstruction="fourier"), 0.001, sample=True)
    terms.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in early.parameters() if p.grad is not None)
    # the dropout setting acts with early conditions too: training passes differ, evaluation's not
    dropped = PELSVAE(tiny(**fourier_net, early_conditions=True, dropout=0.5))
    dropped.train()
    first, second = (dropped.reconstruct(batch, sample=False).mu for _ in range(2))
    assert not torch.allclose(first, second)
    dropped.eval()
    with torch.no_grad():
        assert torch.equal(*(dropped.reconstruct(batch, sample=False).mu for _ in range(2)))
    with pytest.raises(ValueError, match="needs a Fourier decoder with a linear output"):
        check_reconstruction(late.cfg, TrainConfig(reconstruction="fourier"))
    with pytest.raises(ValueError, match="reconstruction must be one of points, fourier"):
        TrainConfig(reconstruction="pixels")
    with pytest.raises(ValueError, match="curve_output must be one of sigmoid, linear"):
        tiny(curve_output="tanh")


def test_missing_physics_enter_as_mask_not_invented_values():
    model = PELSVAE(tiny(physics=True))
    inputs = model.physics_inputs(torch.tensor([[6000.0, float("nan"), 0.0]]))
    assert inputs.tolist() == [[0.0, 0.0, 0.0, 1.0, 0.0, 1.0]]


def test_loss_terms_against_hand_computed_values():
    mag = torch.tensor([[0.2, 0.4, 0.9]])
    mag_hat = torch.tensor([[0.3, 0.4, 0.5]])
    err = torch.tensor([[0.1, 0.01, 0.2]])
    mask = torch.tensor([[True, True, False]])
    # floor 0.02 lifts the 0.01 error; the third point is masked out
    expected_mse = ((0.1 / 0.1) ** 2 + 0.0) / 2
    assert float(losses.weighted_mse(mag, mag_hat, err, mask, 0.02)) == pytest.approx(expected_mse)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    expected_kl = 0.5 * ((1 + 1 - 0 - 1) + (4 + 0 - math.log(4) - 1))
    assert float(losses.kl_to_unit_gaussian(mu, logvar)) == pytest.approx(expected_kl)
    err_hat = torch.tensor([[0.2, 0.01, 1.0]])
    expected_err = (math.log(2) + 0.5 * 0.25 - 0.5 + 0.0) / 2
    assert float(losses.error_kl(err, err_hat, mask)) == pytest.approx(expected_err, rel=1e-5)
    assert float(losses.error_kl(err, err, mask)) == pytest.approx(0.0, abs=1e-7)


def test_active_units_detects_collapsed_dimensions():
    mu = torch.stack([torch.randn(500), torch.zeros(500), 0.001 * torch.randn(500)], dim=1)
    assert losses.active_units(mu) == 1


@pytest.mark.parametrize("architecture", ["tcn", "gru"])
def test_decoding_depends_on_phase_alone_and_is_periodic(architecture):
    torch.manual_seed(0)
    model = PELSVAE(tiny(architecture)).eval()
    z = torch.randn(3, 4)
    cls, band = torch.tensor([6, 3, 1]), torch.tensor([0, 1, 0])
    dense = torch.linspace(0, 1, 5001)[:-1].expand(3, -1)
    with torch.no_grad():
        ref_mag, _ = model.decode(z, cls, band, dense)
        rng = np.random.default_rng(1)
        for n in (30, 100, 300, 1000):
            idx = torch.from_numpy(rng.choice(5000, size=(3, n)))  # random order, repeats allowed
            mag, _ = model.decode(z, cls, band, torch.gather(dense, 1, idx))
            assert torch.allclose(mag, torch.gather(ref_mag, 1, idx), atol=1e-3)
        shifted, _ = model.decode(z, cls, band, dense + 1.0)
        assert torch.allclose(shifted, ref_mag, atol=1e-5)
        edge, _ = model.decode(z, cls, band, torch.tensor([[0.0, 0.99999]] * 3))
        assert torch.allclose(edge[:, 0], edge[:, 1], atol=1e-3)


def test_numpy_interpolation_matches_the_network():
    """The API reads phases off the grid in NumPy; it must agree with the torch code trained on."""
    rng = np.random.default_rng(2)
    grid = rng.random((5, 2, 64)).astype(np.float32)
    phases = rng.uniform(-2, 3, (5, 41))  # wrapped both ways
    mag, err = periodic_values(grid, phases)
    expected = periodic_interpolate(torch.from_numpy(grid), torch.from_numpy(phases)).numpy()
    assert np.allclose(mag, expected[:, 0], atol=1e-6) and np.allclose(err, expected[:, 1], atol=1e-6)


def test_numpy_interpolation_wraps_the_edges_of_the_cycle_as_the_network_does():
    """Phases at the seams (a tiny negative phase wraps to 1.0, which reads the grid's first
    point again; just below 1; far from the first cycle) agree with the torch code; a phase that
    is not finite is refused, not read from a wild index."""
    grid = np.random.default_rng(3).random((2, 2, 64))
    phases = np.array([[-1e-20, -0.0, 1.0, 1 - 2.0 ** -53, 1e6 + 0.25, -3.75]] * 2)
    mag, err = periodic_values(grid, phases)
    expected = periodic_interpolate(torch.from_numpy(grid), torch.from_numpy(phases)).numpy()
    assert np.allclose(mag, expected[:, 0], atol=1e-12) and np.allclose(err, expected[:, 1], atol=1e-12)
    assert np.allclose(mag[:, 2], grid[:, 0, 0]) and np.allclose(mag[:, 4], mag[:, 5])
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="phases must be finite"):
            periodic_values(grid, np.array([0.1, bad]))


def test_decoder_widths_must_match_its_levels():
    assert tiny().decoder_widths == (16, 8, 8)
    assert tiny(decoder_channels=12).decoder_widths == (12, 12, 12)
    with pytest.raises(ValueError, match="decoder has 3 levels"):
        tiny(decoder_channels=(16, 8))


def make_model_folder(tmp_path, physics=True, network=None) -> Model:
    torch.manual_seed(0)
    network = network or PELSVAE(tiny(physics=physics)).eval()
    folder = storage.save_folder(tmp_path / "model", network, {"note": "test"})
    return load_model(folder)


def test_save_load_round_trip_is_bit_identical(tmp_path):
    torch.manual_seed(0)
    network = PELSVAE(tiny(physics=True)).eval()
    z = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    cls, band = torch.full((4,), CLASSES.index("RRLYR")), torch.zeros(4, dtype=torch.long)  # band I
    with torch.no_grad():
        before = network.decode_grid(torch.from_numpy(z), cls, band).numpy()
    model = make_model_folder(tmp_path, network=network)
    assert np.array_equal(model.decode_grid(z, "RRLYR", band="I"), before)
    phases = np.linspace(0, 1, 77)
    first = model.decode(z, "RRLYR", phases, band="I")
    again = load_model(tmp_path / "model").decode(z, "RRLYR", phases, band="I")
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    with pytest.raises(ValueError, match="folded for inference"):  # its layout differs
        storage.save_folder(tmp_path / "again", model.network, {})
    metadata = json.loads((tmp_path / "model" / storage.METADATA).read_text())
    assert metadata["note"] == "test" and "torch" in metadata["library_versions"]


def test_corrupted_or_wrong_version_folder_is_refused(tmp_path):
    make_model_folder(tmp_path)
    folder = tmp_path / "model"
    weights = folder / storage.WEIGHTS
    content = bytearray(weights.read_bytes())
    content[len(content) // 2] ^= 0xFF
    weights.write_bytes(bytes(content))
    with pytest.raises(storage.ModelFormatError, match="checksum"):
        load_model(folder)
    make_model_folder(tmp_path)
    config = json.loads((folder / storage.CONFIG).read_text())
    config["format_version"] = 99
    (folder / storage.CONFIG).write_text(json.dumps(config))
    checksums = json.loads((folder / storage.CHECKSUMS).read_text())
    checksums[storage.CONFIG] = storage.sha256(folder / storage.CONFIG)
    (folder / storage.CHECKSUMS).write_text(json.dumps(checksums))
    with pytest.raises(storage.ModelFormatError, match="version 99"):
        load_model(folder)
    with pytest.raises(storage.ModelFormatError, match="not a model folder"):
        load_model(tmp_path / "nothing-here")


def test_api_rejects_bad_input(tmp_path):
    model = make_model_folder(tmp_path)
    with pytest.raises(ValueError, match="unknown class 'MIRA'"):
        model.decode(np.zeros((1, 4)), "MIRA", [0.1])
    with pytest.raises(ValueError, match="latent space has 4"):
        model.decode(np.zeros((1, 3)), "CEP", [0.1])
    with pytest.raises(ValueError, match="finite"):
        model.decode(np.zeros((1, 4)), "CEP", [np.nan])
    with pytest.raises(ValueError, match="unknown band"):
        model.decode(np.zeros((1, 4)), "CEP", [0.1], band="K")


@pytest.fixture(scope="module")
def small_training(subset_cache):
    return build_training_set(subset_cache.kept, DatasetConfig(large_class=100, large_target=200,
                                                               small_target=60, n_points=100))


def test_short_training_lowers_validation_loss_and_resumes(small_training, tmp_path):
    cfg = ModelConfig(classes=small_training.classes, bands=small_training.bands, hidden=16,
                      blocks=3, physics=True, decoder_channels=16, grid_size=64)
    train_cfg = TrainConfig(epochs=2, batch_size=64, learning_rate=3e-3, patience=10,
                            kl_warmup_epochs=1)
    _, history = fit(small_training, cfg, train_cfg, tmp_path, progress=False)
    assert len(history.epochs) == 2
    _, resumed = fit(small_training, cfg, TrainConfig(**{**train_cfg.to_dict(), "epochs": 4}),
                     tmp_path, resume=True, progress=False)
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3, 4]
    assert resumed.epochs[:2] == history.epochs
    val = [e["val_total"] for e in resumed.epochs]
    assert min(val[1:]) < val[0]
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 3


def test_training_is_deterministic_under_a_seed(small_training, tmp_path):
    cfg = ModelConfig(classes=small_training.classes, bands=small_training.bands, hidden=8,
                      blocks=2, decoder_channels=8, grid_size=32)
    train_cfg = TrainConfig(epochs=1, batch_size=64, seed=7)
    a, _ = fit(small_training, cfg, train_cfg, tmp_path / "a", progress=False)
    b, _ = fit(small_training, cfg, train_cfg, tmp_path / "b", progress=False)
    batch = batch_from(small_training, slice(0, 5))
    with torch.no_grad():
        assert torch.equal(a(batch, sample=False)[2], b(batch, sample=False)[2])


def test_shipped_default_model():
    model = load_model()
    assert model.classes == CLASSES and model.config.physics
    assert set(model.class_physics) == set(CLASSES)
    counts = model.metadata["trained_on"]["counts"]["train"]
    assert set(counts) == set(CLASSES)
    assert model.metadata["splits"]["by"] == "star"
    recon = {(r["class"], r["method"]): r["rmse_norm"]
             for r in model.metadata["metrics"]["test_reconstruction"]}
    assert recon[("CEP", "vae")] < recon[("CEP", "median_template")]
    total = sum(p.stat().st_size for p in model.folder.iterdir())
    assert total < 20 * 2**20
    z = np.random.default_rng(0).normal(size=(2, model.config.latent_dim))
    dense = np.linspace(0, 1, 1000, endpoint=False)
    ref, _ = model.decode(z, "RRLYR", dense, band="g")
    for n in (30, 100, 300):
        idx = np.random.default_rng(n).choice(1000, size=n)
        part, _ = model.decode(z, "RRLYR", dense[idx], band="g")
        np.testing.assert_allclose(part, ref[:, idx], atol=1e-6)


def test_numpy_decode_matches_the_network(tmp_path):
    model = make_model_folder(tmp_path)
    z = np.random.default_rng(3).normal(size=(3, 4)).astype(np.float32)
    phases = np.random.default_rng(4).uniform(-1, 2, size=(3, 40))
    mag, err = model.decode(z, ["CEP", "ECL", "DSCT"], phases, band="V")
    with torch.no_grad():
        ref_mag, ref_err = model.network.decode(torch.from_numpy(z), torch.tensor([1, 3, 2]),
                                                torch.tensor([1, 1, 1]),
                                                torch.from_numpy(phases.astype(np.float32)))
    np.testing.assert_allclose(mag, ref_mag.numpy(), atol=1e-5)
    np.testing.assert_allclose(err, ref_err.numpy(), atol=1e-5)


def test_the_shipped_model_folder_stays_within_20_mb():
    """Model v2's limit (issue 14): the shipped folder, report included, at most 20 MB
    (20,000,000 bytes, the stricter reading); a folder that outgrows it needs room made, not
    the limit moved."""
    size = sum(f.stat().st_size for f in storage.DEFAULT_MODEL.rglob("*") if f.is_file())
    assert size <= 20_000_000, f"models/default holds {size:,} bytes, over 20 MB"
