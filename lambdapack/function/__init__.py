"""The function package: the handler template, the model and its manifest in one zip."""
