"""The devstore: a local Shopify that speaks the parts of Shopify's protocol Imprint uses.

It is a program of its own, beside Imprint: it imports nothing from `imprint`, keeps its state in
memory (optionally snapshotted to a JSON file) and shares no table with Imprint. See README.md.
"""
