"""pytest at the repository root: what the doctest collection of src/ must skip."""

import importlib.util

# the Triton kernels import triton at module level (it comes with CUDA builds of torch)
collect_ignore = [] if importlib.util.find_spec("triton") else ["src/lrkit/optim/fused_triton.py"]
