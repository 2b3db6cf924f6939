"""The scikit-learn estimators over text and images."""
