"""Shared fixtures: small mock catalogs, generated once per test session."""

from __future__ import annotations

import json

import pytest

#: the mock's injected Galaxy in the tests (off the fiducial on purpose)
MOCK_TRUTH = {"mdisk_f": 1.1, "hz": 0.30, "zsun": 18.0, "vzsun": 8.2}


def _make_mock(tmp_path_factory, name: str, n_stars: int, seed: int, errors: bool = True):
    from oti.mock import generate_mock

    d = tmp_path_factory.mktemp(name)
    paths = {
        "allstar": d / "allStarLite-mock.fits",
        "gaia": d / "gaiadr3-xmatch-mock.fits",
        "truth": d / "truth.json",
    }
    summary = generate_mock(paths["allstar"], paths["gaia"], paths["truth"],
                            n_stars=n_stars, seed=seed, truth=MOCK_TRUTH, errors=errors)
    return {**paths, "summary": summary, "truth_doc": json.loads(paths["truth"].read_text()),
            "truth_params": dict(MOCK_TRUTH)}


@pytest.fixture(scope="session")
def mock_truth():
    """The injected truth parameters of the test mocks."""
    return dict(MOCK_TRUTH)


@pytest.fixture(scope="session")
def small_mock(tmp_path_factory):
    """~2,000-star mock with errors (seconds to make)."""
    return _make_mock(tmp_path_factory, "mock_small", 2000, seed=123)


@pytest.fixture(scope="session")
def exact_mock(tmp_path_factory):
    """Small mock without astrometric/RV errors: observed = true phase space."""
    return _make_mock(tmp_path_factory, "mock_exact", 600, seed=7, errors=False)


@pytest.fixture(scope="session")
def big_mock(tmp_path_factory):
    """40,000-star mock for the sensitivity test (~15-25 s to make)."""
    return _make_mock(tmp_path_factory, "mock_big", 40000, seed=2021)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The real workflow on tests/data/tiny.yaml, every target, run once per session.

    Shared by the workflow, figure and validation tests (each of which leaves
    the run complete again if it removes an output).
    """
    from workflow_helpers import REPO, make_workdir, snakemake

    wd = make_workdir(tmp_path_factory.mktemp("tiny_run"), REPO / "tests" / "data" / "tiny.yaml")
    snakemake(wd, "--cores", "2", "--configfile", "tiny.yaml")
    return wd
