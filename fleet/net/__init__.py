"""fleet.net"""
