"""llm-cost-exporter: LLM spend, usage, credits and quotas as Prometheus metrics."""

__version__ = "0.1.0"
