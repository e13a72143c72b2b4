"""The outside world the graph acts on: orders, MoltPe, exactly-once refunds, tickets."""
