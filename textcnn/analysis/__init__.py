"""What a trained model says: explanations, plots and result statistics."""
