"""Data for segengine: the nnU-Net-style dataset folder, synthetic phantoms and the transforms.

The package import is light: ``segengine.data.io`` and ``segengine.data.phantoms`` need no
torch; ``segengine.data.transforms`` imports MONAI when it is imported itself.
"""
