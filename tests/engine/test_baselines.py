"""Baselines on tiny matrices, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.evaluation.baselines import Ease, ItemKnn, MostPopular, RandomScores
from engine.evaluation.scorers import FactorScorer

X = sp.csr_matrix(
    np.array(
        [
            [3, 1, 0, 0, 0],
            [1, 0, 2, 0, 0],
            [0, 5, 1, 1, 0],
            [0, 0, 0, 4, 1],
            [2, 1, 0, 0, 0],
        ],
        dtype=float,
    )
)


def test_ease_matches_the_closed_form() -> None:
    lam = 0.5
    Xb = (X.toarray() > 0).astype(float)
    P = np.linalg.inv(Xb.T @ Xb + lam * np.eye(5))
    B = np.eye(5) - P @ np.diag(1.0 / np.diag(P))
    model = Ease(lam=lam).fit(X)
    assert np.allclose(model.B, B)
    assert np.allclose(np.diag(model.B), 0.0)
    users = np.array([0, 2])
    assert np.allclose(model.scores(users), Xb[users] @ B)


def test_ease_restricted_to_the_most_listened_items() -> None:
    model = Ease(lam=0.5, max_items=3).fit(X)
    # Listeners per item: [3, 3, 2, 2, 1] -> items 0, 1 and (ties by index) 2.
    assert model.items.tolist() == [0, 1, 2]
    scores = model.scores(np.array([1]))
    assert np.isneginf(scores[0, 3:]).all()
    sub = Ease(lam=0.5).fit(sp.csr_matrix(X[:, [0, 1, 2]]))
    assert np.allclose(scores[0, :3], sub.scores(np.array([1]))[0])


def test_item_knn_cosine_with_top_neighbours() -> None:
    Xb = (X.toarray() > 0).astype(float)
    norms = np.linalg.norm(Xb, axis=0)
    cos = (Xb.T @ Xb) / np.outer(norms, norms)
    np.fill_diagonal(cos, 0.0)
    full = ItemKnn(neighbours=10).fit(X)
    assert np.allclose(full.S.toarray(), cos)
    assert np.allclose(full.scores(np.array([0, 3])), Xb[[0, 3]] @ cos.T)
    one = ItemKnn(neighbours=1).fit(X)
    S = one.S.toarray()
    assert (np.count_nonzero(S, axis=1) <= 1).all()
    assert np.allclose(S.max(axis=1), cos.max(axis=1))


def test_most_popular_by_listeners_or_plays() -> None:
    assert MostPopular().fit(X).scores(np.array([0]))[0].tolist() == [3, 3, 2, 2, 1]
    assert MostPopular(by="plays").fit(X).scores(np.array([0, 1]))[1].tolist() == [6, 7, 3, 5, 1]
    with pytest.raises(ValueError, match="listeners or plays"):
        MostPopular(by="stars")


def test_random_scores_do_not_depend_on_batching() -> None:
    model = RandomScores(seed=3).fit(X)
    together = model.scores(np.array([1, 4]))
    assert np.array_equal(together[1], model.scores(np.array([4]))[0])
    assert not np.array_equal(together[0], together[1])


def test_factor_scorer() -> None:
    U, Y = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 1.0], [3.0, -1.0]])
    assert FactorScorer(U, Y).scores(np.array([1])).tolist() == [[2.0, -2.0]]
