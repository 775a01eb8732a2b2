"""buyerguard: a buyer-protection and buyer-experience engine for B2B marketplaces."""

__version__ = "0.1.0"
