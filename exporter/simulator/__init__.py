"""A generative simulator of the OpenAI and Anthropic Admin APIs, for end-to-end tests.

:class:`OrgModel` is a seeded, deterministic organisation whose usage and spend up to any moment
are exactly computable; :func:`create_app` serves it in the providers' documented shapes.
``python -m exporter.simulator --listen 127.0.0.1:8787 --seed 1`` runs it standalone.
"""

from exporter.simulator.model import OrgModel
from exporter.simulator.server import STATE, SimulatorState, create_app

__all__ = ["STATE", "OrgModel", "SimulatorState", "create_app"]
