"""Member co-ops and the accounts of the people who act for them."""
