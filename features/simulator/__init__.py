"""The simulated agency: brands, platforms, SKUs, demand and ads with their known truth (`daiyun sample`)."""

from daiyun.features.simulator.world import write_sample

__all__ = ["write_sample"]
