"""A stand-in for Mercado Pago and Efí over real HTTP, for tests, `pixwave up` and load
runs: `pixwave gateway-sim`. In-memory, one process."""

from app.gateways.simulator.app import create_simulator_app
from app.gateways.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_simulator_app"]
