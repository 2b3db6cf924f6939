"""The HTTP service: a trained text model behind FastAPI, with micro-batching and a demo page (`textcnn serve`)."""
