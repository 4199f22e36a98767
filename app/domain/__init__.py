"""Domain rules that every part of the control plane shares."""
