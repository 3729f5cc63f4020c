"""The product's settings, plus the benchmarks' floor view (see bench/urls.py)."""

from webapp.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
