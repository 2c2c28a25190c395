"""Work spread over many machines: Ray for batch analysis (torchrun training lives in learning).

Ray is an optional extra (``pip install 'c3d-labeller[cluster]'``); nothing here imports it
at module level, so the desktop install never needs it.
"""
