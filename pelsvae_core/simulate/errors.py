"""The one error of the simulation package: options or inputs that cannot make a simulation.

Kept in a module of its own, importing nothing, so that the command line can name it
without loading the model's dependencies.
"""


class SimulationError(ValueError):
    """An option, table or output folder that cannot be used; the message says which and why."""
