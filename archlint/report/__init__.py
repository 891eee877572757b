"""Reporters: each output format is one module."""
