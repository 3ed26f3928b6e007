"""Loss functions for visible-infrared re-identification.

Planned: CMR, TGSA, CSA, MDR, distribution consistency, intra-modality, and the ID/triplet family,
each a small nn.Module over a pure function in vireid.losses.functional.
"""

__all__: list[str] = []
