"""Staff rota system: a tiny stand-in for the app from the outage report."""
