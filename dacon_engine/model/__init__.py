"""DACoN models: DINOv2 backbone, U-Net, heads, segment pooling, featurizer, registry.

Public API::

    build_featurizer(spec="default", device="auto", dinov2_weights=None) -> DaconFeaturizer
    list_models() -> [{name, available, needs, description}]
    DaconNet(DaconConfig(...), backbone=None), save_checkpoint(net, path), load_net(path)
    load_dinov2(path=None, norm="imagenet") -> DinoBackbone
    plan_pooling(labels, n, cap=512) / pool_segments(feat, plan) / segment_pool(...)
"""

from .backbone import DinoBackbone, build_dinov2, build_vit
from .featurizer import DaconFeaturizer, line_to_rgb01, resolve_device
from .network import DaconConfig, DaconNet, config_from_state_dict
from .pooling import PoolPlan, plan_pooling, pool_segments, segment_pool
from .registry import build_featurizer, list_models, load_net, save_checkpoint
from .unet import UNet
from .weights import load_dinov2, read_state_dict

__all__ = [
    "DaconConfig", "DaconFeaturizer", "DaconNet", "DinoBackbone", "PoolPlan", "UNet",
    "build_dinov2", "build_featurizer", "build_vit", "config_from_state_dict", "line_to_rgb01",
    "list_models", "load_dinov2", "load_net", "plan_pooling", "pool_segments", "read_state_dict",
    "resolve_device", "save_checkpoint", "segment_pool",
]
