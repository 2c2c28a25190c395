"""Video files: frame-exact decoding, timestamps, fingerprints, adding videos, the demo clip."""
