"""The spec API's validation rules, on both sides of the wire."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnets.spec import (DEFAULT_HYPERPARAMETERS, MissingTensor, NonFinite, OutOfBounds, SpecError,
                          SubnetSpec, TensorSpec, UnexpectedTensor, WrongDtype, WrongShape, check_tensors)
from subnets.template import Template

IDS = TensorSpec(("batch", "len"), "int64", low=0, high=99)


def check(specs, tensors, max_dims=None):
    return check_tensors(specs, tensors, {}, max_dims or {})


@given(batch=st.integers(1, 8), length=st.integers(1, 8), seed=st.integers(0, 2**31))
def test_valid_ids_pass_and_bind_dims(batch, length, seed):
    ids = torch.randint(0, 100, (batch, length), generator=torch.Generator().manual_seed(seed))
    assert check({"ids": IDS}, {"ids": ids}) == {"batch": batch, "len": length}


@pytest.mark.parametrize("bad, error", [
    (torch.zeros(2, 3, dtype=torch.float32), WrongDtype),       # token ids as floats
    (torch.zeros(2, 3, dtype=torch.int32), WrongDtype),
    (torch.zeros(2, 3, 1, dtype=torch.int64), WrongShape),      # wrong rank
    (torch.full((2, 3), 100, dtype=torch.int64), OutOfBounds),  # id past the vocabulary
    (torch.full((2, 3), -1, dtype=torch.int64), OutOfBounds),
    (torch.zeros(0, 3, dtype=torch.int64), WrongShape),         # empty batch
    ([[1, 2, 3]], WrongDtype),                                   # not a tensor at all
])
def test_bad_tensor_is_rejected_with_a_typed_error(bad, error):
    with pytest.raises(error) as e:
        check({"ids": IDS}, {"ids": bad})
    assert isinstance(e.value, SpecError) and e.value.key == "ids"


def test_missing_and_unexpected_keys():
    ok = torch.zeros(2, 3, dtype=torch.int64)
    with pytest.raises(MissingTensor):
        check({"ids": IDS}, {})
    with pytest.raises(UnexpectedTensor):
        check({"ids": IDS}, {"ids": ok, "extra": ok})
    with pytest.raises(SpecError):
        check({"ids": IDS}, [ok])


def test_symbolic_dims_must_agree_and_respect_max_dims():
    specs = {"a": IDS, "b": TensorSpec(("batch",), "int64")}
    with pytest.raises(WrongShape, match="batch"):
        check(specs, {"a": torch.zeros(2, 3, dtype=torch.int64), "b": torch.zeros(3, dtype=torch.int64)})
    with pytest.raises(WrongShape, match="allowed"):
        check({"a": IDS}, {"a": torch.zeros(300, 3, dtype=torch.int64)}, {"batch": 256})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_rejected(value):
    spec = TensorSpec(("batch", 2), "float32")
    t = torch.zeros(3, 2)
    t[1, 1] = value
    with pytest.raises(NonFinite):
        check({"y": spec}, {"y": t})


def test_unknown_dtype_is_a_declaration_error():
    with pytest.raises(ValueError, match="dtype"):
        TensorSpec(("batch",), "float128")


def test_round_trip_both_sides_with_the_template():
    spec = Template()
    ch = spec.challenge(seed=5, batch_size=4)
    assert spec.validate_request(ch.request) == {"batch": 4}           # miner side
    response = spec.miners()["exact"](0).forward(ch.request)
    assert spec.validate_response(response, ch.request) == {"batch": 4}  # validator side
    with pytest.raises(WrongShape, match="batch"):  # a response for another batch size
        spec.validate_response({"y": torch.zeros(3, 1)}, ch.request)
    with pytest.raises(NonFinite):
        spec.validate_response({"y": torch.full((4, 1), float("nan"))}, ch.request)
    with pytest.raises(OutOfBounds):  # requests are checked too: x must lie in [-1, 1]
        spec.validate_request({"x": ch.request["x"] * 3})


def test_hyperparameters_merge_with_chain_defaults():
    class Custom(SubnetSpec):
        hyperparameters = {"tempo": 7}

    assert Custom.hyperparameters == {**DEFAULT_HYPERPARAMETERS, "tempo": 7}
    assert Template.hyperparameters["max_weight_limit"] == DEFAULT_HYPERPARAMETERS["max_weight_limit"]


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 4), hot=st.integers(0, 3))
def test_template_combine_one_hot_is_the_single_miner(seed, k, hot):
    spec, hot = Template(), hot % k
    ch = spec.challenge(seed, 6)
    outs = [spec.miners()["noisy"](seed + i).forward(ch.request) for i in range(k)]
    weights = torch.nn.functional.one_hot(torch.full((6,), hot), k).float()
    assert torch.allclose(spec.combine(outs, weights), spec.combine([outs[hot]], torch.ones(6, 1)))
