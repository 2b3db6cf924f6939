"""textcnn: convolutional networks for sentence classification (Kim 2014)."""

__version__ = "0.1.0"
