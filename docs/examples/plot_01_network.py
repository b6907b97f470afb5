"""
A critical point as a network
=============================

placeholder
"""
import geodln
