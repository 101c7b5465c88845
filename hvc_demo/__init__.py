"""``make demo`` (``python -m hvc_demo``), and the placement-only
scheduler stand-in it and the capacity benchmark use.
"""
