"""The pelsvae Panel app: state in ``state``, plots in ``plots``, layout in ``app``."""
