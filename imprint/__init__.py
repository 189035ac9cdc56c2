"""Imprint: digital delivery for Shopify stores."""
