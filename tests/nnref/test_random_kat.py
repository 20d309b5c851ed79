"""nnref.random reproduces the seed system's PRNG known answers (case 'prng').

Keys, splits, folds and Bernoulli draws are bit results and must be equal;
normal and truncated-normal draws go through float32 erfinv/erf and are
compared with the 'prng_normal' row of the tolerance table.
"""

import numpy as np
import pytest

from nnref import random
from shared_spec import kat
from shared_spec.tolerances import assert_close


@pytest.fixture(scope="module")
def answers():
    return kat.load_case("prng").extras


@pytest.fixture(params=["raw", "typed"])
def key42(request):
    return random.PRNGKey(42) if request.param == "raw" else random.key(42)


def test_key_is_zero_then_seed(key42):
    assert_close(random.key_data(key42), np.array([0, 42], np.uint32), family="exact")


def test_split(answers, key42):
    keys = random.split(key42, 3)
    assert_close(random.key_data(keys), answers["split_PRNGKey42_3"], family="exact")


def test_fold_in(answers, key42):
    folded = random.fold_in(key42, 7)
    assert_close(random.key_data(folded), answers["fold_in_PRNGKey42_7"], family="exact")


def test_bernoulli(answers, key42):
    draws = random.bernoulli(key42, 0.3, (1000,))
    assert_close(draws, answers["bernoulli_PRNGKey42_p0.3_1000"], family="exact")


def test_normal(answers, key42):
    draws = random.normal(key42, (1000,))
    assert draws.dtype == np.float32
    assert_close(draws, answers["normal_PRNGKey42_1000"], family="prng_normal")


def test_truncated_normal(answers, key42):
    draws = random.truncated_normal(key42, -2, 2, (1000,))
    assert draws.dtype == np.float32
    assert_close(draws, answers["truncated_normal_PRNGKey42_1000"], family="prng_normal")
