"""A stand-in for Mercado Pago and Efí over real HTTP, for tests, `pixwave up` and load
runs: `pixwave gateway-sim`. In-memory, one process."""

from gatewaysim.app import create_simulator_app
from gatewaysim.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_simulator_app"]
