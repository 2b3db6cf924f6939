"""The fit loop for any nn.Module, its optimizers, resume state and DDP helpers."""
