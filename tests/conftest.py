import os

# Keras imports without TensorFlow on the NumPy backend (parity tests).
os.environ.setdefault("KERAS_BACKEND", "numpy")
os.environ.setdefault("MPLBACKEND", "Agg")
