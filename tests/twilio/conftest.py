"""Measurements are collected by tests/conftest.py (the `measured` fixture)."""
