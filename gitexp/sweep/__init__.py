"""The sweep language: ``--set`` EXPRs and sweep files, resolved into a SweepSpec.

Import the modules themselves (``gitexp.sweep.spec``, ``.expr``, ``.files``): the package
imports none of them, so reading a sweep's spec does not load the sweep-file formats.
"""
