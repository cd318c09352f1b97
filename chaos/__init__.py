"""kafka-chaos: measure actual Kafka message loss on real clusters, and say which stage lost it."""

from chaos.errors import ChaosError, InfrastructureError, UsageError

__all__ = ["ChaosError", "InfrastructureError", "UsageError", "__version__"]
__version__ = "0.1.0"
