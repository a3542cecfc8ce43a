"""The slot marketplace: slots in upcoming issues, bookings, creatives, approval, placement."""
