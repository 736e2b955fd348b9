"""The deployed settings with the ceiling probes' URLs (``tests/bench/ceiling.py``) as root."""

from hermod_core.settings import *  # noqa: F403

ROOT_URLCONF = "tests.bench.ceiling"
