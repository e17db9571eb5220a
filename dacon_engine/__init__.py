"""DACoN paint-bucket colorization engine (no Blender imports).

Data flows one way: line art -> segments -> features -> matching -> outputs.
"""

__version__ = "0.1.0"
