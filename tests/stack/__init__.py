"""Tests of the monitoring stack: Prometheus rules, Alertmanager, Grafana dashboards, compose."""
