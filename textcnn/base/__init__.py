"""Bottom layer: errors, config dataclasses, reserved token ids, the version, atomic file writes and JSON."""
