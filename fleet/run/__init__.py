"""fleet.run"""
