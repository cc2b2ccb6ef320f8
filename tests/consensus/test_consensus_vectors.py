"""Every public vector, every epoch, every output field at atol 1e-9."""
import numpy as np
import pytest

from consensus_vectors import replay, vector_paths

ATOL = 1e-9


@pytest.fixture(scope="module", params=vector_paths(), ids=lambda p: p.stem)
def rep(request):
    return replay(request.param)


def test_vectors_present():
    assert len(vector_paths()) >= 6, "tests/consensus/vectors/*.json missing (copy from shared/yuma/vectors)"


def test_every_field_matches(rep):
    for epoch, (res, exp) in enumerate(zip(rep.results, rep.expected, strict=True)):
        for field, want in exp.items():
            if want is None:
                continue
            got = rep.view(res, field)
            want = np.asarray(want)
            assert got.shape == want.shape, (rep.name, epoch, field)
            if want.dtype == bool:
                assert np.array_equal(got, want), (rep.name, epoch, field)
            else:
                np.testing.assert_allclose(got, want, rtol=0, atol=ATOL, err_msg=f"{rep.name} epoch {epoch} {field}")


def test_bipartite_embedding_leaves_other_side_zero():
    bipartite = [r for r in map(replay, vector_paths()) if r.layout == "bipartite"]
    assert bipartite
    for rep in bipartite:
        _check_other_side_zero(rep)


def _check_other_side_zero(rep):
    v = rep.n_validators
    for res in rep.results:
        assert not res.consensus[:v].any() and not res.incentive[:v].any()
        assert not res.dividends[v:].any() and not res.bonds[v:].any()
