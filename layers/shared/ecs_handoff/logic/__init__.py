"""One logic module per function: what each step decides, with AWS access injected."""
