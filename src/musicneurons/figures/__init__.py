"""Figures: tables in, matplotlib Figures out. The only package besides ``study`` that imports matplotlib."""
