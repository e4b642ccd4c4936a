"""Spreadsheets in and out: the ledger export, the findings import and its template."""
