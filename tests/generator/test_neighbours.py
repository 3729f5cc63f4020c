from __future__ import annotations

import math

import numpy as np
import pytest

from generator.neighbours import nearest_neighbour_distances


def _brute_force_nearest(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    result = np.empty(len(queries))
    for index, query in enumerate(queries):
        result[index] = min(
            math.sqrt(float(np.sum((query - row) ** 2))) for row in reference
        )
    return result


@pytest.mark.parametrize("chunk_size", [1, 7, 512])
def test_nearest_neighbour_distances_match_brute_force(chunk_size: int) -> None:
    rng = np.random.default_rng(5)
    reference = rng.random((60, 12))
    queries = np.vstack([rng.random((25, 12)), reference[:5]])
    distances = nearest_neighbour_distances(queries, reference, chunk_size=chunk_size)
    np.testing.assert_allclose(
        distances, _brute_force_nearest(queries, reference), rtol=1e-12
    )
    assert np.all(distances[-5:] == 0.0)


def test_nearest_neighbour_with_fewer_references_than_candidates() -> None:
    distances = nearest_neighbour_distances([[3.0, 4.0], [1.0, 0.0]], [[0.0, 0.0]])
    np.testing.assert_array_equal(distances, [5.0, 1.0])


def test_nearest_neighbour_refuses_mismatched_features() -> None:
    with pytest.raises(ValueError, match="features"):
        nearest_neighbour_distances(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="empty"):
        nearest_neighbour_distances(np.zeros((2, 3)), np.zeros((0, 3)))
