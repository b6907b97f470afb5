"""read_weights: .npz and .safetensors round trips, and the errors."""

import warnings

import numpy as np
import pytest
from safetensors.numpy import save_file

import geodln


@pytest.fixture
def layers():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 3)), rng.standard_normal((5, 4)), rng.standard_normal((2, 5))]


def test_npz_layers_round_trip(tmp_path, layers):
    np.savez(tmp_path / "w.npz", **{f"W{i}": W for i, W in enumerate(layers, start=1)})
    w = geodln.read_weights(tmp_path / "w.npz")
    assert w.widths == (3, 4, 5, 2) and all(np.array_equal(a, b) for a, b in zip(w.layers, layers))
    assert np.array_equal(w.top.layer_weights(w.theta)[1], layers[1])


def test_npz_adjacency_round_trip(tmp_path, layers):
    top = geodln.layered([3, 4, 5, 2])
    A = top.adjacency(top.from_layer_weights(layers))
    np.savez(tmp_path / "a.npz", A=A, widths=np.array(top.widths))
    w = geodln.read_weights(tmp_path / "a.npz")
    assert all(np.array_equal(a, b) for a, b in zip(w.layers, layers))
    np.savez(tmp_path / "b.npz", A=A)
    with pytest.raises(ValueError, match="widths"):
        geodln.read_weights(tmp_path / "b.npz")
    assert geodln.read_weights(tmp_path / "b.npz", widths=top.widths).widths == top.widths


def test_safetensors_torch_and_flax_round_trip(tmp_path, layers):
    torch_like = {f"layers.{i}.weight": W.astype(np.float32) for i, W in enumerate(layers)}
    torch_like["layers.0.bias"] = np.zeros(4, dtype=np.float32)  # zero biases are allowed
    save_file(torch_like, str(tmp_path / "t.safetensors"))
    w = geodln.read_weights(tmp_path / "t.safetensors")
    assert w.widths == (3, 4, 5, 2) and w.layers[2].dtype == np.float64
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(w.layers, layers))
    flax_like = {f"Dense_{i}/kernel": W.T.copy() for i, W in enumerate(layers)}
    save_file(flax_like, str(tmp_path / "f.safetensors"))
    assert all(np.array_equal(a, b) for a, b in zip(geodln.read_weights(tmp_path / "f.safetensors").layers, layers))


def test_the_errors(tmp_path, layers):
    save_file({"0.weight": layers[0], "0.bias": np.ones(4)}, str(tmp_path / "bias.safetensors"))
    with pytest.raises(ValueError, match="nonzero bias.*without offsets"):
        geodln.read_weights(tmp_path / "bias.safetensors")
    np.savez(tmp_path / "broken.npz", W1=layers[0], W2=layers[2])
    with pytest.raises(ValueError, match="do not chain: W2 takes 5 inputs"):
        geodln.read_weights(tmp_path / "broken.npz")
    np.savez(tmp_path / "none.npz", X=np.ones((2, 2)))
    with pytest.raises(ValueError, match="no layer matrices"):
        geodln.read_weights(tmp_path / "none.npz")
    save_file({"embedding": np.ones((2, 2, 2))}, str(tmp_path / "odd.safetensors"))
    with pytest.raises(ValueError, match="not the weight of a bias-free linear layer"):
        geodln.read_weights(tmp_path / "odd.safetensors")
    with pytest.raises(ValueError, match="unknown weight file type"):
        geodln.read_weights(__file__)


def test_sequential_index_gaps_are_named_and_refused_where_they_change_the_width(tmp_path):
    """nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) exports 0.weight, 2.weight, 4.weight: the modules 1 and
    3 are taken as the identity, with a warning naming them; consecutive numbers warn nothing; a gap across
    which the layers do not chain is refused, naming the gap."""
    rng = np.random.default_rng(0)
    layers = {"0.weight": rng.standard_normal((3, 2)), "2.weight": rng.standard_normal((4, 3)),
              "4.weight": rng.standard_normal((2, 4))}
    save_file(layers, str(tmp_path / "gaps.safetensors"))
    with pytest.warns(UserWarning, match=r"skip \[1\] between 0.weight and 2.weight; \[3\] between"):
        w = geodln.read_weights(tmp_path / "gaps.safetensors")
    assert w.widths == (2, 3, 4, 2)
    np.testing.assert_array_equal(w.layers[1], layers["2.weight"])
    save_file({"0.weight": layers["0.weight"], "1.weight": layers["2.weight"]}, str(tmp_path / "plain.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert geodln.read_weights(tmp_path / "plain.safetensors").widths == (2, 3, 4)
    save_file({"0.weight": layers["0.weight"], "2.weight": layers["4.weight"]}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match=r"modules \[1\] between them .* change the width"):
        geodln.read_weights(tmp_path / "bad.safetensors")
