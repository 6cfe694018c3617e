"""jSymbolic-style melody features over windows of 90-class indices, one function per feature.

Pure NumPy; imports only the top-level leaves.
"""
