"""The send pipeline: an issue's audience becomes Delivery rows, sent in batches."""
