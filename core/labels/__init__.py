"""The rules of human labels: edits and their inverses, class edits, accepting predictions."""
