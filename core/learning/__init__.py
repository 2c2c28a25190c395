"""Learning from corrections: fine-tuning, the feature cache, evaluation and the review queue."""
