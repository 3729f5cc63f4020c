"""The bench settings with no middleware at all: the floor the performance issue
measured ("a bare DRF view", about 3,900 requests/s on its machine), beside which
its 1,500 requests/s poll target was set. The product never runs this way."""

from bench.settings import *  # noqa: F403

MIDDLEWARE = []
