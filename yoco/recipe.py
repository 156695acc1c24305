"""The reference's training recipe (reference-spec §4.2), in one torch-free place.

The trainer's ``TrainConfig``, the stages' ``TrainOptions`` (the ``yoco`` flags) and ``yoco.prune``
take their defaults from here, so the command line can show them without importing torch.
"""

EPOCHS = 1000
BATCH_SIZE = 64
LR = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
CUTMIX_P = 0.5
DIFFAUG = "color_crop_flip_scale_rotate"
