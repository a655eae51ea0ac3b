"""Reading, validating and splitting labelled text: ``io``, ``columns``, ``validate``, ``split``.

Submodules are imported where needed, so ``import slm_core.data`` stays cheap.
"""
