"""Measurements of how well a model reconstructs and generates real light curves."""
