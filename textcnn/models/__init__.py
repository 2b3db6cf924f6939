"""Pure nn.Modules: the conv + pool core and the text and image models that configure it."""
