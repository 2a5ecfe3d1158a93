"""The risk service: Rule sets, evaluations, grades and lender product matching."""
