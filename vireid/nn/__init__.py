"""Network layers for visible-infrared re-identification.

Planned: gradient reversal with modality confuser/discriminator heads, the IN-guided information
purifier, the modality distribution adapter, GeM pooling and the BN neck.
"""

__all__: list[str] = []
