"""The ``hearth`` program: its configuration (:mod:`hearth.config`) and its command line
(:mod:`hearth.cli`). The runtime is :mod:`otp`; the tree it runs is :mod:`supervisors.root`."""
