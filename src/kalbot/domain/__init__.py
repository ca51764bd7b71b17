"""Frozen values and pure maths. Standard library only."""
