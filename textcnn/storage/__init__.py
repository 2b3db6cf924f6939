"""Run directories: safetensors weights, JSON config, vocabulary and labels."""
