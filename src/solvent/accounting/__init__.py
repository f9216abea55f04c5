"""The ledger: pure accounting rules, FIFO positions, cash and margin accounts.

Kept free of imports so that ``solvent.model`` can use ``solvent.accounting.rules``
without a cycle; import from the submodules or from ``solvent``.
"""
