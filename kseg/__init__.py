"""kseg: find, segment, erase and translate burned-in Korean captions.

Scripts import the library API; the ``kseg`` command is a thin layer over it.
"""
__version__ = "0.1.0"
