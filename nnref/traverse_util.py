"""``nnref.traverse_util``: nested-dict flattening as the seed's ``flax.traverse_util``."""

from shared_spec.dict_paths import empty_node, flatten_dict, unflatten_dict

__all__ = ["empty_node", "flatten_dict", "unflatten_dict"]
