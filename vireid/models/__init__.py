"""Model assemblies.

Planned: MCJA, IDKL, EMIF and AGW assemblies with their backbones, criteria and recipes.
"""

__all__: list[str] = []
