__version__ = "2.3.0+rocm6.0"
cuda = None
hip = "6.0.32830-d62f6a171"
